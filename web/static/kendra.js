// A small Kendra JSON 1.1 client for the pages: every call is POST / with X-Amz-Target.
// The pages are Kendra clients like boto3; they say they are the web channel for analytics.

export class KendraError extends Error {
  constructor(type, message, status) {
    super(message || type);
    this.type = type;
    this.status = status;
  }
  // The server has not built this operation (yet): a ValidationException naming the feature, or an
  // UnknownOperationException (an extension operation this server does not know).
  get notBuilt() {
    return this.type === "UnknownOperationException" ||
      (this.type === "ValidationException" && /is not supported by this Kensaku server/.test(this.message));
  }
}

export async function kendra(operation, body, { keepalive = false } = {}) {
  let response;
  try {
    response = await fetch("/", {
      method: "POST",
      keepalive,
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSKendraFrontendService." + operation,
        "X-Kensaku-Channel": "web",
      },
      body: JSON.stringify(body || {}),
    });
  } catch (e) {
    throw new KendraError("NetworkError", String(e), 0);
  }
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {}; }
  if (!response.ok) {
    const type = String(data.__type || "HTTP" + response.status).split("#").pop();
    throw new KendraError(type, data.message || data.Message || text, response.status);
  }
  return data;
}

// The page configuration from the server, and the index the pages work on: the configured one,
// else the first ACTIVE index.
export async function pageConfig() {
  const r = await fetch("/config.json", { credentials: "same-origin" });
  const config = r.ok ? await r.json() : {};
  if (!config.indexId) {
    let token;
    do {
      const page = await kendra("ListIndices", token ? { NextToken: token } : {});
      const active = (page.IndexConfigurationSummaryItems || []).find((i) => i.Status === "ACTIVE");
      if (active) { config.indexId = active.Id; break; }
      token = page.NextToken;
    } while (token);
  }
  return config;
}

// Text with Kendra Highlights (offsets in code points) as DOM nodes: text nodes and <mark>s.
// Document text is never parsed as HTML.
export function highlighted(value, markClass) {
  const fragment = document.createDocumentFragment();
  if (!value || !value.Text) return fragment;
  const chars = Array.from(value.Text);
  const spans = (value.Highlights || [])
    .map((h) => [Math.max(0, h.BeginOffset | 0), Math.min(chars.length, h.EndOffset | 0), !!h.TopAnswer])
    .filter(([b, e]) => e > b)
    .sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [begin, end, top] of spans) {
    if (begin < at) continue; // overlapping highlight: keep the first
    if (begin > at) fragment.append(document.createTextNode(chars.slice(at, begin).join("")));
    const mark = document.createElement("mark");
    if (top || markClass) mark.className = top ? "top" : markClass;
    mark.textContent = chars.slice(begin, end).join("");
    fragment.append(mark);
    at = end;
  }
  if (at < chars.length) fragment.append(document.createTextNode(chars.slice(at).join("")));
  return fragment;
}

// el("a", {href: url, class: "x"}, child, "text") — attributes set as properties/attributes, children
// appended as nodes or text nodes (never HTML).
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Only these schemes become links; anything else (javascript:, data:) is shown as text.
export function safeUrl(uri) {
  try {
    const url = new URL(uri, location.href);
    return ["http:", "https:", "ftp:", "file:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}
