// The admin page's list panels: failed documents (KensakuListDocumentFailures, a Kensaku extension),
// thesauri and featured results (listed, created, edited, deleted). FAQs and block lists: admin-faqs.js.
import { kendra, el } from "./kendra.js";
import { t } from "./admin-text.js";
import { $, ROLE, NAME, current, panel, allPages, table, cells, when, note, say, deleteButton, field, formError,
  submitting, lines, actionButton } from "./admin-common.js";

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

// A thesaurus reads its file while CREATING or UPDATING: the panel asks again until it is done.
const LOADING = ["CREATING", "UPDATING"];
const polls = { thesauri: 0 };

const editButton = (action) => actionButton("edit", t.edit, action);

export async function loadThesauri() {
  const list = await allPages("ListThesauri", { IndexId: current.indexId, MaxResults: 100 }, "ThesaurusSummaryItems");
  clearTimeout(polls.thesauri);
  if (list.some((th) => LOADING.includes(th.Status))) polls.thesauri = setTimeout(() => panel("thesauri", loadThesauri), 1000);
  if (!list.length) return note(t.none);
  const described = await Promise.all(list.map((th) => kendra("DescribeThesaurus",
    { Id: th.Id, IndexId: current.indexId }).catch(() => ({}))));
  const rows = list.map((th, n) => {
    const d = described[n];
    const remove = deleteButton(async () => {
      await kendra("DeleteThesaurus", { Id: th.Id, IndexId: current.indexId });
      if ($("thesaurus-form").dataset.editing === th.Id) fillThesaurusForm(null);
      await panel("thesauri", loadThesauri);
    });
    const edit = editButton(() => editThesaurus(th.Id));
    const status = el("span", {}, th.Status, d.ErrorMessage ? el("div", { class: "error", text: d.ErrorMessage }) : null);
    return el("tr", { "data-thesaurus-id": th.Id, "data-status": th.Status }, cells([th.Name, status,
      d.TermCount ?? "", d.SynonymRuleCount ?? "", when(th.UpdatedAt), el("span", { class: "actions" }, edit, " ", remove)],
    [2, 3]));
  });
  return table([t.name, t.status, t.terms, t.rules, t.updated, ""], rows, [2, 3]);
}

// The thesaurus form adds one (described: null) or edits one (DescribeThesaurus's answer).
const editingThesaurus = { source: null };

function fillThesaurusForm(described) {
  const form = $("thesaurus-form");
  form.reset();
  const source = described?.SourceS3Path || null;
  editingThesaurus.source = source;
  form.elements.name.value = described?.Name || "";
  form.elements.description.value = described?.Description || "";
  form.elements.key.value = source?.Key || "";
  form.elements.bucket.value = source?.Bucket || "";
  form.elements.reread.checked = false;
  form.elements.reread.closest("label").hidden = !described;
  form.dataset.editing = described?.Id || "";
  formError(form, "");
  form.querySelector(".save").textContent = described ? t.save : t.add;
  $("thesaurus-form-title").textContent = described ? `${t.editThesaurus}: ${described.Name}` : t.addThesaurus;
}

async function editThesaurus(id) {
  const described = await kendra("DescribeThesaurus", { Id: id, IndexId: current.indexId });
  fillThesaurusForm(described);
  $("thesaurus-form-box").open = true;
  $("thesaurus-form").elements.name.focus();
}

export function wireThesaurusForm() {
  const form = $("thesaurus-form");
  form.querySelector(".cancel").textContent = t.cancel;
  form.querySelector(".controls").replaceChildren(
    field(t.name + " *", el("input", { name: "name", maxlength: 100 })),
    field(t.description, el("input", { name: "description", maxlength: 1000 })),
    field(t.key + " *", el("input", { name: "key", placeholder: "file:///srv/kensaku/synonyms.txt" }), t.keyHint),
    field(t.bucket, el("input", { name: "bucket", placeholder: "my-bucket" })),
    el("label", { class: "reread" }, el("input", { type: "checkbox", name: "reread" }), " ", t.reread,
      el("small", { text: ` ${t.rereadHint}` })));
  form.querySelector(".cancel").addEventListener("click", () => {
    $("thesaurus-form-box").open = false;
    fillThesaurusForm(null);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const description = form.elements.description.value.trim();
    const key = form.elements.key.value.trim();
    const bucket = form.elements.bucket.value.trim() || (key.startsWith("file://") ? "local" : "");
    if (!name) return formError(form, t.required(t.name), form.elements.name);
    if (!NAME.test(name)) return formError(form, t.nameBad(t.name), form.elements.name);
    if (!key) return formError(form, t.required(t.key), form.elements.key);
    if (!bucket) return formError(form, t.required(t.bucket), form.elements.bucket);
    const editing = form.dataset.editing;
    const done = await submitting(form, async () => {
      if (!editing) {
        return kendra("CreateThesaurus", { IndexId: current.indexId, Name: name, RoleArn: ROLE,
          SourceS3Path: { Bucket: bucket, Key: key }, ...(description ? { Description: description } : {}) });
      }
      // a new path (or "read again") sends SourceS3Path: the server reads the file, UPDATING meanwhile
      const old = editingThesaurus.source || {};
      const moved = old.Key !== key || old.Bucket !== bucket;
      await kendra("UpdateThesaurus", { Id: editing, IndexId: current.indexId, Name: name, Description: description,
        ...(moved || form.elements.reread.checked ? { SourceS3Path: { Bucket: bucket, Key: key } } : {}) });
      return true;
    });
    if (!done) return undefined;
    say(editing ? t.thesaurusUpdated(name) : t.thesaurusSaved(name));
    if (editing) $("thesaurus-form-box").open = false;
    fillThesaurusForm(null);
    await panel("thesauri", loadThesauri);
    return undefined;
  });
  fillThesaurusForm(null);
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
      if ($("featured-form").dataset.editing === s.FeaturedResultsSetId) fillFeaturedForm(null);
      await panel("featured", loadFeatured);
    });
    const edit = editButton(() => editFeatured(s.FeaturedResultsSetId));
    const documents = [...(d.FeaturedDocumentsWithMetadata || []).map((x) => x.Title || x.Id),
      ...(d.FeaturedDocumentsMissing || []).map((x) => `${x.Id} (?)`)];
    return el("tr", { "data-featured-id": s.FeaturedResultsSetId, "data-status": s.Status }, cells([s.FeaturedResultsSetName,
      s.Status === "ACTIVE" ? t.active : t.inactive, (d.QueryTexts || []).join(", "), documents.join(", "),
      when(s.LastUpdatedTimestamp), el("span", { class: "actions" }, edit, " ", remove)]));
  });
  return table([t.name, t.status, t.queries, t.documents, t.updated, ""], rows);
}

