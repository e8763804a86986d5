// What the admin page's panels share: the chosen index, tables, forms, messages and two-click deletes.
import { kendra, el } from "./kendra.js";
import { ui, t } from "./admin-text.js";

export const $ = (id) => document.getElementById(id);
// Kendra's model requires a role on indexes, data sources and thesauri; Kensaku ignores it.
export const ROLE = "arn:aws:iam::000000000000:role/kensaku-admin-page";
// Kendra's pattern for the names of indexes, data sources and thesauri.
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
// The page's shared state, and what a panel calls when others must follow (set by admin.js).
export const current = { indexId: "" };
export const hooks = { indexesChanged: () => {}, failuresChanged: () => {} };

export function when(value) {
  if (value === undefined || value === null || value === "") return "";
  // Kendra's timestamps are epoch seconds on the wire, featured results' epoch milliseconds.
  const d = new Date(typeof value === "number" ? (value > 1e11 ? value : value * 1000) : value);
  return d.toLocaleString(ui === "ja" ? "ja-JP" : "en-US", { dateStyle: "short", timeStyle: "short" });
}

export function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  const i = Math.min(Math.floor(Math.log(n) / Math.log(1024)), units.length - 1);
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function table(headers, rows, numeric = []) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h, n) => el("th", { class: numeric.includes(n) ? "num" : null, text: h })))),
    el("tbody", {}, rows));
}

export function cells(values, numeric = []) {
  return values.map((v, n) => el("td", { class: numeric.includes(n) ? "num" : null }, v instanceof Node ? v : String(v ?? "")));
}

export const note = (text) => el("p", { class: "note", text });

// Fill a panel from Kendra calls; a refusal for an operation not built shows "not available".
export async function panel(id, load) {
  const body = $(id).querySelector(".body");
  try {
    body.replaceChildren(...[].concat(await load()));
    $(id).dataset.available = "true";
  } catch (e) {
    if (e.notBuilt) {
      body.replaceChildren(el("p", { class: "unavailable", text: t.notAvailable }));
      $(id).dataset.available = "false";
    } else {
      body.replaceChildren(el("p", { class: "error", text: `${t.error}: ${e.message}` }));
      $(id).dataset.available = "error";
    }
  }
}

export async function allPages(operation, body, key) {
  const out = [];
  let token;
  do {
    const r = await kendra(operation, token ? { ...body, NextToken: token } : body);
    out.push(...(r[key] || []));
    token = r.NextToken;
  } while (token && out.length < 1000);
  return out;
}

// The page's one status line (polite live region): what just happened, or what went wrong.
export function say(text, kind = "ok") {
  const status = $("status");
  status.className = kind;
  status.textContent = text;
}

// A delete button that asks for a second click instead of a modal dialog.
export function deleteButton(action) {
  const button = el("button", { type: "button", class: "delete", text: t.delete });
  let armed = 0;
  button.addEventListener("click", async () => {
    if (!armed) {
      button.textContent = t.confirmDelete;
      button.classList.add("armed");
      armed = setTimeout(() => { armed = 0; button.textContent = t.delete; button.classList.remove("armed"); }, 4000);
      return;
    }
    clearTimeout(armed);
    button.disabled = true;
    try {
      await action();
    } catch (e) {
      say(`${t.error}: ${e.message}`, "error");
      button.disabled = false;
    }
  });
  return button;
}

// A button that runs a Kendra call; a refusal is said in the status line.
export function actionButton(className, text, action) {
  const button = el("button", { type: "button", class: className, text });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await action();
    } catch (e) {
      say(`${t.error}: ${e.message}`, "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// The S3Path of a form's "key" and "bucket" controls. A file:// key (a Kensaku extension) needs no
// bucket: it gets "local", a valid bucket name the server ignores. Missing members are the form's error.
export function s3PathOf(form) {
  const key = form.elements.key.value.trim();
  const bucket = form.elements.bucket.value.trim() || (key.startsWith("file://") ? "local" : "");
  if (!key) return formError(form, t.required(t.key), form.elements.key);
  if (!bucket) return formError(form, t.required(t.bucket), form.elements.bucket);
  return { Bucket: bucket, Key: key };
}

// A labelled form control: <label class="field"><span>label</span> control <small>hint</small></label>.
export function field(label, control, hint) {
  return el("label", { class: "field" }, el("span", { text: label }), control, hint ? el("small", { text: hint }) : null);
}

export function select(name, options, value) {
  const s = el("select", { name }, options.map(([v, text]) => el("option", { value: v, text })));
  if (value !== undefined) s.value = value;
  return s;
}

// Show a form's problem next to it (role=alert) and mark the control at fault; "" clears it.
export function formError(form, message, control) {
  for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
  if (control) { control.setAttribute("aria-invalid", "true"); control.focus(); }
  form.querySelector(".form-error").textContent = message;
}

export const lines = (text) => String(text || "").split("\n").map((s) => s.trim()).filter(Boolean);

// Run a form's Kendra call with its buttons disabled; a refusal is shown as the form's error.
export async function submitting(form, action) {
  const buttons = [...form.querySelectorAll("button")];
  for (const b of buttons) b.disabled = true;
  formError(form, "");
  try {
    return await action();
  } catch (e) {
    formError(form, e.message || String(e));
    return undefined;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}
