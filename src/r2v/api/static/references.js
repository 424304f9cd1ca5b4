// The references: picked or dropped files, each with a role and an optional voice, uploaded through the
// getPolicy + form flow, shown as thumbnails, and named as the prompt names them (图1, 视频1 or character1).

import { LIMITS, fileKind } from "./catalog.js";

const ROLE_LABELS = { reference: "reference", first_frame: "first frame", grid: "storyboard grid" };
let nextId = 1;

export class References {
  /** `api` uploads, `model()` names the current model, `onChange()` runs after every change,
   * `hasKey()` tells whether uploads can start, `onPick(name)` when a reference's name is clicked. */
  constructor({ api, hasKey, model, generation, onChange, onPick }) {
    this.api = api;
    this.hasKey = hasKey;
    this.model = model;
    this.generation = generation;
    this.onChange = onChange;
    this.onPick = onPick;
    this.items = [];
    this.list = document.getElementById("reference-list");
    this.error = document.getElementById("references-error");
  }

  add(files) {
    const refused = [];
    for (const file of files) {
      const kind = fileKind(file);
      if (kind !== "image" && kind !== "video") {
        refused.push(`${file.name}: not an image (JPEG, PNG, BMP, WEBP) or video (MP4, MOV)`);
        continue;
      }
      const item = { id: nextId++, file, kind, role: "reference", voice: null, url: null, voiceUrl: null,
        upload: null, voiceUpload: null, problem: "", voiceProblem: "", state: "" };
      item.thumb = URL.createObjectURL(file);
      this.items.push(item);
      this.list.append(this.card(item));
      this.inspect(item);
    }
    this.error.textContent = refused.join("\n");
    this.refresh();
    this.uploadAll().catch(() => {}); // shown on each card; Generate tries again
  }

  remove(item) {
    this.items = this.items.filter((other) => other !== item);
    item.li.remove();
    URL.revokeObjectURL(item.thumb);
    this.refresh();
  }

  /** Each reference's name in the prompt, by the current model's rules (null: the prompt cannot name it). */
  names() {
    const gen = this.generation();
    let images = 0, videos = 0, characters = 0;
    return this.items.map((item) => {
      if (gen === "wan2.6") return item.role === "first_frame" ? null : `character${++characters}`;
      if (item.role === "first_frame") return null;
      return item.kind === "video" ? `视频${++videos}` : `图${++images}`;
    });
  }

  /** The form's own checks of the references, as [field, message] pairs (none: fine). */
  problems() {
    const gen = this.generation();
    const found = [];
    const refs = this.items.filter((item) => item.role !== "first_frame");
    const firstFrames = this.items.length - refs.length;
    const field = gen === "wan2.6" ? "input.reference_urls" : "input.media";
    if (refs.length < LIMITS.references.min) found.push([field, `${field}: at least 1 reference image or video is required`]);
    if (refs.length > LIMITS.references.max) found.push([field, `${field}: at most 5 references, got ${refs.length}`]);
    if (gen === "wan2.7" && firstFrames > LIMITS.references.firstFrames) {
      found.push([field, `${field}: at most 1 first frame, got ${firstFrames}`]);
    }
    const videos = refs.filter((item) => item.kind === "video").length;
    if (gen === "wan2.6" && videos > LIMITS.references.videos26) {
      found.push([field, `${field}: at most ${LIMITS.references.videos26} videos for wan2.6 models, got ${videos}`]);
    }
    if (this.items.some((item) => item.role === "grid") && refs.length > 1) {
      found.push([field, `${field}: a storyboard grid must be the only reference`]);
    }
    this.items.forEach((item, i) => {
      const at = gen === "wan2.6" ? `input.reference_urls[${i}]` : `input.media[${i}].url`;
      if (item.problem) found.push([at, `${at}: ${item.problem}`]);
      if (item.voiceProblem && this.takesVoice(item)) {
        found.push([`input.media[${i}].reference_voice`, `input.media[${i}].reference_voice: ${item.voiceProblem}`]);
      }
      if (gen === "wan2.6" && item.role === "first_frame") {
        found.push([at, `${at}: wan2.6 models take no first frame`]);
      }
    });
    return found;
  }

