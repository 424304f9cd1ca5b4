// The public API, as any app calls it: the key as a Bearer token, DashScope's headers, its error envelope.

export const CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis";

/** An answer in the error envelope ({code, message, request_id}), or a request that got no answer at all. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }

  /** The request field the message names ("input.prompt: is required" -> "input.prompt"), or "". */
  get field() {
    return fieldOf(this.message);
  }
}

const FIELD = /^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*):\s/;

export function fieldOf(message) {
  const match = FIELD.exec(message || "");
  return match ? match[1] : "";
}

export class Api {
  /** `key()` gives the API key at the moment of each call (the user may change it at any time). */
  constructor(key) {
    this.key = key;
  }

  async call(method, path, { body, headers = {} } = {}) {
    const init = { method, headers: { Authorization: `Bearer ${this.key()}`, ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return answer(await send(path, init));
  }

  create(body, ossUrls) {
    const headers = { "X-DashScope-Async": "enable" };
    if (ossUrls) headers["X-DashScope-OssResourceResolve"] = "enable";
    return this.call("POST", CREATE_PATH, { body, headers });
  }

  query(taskId) {
    return this.call("GET", `/api/v1/tasks/${encodeURIComponent(taskId)}`);
  }

  plan(taskId) {
    return this.call("GET", `/api/v1/tasks/${encodeURIComponent(taskId)}/plan`);
  }

  cancel(taskId) {
    return this.call("POST", `/api/v1/tasks/${encodeURIComponent(taskId)}/cancel`);
  }

  list(params) {
    return this.call("GET", `/api/v1/tasks?${new URLSearchParams(params)}`);
  }

  /** The getPolicy + form upload flow (one policy per file, as the SDK does): the file's oss:// URL. */
  async upload(model, file) {
    const policy = await this.call("GET", `/api/v1/uploads?${new URLSearchParams({ action: "getPolicy", model })}`);
    const p = policy.data;
    const key = `${p.upload_dir}/${safeName(file.name)}`;
    const form = new FormData();
    form.append("OSSAccessKeyId", p.oss_access_key_id);
    form.append("Signature", p.signature);
    form.append("policy", p.policy);
    form.append("key", key);
    form.append("x-oss-object-acl", p.x_oss_object_acl);
    form.append("x-oss-forbid-overwrite", p.x_oss_forbid_overwrite);
    form.append("success_action_status", "200");
    if (file.type) form.append("x-oss-content-type", file.type);
    form.append("file", file); // last, as OSS wants it
    const response = await send(p.upload_host, { method: "POST", body: form });
    if (!response.ok) await answer(response); // throws the envelope's error
    return `oss://${key}`;
  }
}

async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, "NetworkError", `the server could not be reached (${error.message})`);
  }
}

async function answer(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const code = (data && data.code) || `HTTP ${response.status}`;
    const message = (data && data.message) || response.statusText || "no message";
    throw new ApiError(response.status, code, message, data && data.request_id);
  }
  if (data === null) throw new ApiError(response.status, "BadResponse", "the server answered something other than JSON");
  return data;
}

/** One plain path segment the upload policy accepts: ASCII letters, digits, dot, dash and underscore. */
export function safeName(name) {
  const dot = name.lastIndexOf(".");
  const stem = (dot > 0 ? name.slice(0, dot) : name).replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 80) || "file";
  const ext = dot > 0 ? name.slice(dot + 1).replace(/[^A-Za-z0-9]+/g, "").slice(0, 8) : "";
  return ext ? `${stem}.${ext}` : stem;
}
