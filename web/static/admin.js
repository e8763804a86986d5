// The admin page: indexes, fields, data sources and their syncs, uploads, failed documents, thesauri,
// featured results, FAQs, suggestion block lists. Every panel is a Kendra call (or a Kensaku extension
// operation on the same protocol); an operation this server has not built shows "not available".
import { kendra, el } from "./kendra.js";
import { ui, t } from "./admin-text.js";
import { $, ROLE, NAME, current, hooks, panel, allPages, table, cells, when, bytes, note, say, deleteButton,
  formError, submitting } from "./admin-common.js";
import { loadFields, wireFieldForm } from "./admin-fields.js";
import { refreshSources, wireSourceForm } from "./admin-sources.js";
import { wireUpload } from "./admin-upload.js";
import { wireDemo } from "./admin-demo.js";
import { loadFailures, loadThesauri, wireThesaurusForm, loadFeatured, wireFeaturedForm } from "./admin-lists.js";
import { loadFaqs, wireFaqForm, loadBlockLists, wireBlockListForm } from "./admin-faqs.js";

const state = { seq: 0, indexes: [] };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function loadIndexes() {
  const list = await allPages("ListIndices", { MaxResults: 100 }, "IndexConfigurationSummaryItems");
  state.indexes = list.filter((i) => i.Status !== "DELETING");
  const select = $("index");
  const chosen = select.value || new URLSearchParams(location.search).get("index");
  select.replaceChildren(...state.indexes.map((i) => el("option", { value: i.Id, text: i.Name })));
  if (chosen && state.indexes.some((i) => i.Id === chosen)) select.value = chosen;
  $("index-panels").hidden = !state.indexes.length;
  const described = await Promise.all(state.indexes.map((i) => kendra("DescribeIndex", { Id: i.Id }).catch(() => null)));
  const rows = state.indexes.map((i, n) => {
    const d = described[n] || {};
    const text = d.IndexStatistics?.TextDocumentStatistics || {};
    const faq = d.IndexStatistics?.FaqStatistics || {};
    const remove = deleteButton(async () => {
      await kendra("DeleteIndex", { Id: i.Id });
      say(t.indexDeleted(i.Name));
      if ($("index").value === i.Id) $("index").value = "";
      await refreshIndexes();
    });
    return el("tr", { "data-index-id": i.Id }, cells([i.Name, i.Status, i.Edition, text.IndexedTextDocumentsCount ?? 0,
      bytes(text.IndexedTextBytes), faq.IndexedQuestionAnswersCount ?? 0, access(d), when(i.UpdatedAt), remove],
      [3, 4, 5]));
  });
  if (!rows.length) return note(t.firstIndex);
  const headings = [t.name, t.status, t.edition, t.documents, t.textBytes, t.faqCount, t.access, t.updated, ""];
  return [table(headings, rows, [3, 4, 5]), note(t.accessRules)];
}

// Whose principals an index's queries are checked with: its UserContextPolicy, in words.
function access(described) {
  const token = (described.UserTokenConfigurations || []).find((c) => c.JsonTokenTypeConfiguration)?.JsonTokenTypeConfiguration;
  if (described.UserContextPolicy === "USER_TOKEN" && token) {
    return t.accessToken(token.UserNameAttributeField, token.GroupAttributeField);
  }
  return t.accessAttributes;
}

// The index table again; the panels below follow when the chosen index changed (created, deleted).
async function refreshIndexes() {
  await panel("indexes", loadIndexes);
  if ($("index").value !== current.indexId) await loadIndexPanels();
}

async function createIndex(event) {
  event.preventDefault();
  const form = $("index-form");
  const name = form.elements.name.value.trim();
  if (!name) { formError(form, t.required(t.indexName), form.elements.name); return; }
  if (!NAME.test(name)) { formError(form, t.nameBad(t.indexName), form.elements.name); return; }
  await submitting(form, async () => {
    say(t.creatingIndex(name));
    const { Id } = await kendra("CreateIndex", { Name: name, RoleArn: ROLE, Edition: "DEVELOPER_EDITION" });
    for (let n = 0; n < 100; n++) { // CREATING lasts a fraction of a second
      if ((await kendra("DescribeIndex", { Id })).Status !== "CREATING") break;
      await sleep(200);
    }
    form.reset();
    $("index").replaceChildren(el("option", { value: Id, text: name }));
    $("index").value = Id;
    await refreshIndexes();
    say(t.indexReady(name));
  });
}

async function loadIndexPanels() {
  const seq = ++state.seq;
  const indexId = $("index").value;
  current.indexId = indexId;
  if (!indexId) { document.body.dataset.ready = "true"; return; }
  document.body.dataset.ready = "false";
  const p = new URLSearchParams(location.search);
  p.set("index", indexId);
  history.replaceState(null, "", "?" + p.toString());
  await Promise.all([
    refreshSources(),
    panel("fields", loadFields),
    panel("failures", loadFailures),
    panel("thesauri", loadThesauri),
    panel("featured", loadFeatured),
    panel("faqs", loadFaqs),
    panel("block-lists", loadBlockLists),
  ]);
  if (seq === state.seq) document.body.dataset.ready = "true";
}

async function start() {
  document.documentElement.lang = ui;
  for (const [id, text] of [["heading", t.heading], ["indexes-title", t.indexes], ["data-sources-title", t.dataSources],
    ["failures-title", t.failures], ["faqs-title", t.faqs], ["block-lists-title", t.blockLists], ["index-label", t.index],
    ["nav-search", t.search], ["nav-dashboard", t.dashboard], ["sign-out", t.signOut], ["index-name-label", t.indexName],
    ["create-index", t.create], ["fields-title", t.fields], ["fields-help", t.fieldHelp], ["upload-title", t.upload],
    ["thesauri-title", t.thesauri], ["featured-title", t.featured]]) $(id).textContent = text;
  $("index-name").placeholder = t.indexNamePlaceholder;
  $("sign-out").addEventListener("click", async () => {
    await fetch("/admin/session", { method: "DELETE", credentials: "same-origin" });
    location.reload();
  });
  hooks.indexesChanged = () => panel("indexes", loadIndexes);
  hooks.failuresChanged = () => panel("failures", loadFailures);
  $("index-form").addEventListener("submit", createIndex);
  $("index").addEventListener("change", loadIndexPanels);
  wireFieldForm();
  wireSourceForm();
  wireUpload();
  wireThesaurusForm();
  wireFeaturedForm();
  wireFaqForm();
  wireBlockListForm();
  await panel("indexes", loadIndexes);
  await wireDemo();
  await loadIndexPanels();
  if (!state.indexes.length) $("index-name").focus();
}

start();
