// The model's own parameters, the form's checks (the spec's limits), the request body, and errors shown beside
// the field they name: the form's own, and the server's (its message starts with the field, "input.prompt: ...").

import { LIMITS, SIZES_26, modelInfo, modelsIn } from "./catalog.js";

const $ = (id) => document.getElementById(id);

// Request fields whose error slot is not simply "<parameter-name>-error".
const SLOTS = {
  "input.prompt": "prompt-error",
  "input.negative_prompt": "negative-prompt-error",
  "input.media": "references-error",
  "input.reference_urls": "references-error",
  "input.reference_video_urls": "references-error",
  model: "model-error",
  api_key: "api-key-error",
};

export class Form {
  constructor(references, region) {
    this.references = references;
    this.region = region;
    const select = $("model");
    for (const m of modelsIn(region)) select.append(new Option(m.name, m.name));
    for (const size of SIZES_26) $("size").append(new Option(size, size, size === "1920*1080", size === "1920*1080"));
  }

  model() {
    return $("model").value;
  }

  generation() {
    return modelInfo(this.model()).generation;
  }

  /** Show the current model's own parameters only, with its own limits. */
  applyModel() {
    const info = modelInfo(this.model());
    for (const field of document.querySelectorAll("[data-models]")) {
      const wanted = field.dataset.models;
      field.hidden = !(wanted === info.generation || wanted === info.name);
    }
    const max = LIMITS.prompt[info.generation];
    $("prompt").maxLength = max;
    $("prompt-max").textContent = String(max);
    $("prompt-count").textContent = String($("prompt").value.length);
    const hasFirstFrame = this.references.items.some((item) => item.role === "first_frame");
    $("ratio").disabled = hasFirstFrame;
    $("ratio-hint").hidden = !hasFirstFrame;
  }

  fixedDurations() {
    return this.region === "us-east-1" && this.generation() === "wan2.6" ? LIMITS.duration.usEast : null;
  }

  /** The form's checks, as [field, message] pairs. */
  problems() {
    const found = [];
    const prompt = $("prompt").value;
    if (!prompt.trim()) found.push(["input.prompt", "input.prompt: is required"]);
    const max = LIMITS.prompt[this.generation()];
    if (prompt.length > max) found.push(["input.prompt", `input.prompt: at most ${max} characters, got ${prompt.length}`]);
    if ($("negative-prompt").value.length > LIMITS.negativePrompt) {
      found.push(["input.negative_prompt", `input.negative_prompt: at most ${LIMITS.negativePrompt} characters`]);
    }
    const duration = Number($("duration").value);
    const { min, max: most } = LIMITS.duration;
    const fixed = this.fixedDurations();
    if (!Number.isInteger(duration) || duration < min || duration > most) {
      found.push(["parameters.duration", `parameters.duration: a whole number of seconds from ${min} to ${most}`]);
    } else if (fixed && !fixed.includes(duration)) {
      found.push(["parameters.duration", `parameters.duration: must be ${fixed.join(" or ")} in ${this.region}`]);
    }
    const seed = $("seed").value.trim();
    if (seed && !(/^\d+$/.test(seed) && Number(seed) <= LIMITS.seed.max)) {
      found.push(["parameters.seed", `parameters.seed: a whole number from 0 to ${LIMITS.seed.max}, or empty for random`]);
    }
    return found.concat(this.references.problems());
  }

  /** The create request the form describes (not-yet-uploaded files stand as placeholders). */
  body() {
    const info = modelInfo(this.model());
    const input = { prompt: $("prompt").value };
    const negative = $("negative-prompt").value;
    if (negative) input.negative_prompt = negative;
    const parameters = {};
    const items = this.references.items;
    const url = (item) => item.url || `<${item.file.name}: not uploaded yet>`;
    if (info.generation === "wan2.7") {
      input.media = items.map((item) => {
        const type = item.role === "first_frame" ? "first_frame" : `reference_${item.kind}`;
        const entry = { type, url: url(item) };
        if (item.voice && this.references.takesVoice(item)) {
          entry.reference_voice = item.voiceUrl || `<${item.voice.name}: not uploaded yet>`;
        }
        return entry;
      });
      parameters.resolution = $("resolution").value;
      if (!items.some((item) => item.role === "first_frame")) parameters.ratio = $("ratio").value;
    } else {
      input.reference_urls = items.map(url);
      parameters.size = $("size").value;
    }
    parameters.duration = Number($("duration").value);
    if (info.generation === "wan2.6") parameters.shot_type = $("shot-type").value;
    if (info.canMute) parameters.audio = $("audio").checked;
    if (info.generation === "wan2.7") parameters.prompt_extend = $("prompt-extend").checked;
    parameters.watermark = $("watermark").checked;
    const seed = $("seed").value.trim();
    if (seed) parameters.seed = Number(seed);
    return { model: info.name, input, parameters };
  }

  clearErrors() {
    for (const slot of document.querySelectorAll("#create-form .error")) slot.textContent = "";
    for (const control of document.querySelectorAll("#create-form [aria-invalid]")) control.removeAttribute("aria-invalid");
  }

  /** Put `message` beside the field it names (or beside Generate when it names none the form has). */
  showError(field, message) {
    const slot = this.slotFor(field || "");
    const details = slot.closest("details");
    if (details) details.open = true;
    slot.textContent = slot.textContent ? `${slot.textContent}\n${message}` : message;
    const control = slot.id ? document.querySelector(`[aria-describedby~="${slot.id}"]`) : null;
    if (control) control.setAttribute("aria-invalid", "true");
    else if (slot.closest("li")) slot.closest("li").querySelector("select").setAttribute("aria-invalid", "true");
    return slot;
  }

  /** An error envelope from the server, beside its field. */
  showServerError(error) {
    let field = error.field;
    if (!field && error.code === "InvalidApiKey") field = "api_key";
    if (!field && /model/i.test(error.message) && error.code === "InvalidParameter") field = "model";
    const text = error.code && !field ? `${error.code}: ${error.message}` : error.message;
    return this.showError(field, text);
  }

  slotFor(field) {
    const item = /^input\.(?:media|reference_urls|reference_video_urls)\[(\d+)\]/.exec(field || "");
    if (item) {
      const slot = this.references.slot(Number(item[1]));
      if (slot) return slot;
    }
    const id = SLOTS[field] || (field.startsWith("parameters.") ? `${field.slice(11).replace(/_/g, "-")}-error` : "");
    const slot = id && $(id);
    return slot && !slot.closest("[hidden]") ? slot : $("generate-error");
  }
}
