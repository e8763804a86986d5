// Uploads: files dropped on the page (or chosen) go to the index with BatchPutDocument (base64 blobs,
// the ContentType from the file name), then BatchGetDocumentStatus is polled until each file is indexed
// or failed; every file shows its own outcome. A file's document id is "upload/<file name>", so sending
// a file of the same name again replaces it.
import { kendra, el } from "./kendra.js";
import { ui, t } from "./admin-text.js";
import { $, current, hooks, field, select } from "./admin-common.js";

// File name extension -> Kendra ContentType (as connectors/documents.py maps them).
const TYPES = { pdf: "PDF", html: "HTML", htm: "HTML", docx: "MS_WORD", pptx: "PPT", xlsx: "MS_EXCEL", csv: "CSV",
  md: "MD", markdown: "MD", txt: "PLAIN_TEXT", text: "PLAIN_TEXT", rtf: "RTF", json: "JSON", xml: "XML", xslt: "XSLT" };
const BATCH_DOCUMENTS = 10; // Kendra's limit a call
const BATCH_BYTES = 8 * 1024 * 1024; // keeps each request modest; a larger file goes alone
const DONE = ["INDEXED", "UPDATED", "FAILED", "UPDATE_FAILED"];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function contentType(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? TYPES[name.slice(dot + 1).toLowerCase()] : undefined;
}

function base64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function show(item, status, text) {
  item.row.dataset.status = status;
  item.state.textContent = text;
  item.state.className = `state ${status === "INDEXED" || status === "UPDATED" ? "ok" : status === "FAILED" ? "error" : ""}`;
}

async function send(batch, indexId, language) {
  for (const item of batch) show(item, "SENDING", t.sending);
  const documents = await Promise.all(batch.map(async (item) => ({
    Id: item.id, Title: item.file.name, ContentType: item.type, Blob: await base64(item.file),
    Attributes: [{ Key: "_language_code", Value: { StringValue: language } }],
  })));
  try {
    const r = await kendra("BatchPutDocument", { IndexId: indexId, Documents: documents });
    const failed = new Map((r.FailedDocuments || []).map((f) => [f.Id, f]));
    for (const item of batch) {
      const f = failed.get(item.id);
      if (f) show(item, "FAILED", `${t.uploadFailed}: ${f.ErrorMessage || f.ErrorCode}`);
      else show(item, "PROCESSING", t.processing);
    }
  } catch (e) {
    for (const item of batch) show(item, "FAILED", `${t.uploadFailed}: ${e.message}`);
  }
}

async function watch(items, indexId) {
  let waiting = items.filter((i) => i.row.dataset.status === "PROCESSING");
  while (waiting.length) {
    await sleep(500);
    for (let n = 0; n < waiting.length; n += 10) {
      const part = waiting.slice(n, n + 10);
      try {
        const r = await kendra("BatchGetDocumentStatus", { IndexId: indexId, DocumentInfoList: part.map((i) => ({ DocumentId: i.id })) });
        const byId = new Map((r.DocumentStatusList || []).map((s) => [s.DocumentId, s]));
        for (const item of part) {
          const s = byId.get(item.id);
          if (!s || !DONE.includes(s.DocumentStatus)) continue;
          if (s.DocumentStatus.endsWith("FAILED")) show(item, "FAILED", `${t.uploadFailed}: ${s.FailureReason || s.FailureCode || ""}`);
          else show(item, s.DocumentStatus, t.indexed);
        }
      } catch { /* try again on the next turn */ }
    }
    waiting = waiting.filter((i) => i.row.dataset.status === "PROCESSING");
  }
}

async function upload(files) {
  const indexId = current.indexId;
  if (!indexId || !files.length) return;
  const language = $("upload-language").value;
  const items = [...files].map((file) => {
    const state = el("span", { class: "state" });
    const row = el("li", { "data-file": file.name }, el("span", { class: "file", text: file.name }), " ", state);
    $("upload-list").prepend(row);
    const item = { file, row, state, id: `upload/${file.name}`, type: contentType(file.name) };
    if (!item.type) show(item, "FAILED", t.unsupported);
    return item;
  });
  const ready = items.filter((i) => i.type);
  let batch = [];
  let size = 0;
  for (const item of ready) {
    if (batch.length && (batch.length === BATCH_DOCUMENTS || size + item.file.size > BATCH_BYTES)) {
      await send(batch, indexId, language);
      batch = [];
      size = 0;
    }
    batch.push(item);
    size += item.file.size;
  }
  if (batch.length) await send(batch, indexId, language);
  await watch(ready, indexId);
  hooks.indexesChanged();
  hooks.failuresChanged();
}

export function wireUpload() {
  const zone = $("drop-zone");
  const input = $("upload-input");
  $("drop-text").textContent = t.dropHere;
  $("upload-help").textContent = t.uploadHelp;
  input.setAttribute("aria-label", t.chooseFiles);
  document.querySelector("#upload .upload-options").replaceChildren(
    field(t.uploadLanguage, select("upload-language", [["ja", "日本語"], ["en", "English"]], ui)));
  document.querySelector("#upload select").id = "upload-language";
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    upload(e.dataTransfer?.files || []);
  });
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  zone.addEventListener("click", (e) => { if (e.target !== input) input.click(); });
  input.addEventListener("change", () => { upload(input.files || []); input.value = ""; });
}
