// The request the form describes, as curl and as Python code for the official dashscope SDK, to copy. The key is
// read from $DASHSCOPE_API_KEY rather than written in, so that a pasted snippet never carries it.

import { CREATE_PATH } from "./api.js";

const shellQuote = (text) => `'${text.replace(/'/g, "'\\''")}'`;

export function curl(body, origin) {
  const lines = [
    `curl -X POST ${shellQuote(origin + CREATE_PATH)} \\`,
    `  -H "Authorization: Bearer $DASHSCOPE_API_KEY" \\`,
    "  -H 'Content-Type: application/json' \\",
    "  -H 'X-DashScope-Async: enable' \\",
  ];
  if (usesOss(body)) lines.push("  -H 'X-DashScope-OssResourceResolve: enable' \\");
  lines.push(`  -d ${shellQuote(JSON.stringify(body, null, 2))}`);
  lines.push("", "# then poll the task it names:", `# curl -H "Authorization: Bearer $DASHSCOPE_API_KEY" ${shellQuote(`${origin}/api/v1/tasks/TASK_ID`)}`);
  return lines.join("\n");
}

/** VideoSynthesis.call(...) with the same input and parameters (the SDK adds the oss:// resolve header itself). */
export function python(body, origin) {
  const args = [["api_key", 'os.environ["DASHSCOPE_API_KEY"]'], ["model", py(body.model)]];
  const input = body.input;
  args.push(["prompt", py(input.prompt)]);
  if (input.negative_prompt) args.push(["negative_prompt", py(input.negative_prompt)]);
  if (input.media) args.push(["media", py(input.media, "    ")]);
  if (input.reference_urls) args.push(["reference_urls", py(input.reference_urls, "    ")]);
  for (const [name, value] of Object.entries(body.parameters)) args.push([name, py(value)]);
  return [
    "import os",
    "",
    "import dashscope",
    "from dashscope import VideoSynthesis",
    "",
    `dashscope.base_http_api_url = ${py(`${origin}/api/v1`)}`,
    "rsp = VideoSynthesis.call(",
    ...args.map(([name, value]) => `    ${name}=${value},`),
    ")",
    "print(rsp.output.task_status, rsp.output.video_url)",
  ].join("\n");
}

function usesOss(body) {
  return JSON.stringify(body.input).includes('"oss://');
}

/** A Python literal of a JSON value (JSON strings are Python strings; lists and dicts one item a line). */
function py(value, indent = "") {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number" || typeof value === "string") return JSON.stringify(value);
  const inner = indent + "    ";
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return `[\n${value.map((v) => inner + py(v, inner) + ",").join("\n")}\n${indent}]`;
  }
  const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${py(v, inner)}`);
  return `{${entries.join(", ")}}`;
}
