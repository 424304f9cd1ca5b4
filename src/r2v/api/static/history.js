// The caller's tasks of the last 24 hours (GET /api/v1/tasks, newest first); any of them can be opened again.

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 50;

export class TaskHistory {
  constructor(api, onOpen) {
    this.api = api;
    this.onOpen = onOpen;
    $("refresh-history").addEventListener("click", () => this.load());
  }

  async load() {
    $("history-error").textContent = "";
    let answer;
    try {
      answer = await this.api.list({ page_size: String(PAGE_SIZE) });
    } catch (error) {
      $("history-error").textContent = `${error.code}: ${error.message}`;
      return;
    }
    const list = $("history-list");
    list.replaceChildren();
    const rows = answer.data || [];
    $("history-empty").hidden = rows.length > 0;
    for (const row of rows) {
      const li = document.createElement("li");
      const open = document.createElement("button");
      open.type = "button";
      open.className = "history-row";
      open.dataset.taskId = row.task_id;
      const when = new Date(row.gmt_create).toLocaleString();
      for (const [cls, text] of [["h-status", row.status], ["h-model", row.model_name], ["h-when", when],
        ["h-id", row.task_id]]) {
        const span = document.createElement("span");
        span.className = cls;
        span.textContent = text;
        if (cls === "h-status") span.dataset.status = text;
        open.append(span);
      }
      open.setAttribute("aria-label", `Open task ${row.task_id} (${row.status})`);
      open.addEventListener("click", () => this.onOpen(row.task_id));
      li.append(open);
      list.append(li);
    }
  }
}
