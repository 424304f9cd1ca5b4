// The playground page: the pieces wired together. Everything goes through the public API with the user's key,
// which stays in this browser (localStorage) and is sent only to this server.

import { Api } from "./api.js";
import { Form } from "./form.js";
import { TaskHistory } from "./history.js";
import { References } from "./references.js";
import { curl, python } from "./snippets.js";
import { TaskView } from "./task.js";

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "r2v.apiKey";

async function region() {
  try {
    const health = await (await fetch("/healthz")).json();
    return health.region || null;
  } catch {
    return null; // every model is offered; the server refuses one its region lacks
  }
}

async function start() {
  const keyInput = $("api-key");
  keyInput.value = localStorage.getItem(KEY_STORAGE) || "";
  const api = new Api(() => keyInput.value.trim());
  let form = null;
  const refs = new References({
    api,
    hasKey: () => Boolean(keyInput.value.trim()),
    model: () => form.model(),
    generation: () => form.generation(),
    onChange: () => form && changed(),
    onPick: insertIntoPrompt,
  });
  form = new Form(refs, await region());
  const task = new TaskView(api, {
    onEnd: () => historyView.load(),
    onFieldError: (field, message) => form.showError(field, message),
  });
  const historyView = new TaskHistory(api, (taskId) => openTask(taskId));

  function changed() {
    form.applyModel();
    const body = form.body();
    $("curl-code").textContent = curl(body, location.origin);
    $("python-code").textContent = python(body, location.origin);
  }

  function openTask(taskId) {
    history.replaceState(null, "", `#task=${encodeURIComponent(taskId)}`);
    task.show(taskId);
  }

  // The prompt remembers where its caret was, so that a click on a reference inserts the name there.
  const prompt = $("prompt");
  let caret = null;
  const remember = () => { caret = [prompt.selectionStart, prompt.selectionEnd]; };
  for (const event of ["keyup", "click", "select", "input", "blur"]) prompt.addEventListener(event, remember);
  function insertIntoPrompt(name) {
    const [start, end] = caret || [prompt.value.length, prompt.value.length];
    prompt.setRangeText(name, start, end, "end");
    prompt.focus();
    remember();
    prompt.dispatchEvent(new Event("input", { bubbles: true }));
  }

  keyInput.addEventListener("change", () => {
    const key = keyInput.value.trim();
    refs.forgetUploads();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    $("api-key-error").textContent = "";
    if (key) {
      historyView.load();
      refs.uploadAll().catch(() => {});
    }
  });
  $("forget-key").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    keyInput.value = "";
  });

  $("model").addEventListener("change", () => refs.refresh());
  $("create-form").addEventListener("input", (event) => {
    if (event.target === prompt) $("prompt-count").textContent = String(prompt.value.length);
    changed();
  });
  $("create-form").addEventListener("change", changed);

  const picker = $("references");
  picker.addEventListener("change", () => {
    refs.add([...picker.files]);
    picker.value = ""; // the same file may be added again
  });
  // Files dropped anywhere on the page are references (the browser would otherwise leave the page to show one).
  const zone = $("drop-zone");
  window.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  window.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) zone.classList.remove("over");
  });
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length) refs.add([...event.dataTransfer.files]);
  });

  $("create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    form.clearErrors();
    const problems = form.problems();
    if (!keyInput.value.trim()) problems.unshift(["api_key", "API key: required (r2v keys create --name me)"]);
    for (const [field, message] of problems) form.showError(field, message);
    if (problems.length) {
      const first = document.querySelector("#create-form [aria-invalid]");
      if (first) first.focus();
      return;
    }
    const button = $("generate");
    button.disabled = true;
    try {
      try {
        await refs.uploadAll();
      } catch (error) {
        if (error.code === "InvalidApiKey") form.showServerError(error); // beside the key, not the files
        else form.showError("input.media", `References: an upload failed (${error.message})`);
        return;
      }
      const body = form.body();
      changed();
      let answer;
      try {
        answer = await api.create(body, JSON.stringify(body.input).includes('"oss://'));
      } catch (error) {
        form.showServerError(error);
        return;
      }
      openTask(answer.output.task_id);
      historyView.load();
    } finally {
      button.disabled = false;
    }
  });

  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[role=tab]")) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        $(other.getAttribute("aria-controls")).hidden = !selected;
      }
    });
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copy($(button.dataset.copy), button));
  }

  changed();
  if (keyInput.value.trim()) historyView.load();
  const opened = /^#task=(.+)$/.exec(location.hash);
  if (opened) task.show(decodeURIComponent(opened[1]));
  document.body.dataset.ready = "true"; // the page is wired: tests (and people) may start
}

async function copy(pre, button) {
  const text = pre.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.dataset.done = "copied";
  } catch {
    // No clipboard outside a secure context (plain http to another host): select it for Ctrl+C instead.
    const range = document.createRange();
    range.selectNodeContents(pre);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.dataset.done = "selected";
  }
}

start();