  takesVoice(item) {
    return this.generation() === "wan2.7" && item.role !== "first_frame";
  }

  /** The error slot of the reference at `index` (in request order), for an error naming it. */
  slot(index) {
    const item = this.items[index];
    return item ? item.li.querySelector(".error") : null;
  }

  /** After a change of API key: an oss:// upload serves only the key that made it, so every file goes again. */
  forgetUploads() {
    for (const item of this.items) {
      Object.assign(item, { url: null, upload: null, voiceUrl: null, voiceUpload: null });
      this.state(item, "");
    }
    this.onChange();
  }

  /** Upload whatever is not uploaded yet (needs the API key); resolves when every file has its oss:// URL. */
  uploadAll() {
    if (!this.hasKey()) {
      for (const item of this.items) if (!item.url) this.state(item, "waiting for the API key");
      return Promise.reject(new Error("API key: needed to upload references"));
    }
    return Promise.all(this.items.map((item) => this.upload(item)));
  }

  upload(item) {
    if (!item.upload) {
      item.upload = this.api.upload(this.model(), item.file).then(
        (url) => { item.url = url; this.state(item, "uploaded"); this.onChange(); },
        (error) => { item.upload = null; this.state(item, `upload failed: ${error.message}`, true); throw error; },
      );
      this.state(item, "uploading…");
    }
    const voice = item.voice && this.takesVoice(item) ? this.uploadVoice(item) : Promise.resolve();
    return Promise.all([item.upload, voice]);
  }

  uploadVoice(item) {
    if (!item.voiceUpload) {
      item.voiceUpload = this.api.upload(this.model(), item.voice).then(
        (url) => { item.voiceUrl = url; this.onChange(); },
        (error) => { item.voiceUpload = null; this.state(item, `voice upload failed: ${error.message}`, true); throw error; },
      );
    }
    return item.voiceUpload;
  }

  state(item, text, failed = false) {
    item.state = text;
    const el = item.li.querySelector(".ref-state");
    el.textContent = text;
    el.classList.toggle("failed", failed);
  }

  /** Re-label every card (names and roles follow the model and the order) and tell the page. */
  refresh() {
    const names = this.names();
    const gen = this.generation();
    this.items.forEach((item, i) => {
      const token = item.li.querySelector(".ref-token");
      token.textContent = names[i] || ROLE_LABELS[item.role];
      const pick = item.li.querySelector(".ref-pick");
      pick.disabled = !names[i];
      pick.setAttribute("aria-label", names[i] ? `Insert ${names[i]} into the prompt` : `${item.file.name} (${ROLE_LABELS[item.role]})`);
      const roles = item.li.querySelector("select");
      for (const option of roles.options) {
        option.disabled = (option.value === "first_frame" && (gen === "wan2.6" || item.kind !== "image")) ||
          (option.value === "grid" && item.kind !== "image");
      }
      item.li.querySelector(".ref-voice").hidden = !this.takesVoice(item);
      item.li.querySelector(".error").textContent = item.problem || (this.takesVoice(item) ? item.voiceProblem : "");
    });
    this.onChange();
  }

