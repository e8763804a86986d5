// The admin page's FAQ and query-suggestion block list panels: each listed with its status, made from a file
// at an S3 or file:// key, and deleted. A FAQ is CREATING while the server reads its file (the panel asks
// again until it is ACTIVE or FAILED); a block list's file can be read again (UpdateQuerySuggestionsBlockList).
import { kendra, el } from "./kendra.js";
import { ui, t } from "./admin-text.js";
import { $, ROLE, NAME, current, hooks, panel, allPages, table, cells, when, note, say, deleteButton, field, select,
  formError, submitting, actionButton, s3PathOf } from "./admin-common.js";

// Kendra's FAQ file formats and the languages Kensaku analyses.
const FORMATS = ["CSV", "CSV_WITH_HEADER", "JSON"];
const LANGUAGES = [["ja", "日本語"], ["en", "English"]];
// Kendra's pattern for block list names: letters and digits, words joined by hyphens (no _).
const BLOCK_LIST_NAME = /^[A-Za-z0-9](-*[A-Za-z0-9])*$/;
const LOADING = ["CREATING", "UPDATING"];
// active: the index and its ACTIVE FAQs when last listed (the index table counts their questions).
const polls = { faqs: 0, blockLists: 0, active: "" };

// A name, with its description and file (a file:// key as it is, an S3 one as s3://bucket/key) under it.
const named = (name, description, path) => el("span", {}, name,
  description ? el("small", { class: "detail", text: description }) : null,
  path ? el("small", { class: "detail file doc-id",
    text: path.Key.startsWith("file://") ? path.Key : `s3://${path.Bucket}/${path.Key}` }) : null);
const status = (value, error) => el("span", {}, value, error ? el("div", { class: "error", text: error }) : null);

export async function loadFaqs() {
  const faqs = await allPages("ListFaqs", { IndexId: current.indexId, MaxResults: 100 }, "FaqSummaryItems");
  clearTimeout(polls.faqs);
  if (faqs.some((f) => LOADING.includes(f.Status))) polls.faqs = setTimeout(() => panel("faqs", loadFaqs), 1000);
  const active = [current.indexId, ...faqs.filter((f) => f.Status === "ACTIVE").map((f) => f.Id)].join(" ");
  if (polls.active.split(" ")[0] === current.indexId && polls.active !== active) hooks.indexesChanged();
  polls.active = active;
  if (!faqs.length) return note(t.none);
  const described = await Promise.all(faqs.map((f) => kendra("DescribeFaq",
    { Id: f.Id, IndexId: current.indexId }).catch(() => ({}))));
  const rows = faqs.map((f, n) => {
    const d = described[n];
    const remove = deleteButton(async () => {
      await kendra("DeleteFaq", { Id: f.Id, IndexId: current.indexId });
      say(t.faqDeleted(f.Name));
      await panel("faqs", loadFaqs);
    });
    return el("tr", { "data-faq-id": f.Id, "data-status": f.Status }, cells([named(f.Name, d.Description, d.S3Path),
      status(f.Status, d.ErrorMessage), `${f.FileFormat} · ${f.LanguageCode}`, when(f.UpdatedAt), remove]));
  });
  return table([t.name, t.status, t.formatLanguage, t.updated, ""], rows);
}

function resetFaqForm() {
  const form = $("faq-form");
  form.reset();
  form.elements.language.value = ui;
  formError(form, "");
}

export function wireFaqForm() {
  const form = $("faq-form");
  $("faq-form-title").textContent = t.addFaq;
  form.querySelector(".save").textContent = t.add;
  form.querySelector(".cancel").textContent = t.cancel;
  form.querySelector(".controls").replaceChildren(
    field(t.name + " *", el("input", { name: "name", maxlength: 100 })),
    field(t.description, el("input", { name: "description", maxlength: 1000 })),
    field(t.key + " *", el("input", { name: "key", placeholder: "file:///srv/kensaku/faq.csv" }), t.faqKeyHint),
    field(t.bucket, el("input", { name: "bucket", placeholder: "my-bucket" })),
    field(t.fileFormat, select("format", FORMATS.map((f) => [f, f])), t.formatHint),
    field(t.faqLanguage, select("language", LANGUAGES, ui)));
  form.querySelector(".cancel").addEventListener("click", () => {
    $("faq-form-box").open = false;
    resetFaqForm();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const description = form.elements.description.value.trim();
    if (!name) return formError(form, t.required(t.name), form.elements.name);
    if (!NAME.test(name)) return formError(form, t.nameBad(t.name), form.elements.name);
    const path = s3PathOf(form);
    if (!path) return undefined;
    // the server refuses what the page cannot check (a key it will not read, a bad bucket name): shown by the form
    const done = await submitting(form, () => kendra("CreateFaq", { IndexId: current.indexId, Name: name,
      S3Path: path, RoleArn: ROLE, FileFormat: form.elements.format.value, LanguageCode: form.elements.language.value,
      ...(description ? { Description: description } : {}) }));
    if (!done) return undefined;
    say(t.faqSaved(name));
    resetFaqForm();
    await panel("faqs", loadFaqs);
    return undefined;
  });
  resetFaqForm();
}

