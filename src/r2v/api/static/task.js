// One task on screen: its status word and progress (polled), Cancel, the result (player, download, usage), the
// plan as a timeline, and the prompt it was given (and the actual prompt when prompt extend rewrote it).

import { fieldOf } from "./api.js";
import { renderPlan } from "./plan.js";

const $ = (id) => document.getElementById(id);
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]);
const POLL_MS = 700;

export class TaskView {
  /** `onEnd(output)` runs once when the task shown reaches a final state; `onFieldError(field, message)` shows a
   * failure that names a request field beside that field. */
  constructor(api, { onEnd, onFieldError }) {
    this.api = api;
    this.onEnd = onEnd;
    this.onFieldError = onFieldError;
    this.taskId = null;
    this.generation = 0; // bumped per task shown: a poll of a task no longer shown stops itself
    $("cancel").addEventListener("click", () => this.cancel());
  }

  /** Show `taskId` and follow it until it ends. */
  show(taskId) {
    this.taskId = taskId;
    this.generation += 1;
    this.planShown = false;
    this.resultShown = false;
    $("task-empty").hidden = true;
    $("task-body").hidden = false;
    $("task-id").textContent = taskId;
    $("task-status").textContent = "…";
    $("progress").value = 0;
    $("progress-text").textContent = "";
    $("cancel").hidden = true;
    $("cancel-error").textContent = "";
    $("task-failure").textContent = "";
    $("result").hidden = true;
    const video = $("video");
    video.removeAttribute("src");
    video.load();
    $("plan").replaceChildren();
    $("plan-empty").hidden = false;
    $("plan-notes").replaceChildren();
    $("orig-prompt").textContent = "";
    $("actual-prompt-box").hidden = true;
    this.poll(this.generation);
  }

  async poll(generation) {
    if (generation !== this.generation) return;
    let answer;
    try {
      answer = await this.api.query(this.taskId);
    } catch (error) {
      if (generation !== this.generation) return;
      $("task-failure").textContent = `${error.code}: ${error.message}`;
      setTimeout(() => this.poll(generation), POLL_MS * 3);
      return;
    }
    if (generation !== this.generation) return;
    const output = answer.output || {};
    const status = output.task_status || "UNKNOWN";
    this.update(output, answer.usage);
    if (status === "RUNNING" || status === "SUCCEEDED") await this.loadPlan(generation, status === "SUCCEEDED");
    if (TERMINAL.has(status)) {
      this.onEnd(output);
      return;
    }
    setTimeout(() => this.poll(generation), POLL_MS);
  }

  update(output, usage) {
    const status = output.task_status;
    $("task-status").textContent = status;
    $("task-status").dataset.status = status;
    const progress = status === "SUCCEEDED" ? 100 : Number(output.progress) || 0;
    $("progress").value = progress;
    $("progress-text").textContent = `${progress}%`;
    // The cloud cancels PENDING tasks only; r2v may also stop RUNNING ones (R2V_CANCEL_RUNNING): the server says.
    $("cancel").hidden = !(status === "PENDING" || status === "RUNNING");
    if (output.orig_prompt !== undefined) $("orig-prompt").textContent = output.orig_prompt;
    if (status === "FAILED") {
      $("task-failure").textContent = `${output.code || "FAILED"}: ${output.message || ""}`;
      const field = fieldOf(output.message);
      if (field) this.onFieldError(field, output.message);
    } else if (status === "UNKNOWN") {
      $("task-failure").textContent = "UNKNOWN: no such task for this API key (or it is older than 24 hours)";
    }
    if (status === "SUCCEEDED" && !this.resultShown) this.showResult(output, usage);
  }

  showResult(output, usage) {
    this.resultShown = true;
    $("result").hidden = false;
    if (output.video_url) {
      $("video").src = output.video_url;
      $("download").href = output.video_url;
      $("download").download = `${output.task_id}.mp4`;
    }
    const list = $("usage");
    list.replaceChildren();
    for (const [key, value] of Object.entries(usage || {})) {
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      const pair = document.createElement("div"); // a dl may group each term with its value in a div
      pair.append(dt, dd);
      list.append(pair);
    }
    if (output.actual_prompt) {
      $("actual-prompt").textContent = output.actual_prompt;
      $("actual-prompt-box").hidden = false;
    }
  }

  async loadPlan(generation, final) {
    if (this.planShown && !final) return;
    let answer;
    try {
      answer = await this.api.plan(this.taskId);
    } catch {
      return; // the plan is a view on the side: the status line says what matters
    }
    const plan = answer.output && answer.output.plan;
    if (generation !== this.generation || !plan) return;
    this.planShown = true;
    $("plan-empty").hidden = true;
    renderPlan($("plan"), plan, $("video"));
    const notes = $("plan-notes");
    notes.replaceChildren();
    for (const note of plan.notes || []) {
      const li = document.createElement("li");
      li.textContent = note;
      notes.append(li);
    }
  }

  async cancel() {
    $("cancel-error").textContent = "";
    try {
      await this.api.cancel(this.taskId);
    } catch (error) {
      $("cancel-error").textContent = `${error.code}: ${error.message}`;
    }
  }
}