// The featured results form adds a set (described: null) or edits one (DescribeFeaturedResultsSet's answer:
// its documents are those found in the index and those missing from it).
function fillFeaturedForm(described) {
  const form = $("featured-form");
  form.reset();
  const documents = described ? [...(described.FeaturedDocumentsWithMetadata || []),
    ...(described.FeaturedDocumentsMissing || [])].map((x) => x.Id) : [];
  form.elements.name.value = described?.FeaturedResultsSetName || "";
  form.elements.description.value = described?.Description || "";
  form.elements.queries.value = (described?.QueryTexts || []).join("\n");
  form.elements.documents.value = documents.join("\n");
  form.elements.active.checked = described ? described.Status === "ACTIVE" : true;
  form.dataset.editing = described?.FeaturedResultsSetId || "";
  formError(form, "");
  form.querySelector(".save").textContent = described ? t.save : t.add;
  $("featured-form-title").textContent = described ? `${t.editFeatured}: ${described.FeaturedResultsSetName}` : t.addFeatured;
}

async function editFeatured(id) {
  const described = await kendra("DescribeFeaturedResultsSet", { IndexId: current.indexId, FeaturedResultsSetId: id });
  fillFeaturedForm(described);
  $("featured-form-box").open = true;
  $("featured-form").elements.name.focus();
}

export function wireFeaturedForm() {
  const form = $("featured-form");
  form.querySelector(".cancel").textContent = t.cancel;
  form.querySelector(".controls").replaceChildren(
    field(t.name + " *", el("input", { name: "name", maxlength: 1000 })),
    field(t.description, el("input", { name: "description", maxlength: 1000 })),
    field(t.queryTexts + " *", el("textarea", { name: "queries", rows: 2 })),
    field(t.documentIds + " *", el("textarea", { name: "documents", rows: 2 })),
    el("label", {}, el("input", { type: "checkbox", name: "active", checked: true }), " ", t.active));
  form.querySelector(".cancel").addEventListener("click", () => {
    $("featured-form-box").open = false;
    fillFeaturedForm(null);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const description = form.elements.description.value.trim();
    const queries = lines(form.elements.queries.value);
    const documents = lines(form.elements.documents.value);
    if (!name) return formError(form, t.required(t.name), form.elements.name);
    if (!queries.length) return formError(form, t.required(t.queries), form.elements.queries);
    if (!documents.length) return formError(form, t.required(t.documents), form.elements.documents);
    const editing = form.dataset.editing;
    const members = { IndexId: current.indexId, FeaturedResultsSetName: name, QueryTexts: queries,
      FeaturedDocuments: documents.map((Id) => ({ Id })), Status: form.elements.active.checked ? "ACTIVE" : "INACTIVE" };
    // a query text another set holds is a FeaturedResultsConflictException: its message shows by the form
    const done = await submitting(form, () => (editing
      ? kendra("UpdateFeaturedResultsSet", { ...members, FeaturedResultsSetId: editing, Description: description })
      : kendra("CreateFeaturedResultsSet", { ...members, ...(description ? { Description: description } : {}) })));
    if (!done) return undefined;
    say(editing ? t.featuredUpdated(name) : t.featuredSaved(name));
    if (editing) $("featured-form-box").open = false;
    fillFeaturedForm(null);
    await panel("featured", loadFeatured);
    return undefined;
  });
  fillFeaturedForm(null);
}