  card(item) {
    const li = el("li", "ref");
    item.li = li;
    const pick = el("button", "ref-pick");
    pick.type = "button";
    const thumb = item.kind === "video" ? el("video", "thumb") : el("img", "thumb");
    if (item.kind === "video") {
      thumb.muted = true;
      thumb.preload = "metadata";
      thumb.src = `${item.thumb}#t=0.1`; // a frame, not the black one before the first
    } else {
      thumb.alt = "";
      thumb.src = item.thumb;
    }
    pick.append(thumb, el("span", "ref-token"));
    pick.addEventListener("click", () => {
      const name = this.names()[this.items.indexOf(item)];
      if (name) this.onPick(name);
    });

    const info = el("div", "ref-info");
    const title = el("span", "ref-file");
    title.textContent = item.file.name;
    const role = el("select");
    role.setAttribute("aria-label", `Role of ${item.file.name}`);
    for (const [value, text] of Object.entries(ROLE_LABELS)) role.append(new Option(text, value));
    role.addEventListener("change", () => {
      item.role = role.value;
      this.refresh();
      this.uploadAll().catch(() => {});
    });

    const voice = el("label", "ref-voice");
    voice.append(document.createTextNode("Voice "));
    const voiceInput = el("input");
    voiceInput.type = "file";
    voiceInput.accept = "audio/wav,audio/x-wav,audio/mpeg,.wav,.mp3";
    voiceInput.setAttribute("aria-label", `Voice for ${item.file.name}`);
    voiceInput.addEventListener("change", () => this.setVoice(item, voiceInput.files[0] || null));
    voice.append(voiceInput);

    const remove = el("button", "quiet");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${item.file.name}`);
    remove.addEventListener("click", () => this.remove(item));

    const state = el("span", "ref-state");
    state.setAttribute("aria-live", "polite");
    const error = el("p", "error");
    error.setAttribute("role", "alert");
    info.append(title, role, voice, state, remove);
    li.append(pick, info, error);
    return li;
  }

  setVoice(item, file) {
    item.voice = file;
    item.voiceUrl = null;
    item.voiceUpload = null;
    item.voiceProblem = "";
    if (file) {
      if (fileKind(file) !== "audio") {
        item.voiceProblem = `${file.name}: a voice must be a WAV or MP3 file`;
      } else {
        checkSize(file, LIMITS.audio.maxMB, (p) => { item.voiceProblem = p; });
        mediaMeta(file, "audio").then((meta) => {
          if (meta && (meta.seconds < LIMITS.audio.minSeconds || meta.seconds > LIMITS.audio.maxSeconds)) {
            item.voiceProblem = `voice ${file.name} lasts ${meta.seconds.toFixed(1)} s; it must last 1 to 10 s`;
            this.refresh();
          }
        });
      }
    }
    this.refresh();
    if (!item.voiceProblem) this.uploadAll().catch(() => {});
  }

  /** Check the file against the media limits the browser can read (sizes, durations); the server checks again. */
  inspect(item) {
    const rule = LIMITS[item.kind];
    checkSize(item.file, rule.maxMB, (p) => { item.problem = p; });
    mediaMeta(item.file, item.kind).then((meta) => {
      if (!meta) return; // the browser cannot decode it (e.g. some MOV codecs): the server will tell
      const { width, height } = meta;
      const side = Math.min(width, height), long = Math.max(width, height);
      if (side < rule.minSide) item.problem = `${item.kind} ${width}x${height} px: each side must be at least ${rule.minSide} px`;
      else if (long > rule.maxSide) item.problem = `${item.kind} ${width}x${height} px: each side must be at most ${rule.maxSide} px`;
      else if (long / side > rule.maxAspect) item.problem = `${item.kind} ${width}x${height} px: the aspect must be within 1:8 to 8:1`;
      else if (item.kind === "video" && (meta.seconds < rule.minSeconds || meta.seconds > rule.maxSeconds)) {
        item.problem = `video lasts ${meta.seconds.toFixed(1)} s; it must last 1 to 30 s`;
      }
      if (item.problem) this.refresh();
    });
  }
}

function checkSize(file, maxMB, report) {
  if (file.size > maxMB * 1024 * 1024) report(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB; at most ${maxMB} MB`);
}

/** {width, height, seconds} of an image, video or audio file as the browser decodes it, or null. */
function mediaMeta(file, kind) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const done = (value) => { URL.revokeObjectURL(url); resolve(value); };
    if (kind === "image") {
      const img = new Image();
      img.onload = () => done({ width: img.naturalWidth, height: img.naturalHeight, seconds: 0 });
      img.onerror = () => done(null);
      img.src = url;
      return;
    }
    const media = document.createElement(kind === "video" ? "video" : "audio");
    media.preload = "metadata";
    media.onloadedmetadata = () => done({ width: media.videoWidth || 0, height: media.videoHeight || 0, seconds: media.duration });
    media.onerror = () => done(null);
    media.src = url;
  });
}

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}