export async function loadBlockLists() {
  const lists = await allPages("ListQuerySuggestionsBlockLists", { IndexId: current.indexId, MaxResults: 100 },
    "BlockListSummaryItems");
  clearTimeout(polls.blockLists);
  if (lists.some((b) => LOADING.includes(b.Status))) polls.blockLists = setTimeout(() => panel("block-lists", loadBlockLists), 1000);
  if (!lists.length) return note(t.none);
  const described = await Promise.all(lists.map((b) => kendra("DescribeQuerySuggestionsBlockList",
    { Id: b.Id, IndexId: current.indexId }).catch(() => ({}))));
  const rows = lists.map((b, n) => {
    const d = described[n];
    const remove = deleteButton(async () => {
      await kendra("DeleteQuerySuggestionsBlockList", { Id: b.Id, IndexId: current.indexId });
      say(t.blockListDeleted(b.Name));
      await panel("block-lists", loadBlockLists);
    });
    // the same SourceS3Path again: the server reads the file again (a failure keeps the words in effect)
    const reread = actionButton("reread", t.reread, async () => {
      await kendra("UpdateQuerySuggestionsBlockList", { Id: b.Id, IndexId: current.indexId,
        ...(d.SourceS3Path ? { SourceS3Path: d.SourceS3Path } : {}) });
      const after = await kendra("DescribeQuerySuggestionsBlockList", { Id: b.Id, IndexId: current.indexId });
      if (after.Status === "ACTIVE") say(t.blockListRead(b.Name, after.ItemCount));
      else say(t.blockListNotRead(b.Name, after.ErrorMessage || after.Status), "error");
      await panel("block-lists", loadBlockLists);
    });
    return el("tr", { "data-block-list-id": b.Id, "data-status": b.Status }, cells([named(b.Name, d.Description, d.SourceS3Path),
      status(b.Status, d.ErrorMessage), b.ItemCount ?? "", when(b.UpdatedAt),
      el("span", { class: "actions" }, reread, " ", remove)], [2]));
  });
  return table([t.name, t.status, t.items, t.updated, ""], rows, [2]);
}

export function wireBlockListForm() {
  const form = $("block-list-form");
  $("block-list-form-title").textContent = t.addBlockList;
  form.querySelector(".save").textContent = t.add;
  form.querySelector(".cancel").textContent = t.cancel;
  form.querySelector(".controls").replaceChildren(
    field(t.name + " *", el("input", { name: "name", maxlength: 100 })),
    field(t.description, el("input", { name: "description", maxlength: 1000 })),
    field(t.key + " *", el("input", { name: "key", placeholder: "file:///srv/kensaku/blocked-words.txt" }),
      t.blockListKeyHint),
    field(t.bucket, el("input", { name: "bucket", placeholder: "my-bucket" })));
  form.querySelector(".cancel").addEventListener("click", () => {
    $("block-list-form-box").open = false;
    form.reset();
    formError(form, "");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const description = form.elements.description.value.trim();
    if (!name) return formError(form, t.required(t.name), form.elements.name);
    if (!BLOCK_LIST_NAME.test(name)) return formError(form, t.blockListNameBad(t.name), form.elements.name);
    const path = s3PathOf(form);
    if (!path) return undefined;
    const done = await submitting(form, () => kendra("CreateQuerySuggestionsBlockList", { IndexId: current.indexId,
      Name: name, SourceS3Path: path, RoleArn: ROLE, ...(description ? { Description: description } : {}) }));
    if (!done) return undefined;
    say(t.blockListSaved(name));
    form.reset();
    await panel("block-lists", loadBlockLists);
    return undefined;
  });
}
