// The director's plan (GET /api/v1/tasks/{id}/plan) as a timeline: a ruler in seconds, the shots (framing, angle,
// camera, subjects, what they stage) and each dialogue line at its time, with a playhead that follows the video.
// Every word in it comes from the user or the server and is set as text, never as HTML.

const STEP = 0.1; // seconds per grid column
const PX_PER_SECOND = 110; // narrower screens scroll the timeline sideways instead of squeezing it

const WORDS = {
  framing: { wide: ["全景", "wide shot"], medium: ["中景", "medium shot"], close: ["近景", "close shot"],
    close_up: ["特写", "close-up"], extreme_close_up: ["大特写", "extreme close-up"] },
  angle: { eye: ["平视", "eye level"], high: ["俯拍", "high angle"], low: ["仰拍", "low angle"],
    overhead: ["鸟瞰", "overhead"], dutch: ["斜角", "dutch angle"] },
  camera: { static: ["固定镜头", "static camera"], push_in: ["镜头推进", "push in"], pull_out: ["镜头拉远", "pull out"],
    pan_left: ["镜头左摇", "pan left"], pan_right: ["镜头右摇", "pan right"], tilt_up: ["镜头上摇", "tilt up"],
    tilt_down: ["镜头下摇", "tilt down"], track: ["跟拍", "tracking shot"], orbit: ["环绕拍摄", "orbit"] },
};

function word(kind, value, zh) {
  const pair = WORDS[kind][value];
  return pair ? pair[zh ? 0 : 1] : String(value);
}

const seconds = (t) => `${Number(t).toFixed(1)} s`;

/** Draw `plan` into `box`; `video` is the result's player (seeked by a click, followed by the playhead). */
export function renderPlan(box, plan, video) {
  box.replaceChildren();
  if (!plan || !Array.isArray(plan.shots)) return;
  const zh = plan.language === "zh";
  const duration = Math.max(Number(plan.duration) || 0, STEP);
  const columns = Math.max(1, Math.round(duration / STEP));
  const column = (t) => Math.min(columns, Math.max(0, Math.round(Number(t) / STEP))) + 1;
  const span = (node, start, end) => {
    const a = column(start);
    node.style.gridColumn = `${a} / ${Math.max(a + 1, column(end))}`;
  };

  const scroller = el("div", "timeline");
  const inner = el("div", "timeline-inner");
  inner.style.minWidth = `${Math.ceil(duration * PX_PER_SECOND)}px`;
  const grid = `repeat(${columns}, minmax(0, 1fr))`;

  const ruler = el("div", "ruler");
  ruler.style.gridTemplateColumns = grid;
  ruler.setAttribute("aria-hidden", "true");
  for (let s = 0; s < duration; s += 1) {
    const tick = el("span", "tick", `${s}s`);
    span(tick, s, Math.min(s + 1, duration));
    ruler.append(tick);
  }

  const shots = el("ol", "track shots");
  shots.style.gridTemplateColumns = grid;
  shots.setAttribute("aria-label", "Shots");
  const lines = el("ol", "track lines");
  lines.style.gridTemplateColumns = grid;
  lines.setAttribute("aria-label", "Dialogue");
  const timed = [];

  for (const shot of plan.shots) {
    const li = el("li", "shot");
    span(li, shot.start, shot.end);
    li.append(el("span", "shot-head", `${zh ? "镜头" : "Shot "}${shot.index + 1} · ${seconds(shot.start)}–${seconds(shot.end)}`));
    const how = [word("framing", shot.framing, zh), word("angle", shot.angle, zh), word("camera", shot.camera, zh)];
    li.append(el("span", "shot-how", how.join(" · ")));
    const where = background(shot.background, zh);
    const who = (shot.subjects || []).join(", ");
    if (who || where) li.append(el("span", "shot-who", [who, where].filter(Boolean).join(" · ")));
    li.append(el("span", "shot-text", shot.text || ""));
    seekOnClick(li, video, shot.start);
    shots.append(li);
    timed.push([li, shot.start, shot.end]);

    for (const line of shot.lines || []) {
      const item = el("li", line.overrun ? "line overrun" : "line");
      span(item, line.start, line.end);
      const rate = line.rate && Math.abs(line.rate - 1) > 0.01 ? ` · ×${Number(line.rate).toFixed(2)}` : "";
      item.append(el("span", "line-when", `${line.speaker || "—"} · ${seconds(line.start)}${rate}`));
      item.append(el("span", "line-text", line.text));
      item.title = `${line.speaker || ""} ${seconds(line.start)}–${seconds(line.end)}: ${line.text}`;
      seekOnClick(item, video, line.start);
      lines.append(item);
      timed.push([item, line.start, line.end]);
    }
  }

  const playhead = el("div", "playhead");
  playhead.setAttribute("aria-hidden", "true");
  inner.append(ruler, shots, lines, playhead);
  scroller.append(inner);
  box.append(scroller);

  const follow = () => {
    const t = video.currentTime || 0;
    playhead.style.left = `${Math.min(100, (t / duration) * 100)}%`;
    for (const [node, start, end] of timed) node.classList.toggle("now", t >= start && t < end);
  };
  video.ontimeupdate = follow;
  follow();
}

function background(bg, zh) {
  if (!bg) return "";
  if (bg.kind === "reference") return zh ? `场景：${bg.label}` : `set in ${bg.label}`;
  if (bg.kind === "first_frame") return zh ? "从首帧开始" : "from the first frame";
  if (bg.kind === "panel") return zh ? `分镜第${bg.panel + 1}格` : `storyboard panel ${bg.panel + 1}`;
  return "";
}

function seekOnClick(node, video, start) {
  node.tabIndex = 0;
  const seek = () => {
    if (video.src) video.currentTime = Number(start) + 0.01;
  };
  node.addEventListener("click", seek);
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      seek();
    }
  });
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
