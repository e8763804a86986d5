// The admin page's list panels: failed documents (KensakuListDocumentFailures, a Kensaku extension),
// thesauri and featured results (listed, created, deleted), FAQs and query-suggestion block lists.
import { kendra, el } from "./kendra.js";
import { t } from "./admin-text.js";
import { $, ROLE, NAME, current, panel, allPages, table, cells, when, note, say, deleteButton, field, formError,
  submitting, lines } from "./admin-common.js";

export async function loadFailures() {
  const [r, sources] = await Promise.all([
    kendra("KensakuListDocumentFailures", { IndexId: current.indexId, MaxResults: 50 }),
    allPages("ListDataSources", { IndexId: current.indexId, MaxResults: 50 }, "SummaryItems").catch(() => []),
  ]);
  const names = new Map(sources.map((s) => [s.Id, s.Name]));
  const failures = r.Failures || [];
  if (!failures.length) return note(t.noFailures);
  const rows = failures.map((f) => el("tr", { "data-document-id": f.DocumentId }, cells([
    el("span", { class: "doc-id", text: f.DocumentId }), t.statusNames[f.Status] || f.Status,
    el("span", { class: "reason", text: [f.ErrorCode, f.ErrorMessage].filter(Boolean).join(": ") }),
    names.get(f.DataSourceId) || f.DataSourceId || "", when(f.FailedAt)])));
  return [table([t.document, t.status, t.reason, t.source, t.failedAt], rows),
    r.NextToken ? note("…") : null].filter(Boolean);
}

export async function loadThesauri() {
  const list = await allPages("ListThesauri", { IndexId: current.indexId, MaxResults: 100 }, "ThesaurusSummaryItems");
  if (!list.length) return note(t.none);
  const described = await Promise.all(list.map((th) => kendra("DescribeThesaurus",
    { Id: th.Id, IndexId: current.indexId }).catch(() => ({}))));
  const rows = list.map((th, n) => {
    const d = described[n];
    const remove = deleteButton(async () => {
      await kendra("DeleteThesaurus", { Id: th.Id, IndexId: current.indexId });
      await panel("thesauri", loadThesauri);
    });
    const status = el("span", {}, th.Status, d.ErrorMessage ? el("div", { class: "error", text: d.ErrorMessage }) : null);
    return el("tr", { "data-thesaurus-id": th.Id }, cells([th.Name, status, d.TermCount ?? "", d.SynonymRuleCount ?? "",
      when(th.UpdatedAt), remove], [2, 3]));
  });
  return table([t.name, t.status, t.terms, t.rules, t.updated, ""], rows, [2, 3]);
}

export function wireThesaurusForm() {
  const form = $("thesaurus-form");
  $("thesaurus-form-title").textContent = t.addThesaurus;
  form.querySelector(".save").textContent = t.add;
  form.querySelector(".controls").replaceChildren(
    field(t.name + " *", el("input", { name: "name", maxlength: 100 })),
    field(t.key + " *", el("input", { name: "key", placeholder: "file:///srv/kensaku/synonyms.txt" }), t.keyHint),
    field(t.bucket, el("input", { name: "bucket", placeholder: "my-bucket" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const key = form.elements.key.value.trim();
    const bucket = form.elements.bucket.value.trim() || (key.startsWith("file://") ? "local" : "");
    if (!name) return formError(form, t.required(t.name), form.elements.name);
    if (!NAME.test(name)) return formError(form, t.nameBad(t.name), form.elements.name);
    if (!key) return formError(form, t.required(t.key), form.elements.key);
    if (!bucket) return formError(form, t.required(t.bucket), form.elements.bucket);
    const done = await submitting(form, () => kendra("CreateThesaurus", { IndexId: current.indexId, Name: name,
      RoleArn: ROLE, SourceS3Path: { Bucket: bucket, Key: key } }));
    if (!done) return undefined;
    say(t.thesaurusSaved(name));
    form.reset();
    await panel("thesauri", loadThesauri);
    return undefined;
  });
}

export async function loadFeatured() {
  const list = await allPages("ListFeaturedResultsSets", { IndexId: current.indexId, MaxResults: 100 },
    "FeaturedResultsSetSummaryItems");
  if (!list.length) return note(t.none);
  const described = await Promise.all(list.map((s) => kendra("DescribeFeaturedResultsSet",
    { IndexId: current.indexId, FeaturedResultsSetId: s.FeaturedResultsSetId }).catch(() => ({}))));
  const rows = list.map((s, n) => {
    const d = described[n];
    const remove = deleteButton(async () => {
      await kendra("BatchDeleteFeaturedResultsSet", { IndexId: current.indexId, FeaturedResultsSetIds: [s.FeaturedResultsSetId] });
      await panel("featured", loadFeatured);
    });
    const documents = [...(d.FeaturedDocumentsWithMetadata || []).map((x) => x.Title || x.Id),
      ...(d.FeaturedDocumentsMissing || []).map((x) => `${x.Id} (?)`)];
    return el("tr", { "data-featured-id": s.FeaturedResultsSetId }, cells([s.FeaturedResultsSetName,
      s.Status === "ACTIVE" ? t.active : t.inactive, (d.QueryTexts || []).join(", "), documents.join(", "),
      when(s.LastUpdatedTimestamp), remove]));
  });
  return table([t.name, t.status, t.queries, t.documents, t.updated, ""], rows);
}

export function wireFeaturedForm() {
  const form = $("featured-form");
  $("featured-form-title").textContent = t.addFeatured;
  form.querySelector(".save").textContent = t.add;
  form.querySelector(".controls").replaceChildren(
    field(t.name + " *", el("input", { name: "name", maxlength: 1000 })),
    field(t.queryTexts + " *", el("textarea", { name: "queries", rows: 2 })),
    field(t.documentIds + " *", el("textarea", { name: "documents", rows: 2 })),
    el("label", {}, el("input", { type: "checkbox", name: "active", checked: true }), " ", t.active));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const queries = lines(form.elements.queries.value);
    const documents = lines(form.elements.documents.value);
    if (!name) return formError(form, t.required(t.name), form.elements.name);
    if (!queries.length) return formError(form, t.required(t.queries), form.elements.queries);
    if (!documents.length) return formError(form, t.required(t.documents), form.elements.documents);
    const done = await submitting(form, () => kendra("CreateFeaturedResultsSet", { IndexId: current.indexId,
      FeaturedResultsSetName: name, QueryTexts: queries, FeaturedDocuments: documents.map((Id) => ({ Id })),
      Status: form.elements.active.checked ? "ACTIVE" : "INACTIVE" }));
    if (!done) return undefined;
    say(t.featuredSaved(name));
    form.reset();
    await panel("featured", loadFeatured);
    return undefined;
  });
}

export async function loadFaqs() {
  const faqs = await allPages("ListFaqs", { IndexId: current.indexId, MaxResults: 100 }, "FaqSummaryItems");
  return faqs.length ? table([t.name, t.status, t.format, t.language, t.updated],
    faqs.map((f) => el("tr", {}, cells([f.Name, f.Status, f.FileFormat, f.LanguageCode, when(f.UpdatedAt)]))))
    : note(t.none);
}

export async function loadBlockLists() {
  const lists = await allPages("ListQuerySuggestionsBlockLists", { IndexId: current.indexId, MaxResults: 100 },
    "BlockListSummaryItems");
  return lists.length ? table([t.name, t.status, t.items, t.updated],
    lists.map((b) => el("tr", {}, cells([b.Name, b.Status, b.ItemCount ?? "", when(b.UpdatedAt)], [2]))), [2])
    : note(t.none);
}
