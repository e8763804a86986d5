// The data sources panel: sources with their syncs (start, stop, progress polled while one runs), a
// form per connector type for adding and editing them, and "test connection"
// (KensakuTestDataSourceConnection, a Kensaku extension operation).
import { kendra, el } from "./kendra.js";
import { t } from "./admin-text.js";
import { $, ROLE, NAME, current, hooks, panel, allPages, table, cells, when, note, say, deleteButton, field, select,
  formError, submitting, lines } from "./admin-common.js";

const RUNNING = ["SYNCING", "SYNCING_INDEXING", "STOPPING"];
const state = { poll: 0, running: false, jobs: [], kinds: new Map() };
const INCLUDE = [{ key: "inclusionPatterns", kind: "lines", where: "additional", placeholder: "**/*.docx" },
  { key: "exclusionPatterns", kind: "lines", where: "additional", placeholder: "drafts/**" }];
// The connector types of the TEMPLATE form (connectors/registry.py) and their endpoint metadata.
// check: "absolute" (a path), "url" / "urls" (http(s)); one: the members of which one is needed.
const TYPES = {
  FILESYSTEM: { fields: [{ key: "path", required: true, check: "absolute", placeholder: "/srv/share", hint: "pathHint" }, ...INCLUDE] },
  GITWIKI: { fields: [{ key: "repositoryUrl", required: true, placeholder: "https://example.com/wiki.git" },
    { key: "branch", placeholder: "main" }, { key: "webUrl", check: "url" }, ...INCLUDE] },
  WEBCRAWLER: { one: ["seedUrls", "siteMapUrls"], fields: [
    { key: "seedUrls", kind: "lines", check: "urls", placeholder: "https://example.com/" },
    { key: "siteMapUrls", kind: "lines", check: "urls" },
    { key: "crawlDepth", kind: "number", min: 0, max: 10, placeholder: "2" },
    { key: "maxLinksPerPage", kind: "number", min: 1, max: 1000, placeholder: "100" },
    { key: "maxUrlsPerMinute", kind: "number", min: 1, max: 300, placeholder: "300" },
    { key: "crawlSubdomains", kind: "checkbox" }, ...INCLUDE] },
  S3: { fields: [{ key: "bucketName", required: true }, { key: "prefix" }, { key: "endpointUrl", check: "url" },
    { key: "region", placeholder: "us-east-1" }, { key: "accessKeyId" }, { key: "secretAccessKey", kind: "password" },
    { key: "metadataPrefix" }, ...INCLUDE] },
  MEDIAWIKI: { one: ["apiUrl", "dumpPath"], fields: [{ key: "apiUrl", check: "url", placeholder: "https://wiki.example.com/w/api.php" },
    { key: "username" }, { key: "password", kind: "password" }, { key: "namespaces", kind: "lines", numbers: true, placeholder: "0" },
    { key: "dumpPath", check: "absolute" }, { key: "baseUrl", check: "url" }] },
  CONFLUENCE: { fields: [{ key: "baseUrl", required: true, check: "url", placeholder: "https://example.atlassian.net/wiki" },
    { key: "username" }, { key: "apiToken", kind: "password" }, { key: "spaceKeys", kind: "lines" }, ...INCLUDE] },
};

// -- the list and its syncs ------------------------------------------------------------------------

function progressOf(job) {
  const running = job && RUNNING.includes(job.Status);
  const bar = el("progress", { max: 1, "aria-label": job ? job.Status : "" });
  if (!running) bar.value = job ? 1 : 0; // indeterminate while running: Kendra gives no total
  return el("div", { class: "sync" }, bar, " ", job ? `${job.Status} ${t.metrics(job.Metrics || {})}` : "");
}

async function syncAction(operation, source) {
  try {
    await kendra(operation, { Id: source.Id, IndexId: current.indexId });
  } catch (e) {
    say(`${t.error}: ${e.message}`, "error");
  }
  refreshSources();
}

// A document id as people read it (file:// URIs are percent-encoded).
function readable(id) {
  try { return decodeURI(id); } catch { return id; }
}

// The connector type of a TEMPLATE source (DescribeDataSource, asked once per source).
async function kindOf(source) {
  if (source.Type !== "TEMPLATE") return source.Type;
  if (!state.kinds.has(source.Id)) {
    const described = await kendra("DescribeDataSource", { Id: source.Id, IndexId: current.indexId }).catch(() => null);
    const type = described?.Configuration?.TemplateConfiguration?.Template?.type;
    if (type) state.kinds.set(source.Id, type);
  }
  return state.kinds.get(source.Id) || source.Type;
}

async function testSource(body, out) {
  out.className = "test-result";
  out.textContent = t.testing;
  try {
    const r = await kendra("KensakuTestDataSourceConnection", { IndexId: current.indexId, ...body });
    out.classList.add(r.Status === "SUCCEEDED" ? "ok" : "error");
    out.dataset.status = r.Status;
    const text = r.Status === "SUCCEEDED" ? t.testOk(r) : r.Status === "FAILED" ? t.testFailed(r) : t.testSlow(r);
    const sample = (r.SampleDocumentIds || []).slice(0, 3).map(readable);
    out.replaceChildren(el("span", { text }), sample.length ? el("small", { text: ` ${t.sample} ${sample.join(", ")}` }) : null);
  } catch (e) {
    out.classList.add("error");
    out.dataset.status = "REFUSED";
    out.textContent = e.notBuilt ? t.notAvailable : e.message;
  }
}

async function loadSources() {
  const indexId = current.indexId;
  const sources = await allPages("ListDataSources", { IndexId: indexId, MaxResults: 50 }, "SummaryItems");
  const histories = await Promise.all(sources.map((s) => kendra("ListDataSourceSyncJobs",
    { Id: s.Id, IndexId: indexId, MaxResults: 10 }).then((r) => r.History || []).catch(() => [])));
  const kinds = await Promise.all(sources.map(kindOf));
  state.jobs = sources.map((s, n) => ({ source: s, history: histories[n] }));
  const running = histories.some((h) => h.some((j) => RUNNING.includes(j.Status)));
  if (state.running && !running) { hooks.indexesChanged(); hooks.failuresChanged(); } // a sync ended
  state.running = running;
  clearTimeout(state.poll);
  if (running) state.poll = setTimeout(refreshSources, 1000); // live progress while a sync runs
  if (!sources.length) return note(t.none);
  const rows = sources.map((s, n) => {
    const last = [...histories[n]].sort((a, b) => (b.StartTime || 0) - (a.StartTime || 0))[0];
    const busy = last && RUNNING.includes(last.Status);
    const start = el("button", { type: "button", class: "start", text: t.start, disabled: busy });
    const stop = el("button", { type: "button", class: "stop", text: t.stop, disabled: !busy });
    const test = el("button", { type: "button", class: "test", text: t.test, hidden: s.Type === "CUSTOM" });
    const edit = el("button", { type: "button", class: "edit", text: t.edit });
    const out = el("div", { class: "test-result", role: "status" });
    start.addEventListener("click", () => syncAction("StartDataSourceSyncJob", s));
    stop.addEventListener("click", () => syncAction("StopDataSourceSyncJob", s));
    test.addEventListener("click", () => testSource({ Id: s.Id }, out));
    edit.addEventListener("click", () => editSource(s.Id));
    const remove = deleteButton(async () => {
      await kendra("DeleteDataSource", { Id: s.Id, IndexId: indexId });
      say(t.sourceDeleted(s.Name));
      await refreshSources();
      hooks.indexesChanged();
    });
    const failure = last?.ErrorMessage ? el("div", { class: "error", text: last.ErrorMessage }) : null;
    return el("tr", { "data-data-source-id": s.Id }, cells([s.Name, kinds[n], s.Status,
      last ? when(last.StartTime) : "", el("div", {}, progressOf(last), failure),
      el("div", { class: "actions" }, el("span", {}, start, " ", stop, " ", test, " ", edit, " ", remove), out)]));
  });
  return table([t.name, t.type, t.status, t.lastSync, "", ""], rows);
}

export async function refreshSources() {
  if (!current.indexId) return;
  await panel("data-sources", loadSources);
}

// -- the form --------------------------------------------------------------------------------------

function control(spec, value) {
  const label = t.sourceFields[spec.key] || spec.key;
  const attrs = { name: spec.key, placeholder: spec.placeholder, "data-label": label };
  let input;
  if (spec.kind === "lines") input = el("textarea", { ...attrs, rows: 2 });
  else if (spec.kind === "checkbox") input = el("input", { ...attrs, type: "checkbox", checked: !!value });
  else if (spec.kind === "number") input = el("input", { ...attrs, type: "number", min: spec.min, max: spec.max });
  else input = el("input", { ...attrs, type: spec.kind === "password" ? "password" : "text", autocomplete: "off" });
  if (spec.kind === "lines") input.value = Array.isArray(value) ? value.join("\n") : "";
  else if (spec.kind !== "checkbox" && value !== undefined && value !== null) input.value = String(value);
  return field(label + (spec.required ? " *" : ""), input, spec.hint ? t[spec.hint] : null);
}

function typeFields(type, template) {
  const box = $("source-form").querySelector(".type-fields");
  const spec = TYPES[type];
  const endpoint = template?.connectionConfiguration?.repositoryEndpointMetadata || {};
  const additional = template?.additionalProperties || {};
  box.replaceChildren(...(spec ? spec.fields.map((f) => control(f, (f.where === "additional" ? additional : endpoint)[f.key])) : []));
  box.hidden = !spec;
  const form = $("source-form");
  form.elements.Schedule.closest("label").hidden = !spec;
  form.elements.syncMode.closest("label").hidden = !spec;
  form.querySelector(".test").hidden = !spec;
}

function fillForm(described) {
  const form = $("source-form");
  const template = described?.Configuration?.TemplateConfiguration?.Template;
  const type = described ? (described.Type === "TEMPLATE" ? template?.type : described.Type) : "FILESYSTEM";
  const types = [...Object.keys(TYPES).map((k) => [k, k]), ["CUSTOM", t.customSource]];
  const kind = select("type", types, type);
  kind.disabled = !!described; // a data source keeps its type
  kind.addEventListener("change", () => { typeFields(kind.value, null); formError(form, ""); });
  form.querySelector(".common").replaceChildren(
    field(t.name + " *", el("input", { name: "Name", value: described?.Name || "", maxlength: 1000, "data-label": t.name })),
    field(t.sourceType, kind),
    field(t.language, select("LanguageCode", [["", t.languageAuto], ["ja", "日本語"], ["en", "English"]], described?.LanguageCode || "")),
    field(t.schedule, el("input", { name: "Schedule", value: described?.Schedule || "", placeholder: "0 3 * * *" }), t.scheduleHint),
    field(t.syncMode, select("syncMode", Object.entries(t.syncModes), template?.syncMode || "FULL_CRAWL")));
  typeFields(type, template);
  form.dataset.editing = described?.Id || "";
  form.querySelector(".test-result").textContent = "";
  formError(form, "");
  $("source-form-title").textContent = described ? `${t.editSource}: ${described.Name}` : t.addSource;
}

async function editSource(id) {
  const described = await kendra("DescribeDataSource", { Id: id, IndexId: current.indexId });
  fillForm(described);
  $("source-form-box").open = true;
  $("source-form").elements.Name.focus();
}

// The form's values as CreateDataSource members, or a message (and the control at fault).
function read(form) {
  const type = form.elements.type.value;
  const name = form.elements.Name;
  if (!name.value.trim()) return { error: t.required(t.name), control: name };
  if (!NAME.test(name.value.trim())) return { error: t.nameBad(t.name), control: name };
  const out = { Name: name.value.trim(), Type: type === "CUSTOM" ? "CUSTOM" : "TEMPLATE" };
  if (form.elements.LanguageCode.value) out.LanguageCode = form.elements.LanguageCode.value;
  const spec = TYPES[type];
  if (!spec) return { request: out };
  const endpoint = {};
  const additional = { inclusionPatterns: [], exclusionPatterns: [] };
  for (const f of spec.fields) {
    const input = form.elements[f.key];
    const label = input.dataset.label;
    let value;
    if (f.kind === "checkbox") value = input.checked;
    else if (f.kind === "lines") value = lines(input.value);
    else value = input.value.trim();
    const empty = value === "" || (Array.isArray(value) && !value.length);
    if (f.required && empty) return { error: t.required(label), control: input };
    if (empty && f.where !== "additional") continue;
    const values = Array.isArray(value) ? value : [value];
    if (f.check === "absolute" && !values.every((v) => v.startsWith("/"))) return { error: t.absolutePath(label), control: input };
    if ((f.check === "url" || f.check === "urls") && !values.every((v) => /^https?:\/\/\S+$/.test(v))) {
      return { error: t.urlNeeded(label), control: input };
    }
    if (f.kind === "number") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < f.min || n > f.max) return { error: t.numberRange(label, f.min, f.max), control: input };
      value = n;
    }
    if (f.numbers) {
      if (!value.every((v) => /^\d+$/.test(v))) return { error: t.numberRange(label, 0, 9999), control: input };
      value = value.map(Number);
    }
    (f.where === "additional" ? additional : endpoint)[f.key] = value;
  }
  if (spec.one && !spec.one.some((k) => endpoint[k] !== undefined)) {
    const [a, b] = spec.one.map((k) => t.sourceFields[k]);
    return { error: t.oneOf(a, b), control: form.elements[spec.one[0]] };
  }
  out.Configuration = { TemplateConfiguration: { Template: { type, syncMode: form.elements.syncMode.value,
    connectionConfiguration: { repositoryEndpointMetadata: endpoint }, additionalProperties: additional } } };
  out.RoleArn = ROLE;
  const schedule = form.elements.Schedule.value.trim();
  if (schedule) out.Schedule = schedule;
  return { request: out };
}

async function save(event) {
  event.preventDefault();
  const form = $("source-form");
  const { request, error, control: at } = read(form);
  if (error) { formError(form, error, at); return; }
  const editing = form.dataset.editing;
  const done = await submitting(form, async () => {
    if (editing) {
      const { Type, ...update } = request;
      await kendra("UpdateDataSource", { ...update, Id: editing, IndexId: current.indexId,
        ...(Type === "TEMPLATE" && !update.Schedule ? { Schedule: "" } : {}) });
    } else {
      await kendra("CreateDataSource", { ...request, IndexId: current.indexId });
    }
    return true;
  });
  if (!done) return;
  say(t.sourceSaved(request.Name));
  $("source-form-box").open = false;
  fillForm(null);
  await refreshSources();
}

async function testDraft() {
  const form = $("source-form");
  const { request, error, control: at } = read(form);
  if (error) { formError(form, error, at); return; }
  formError(form, "");
  await testSource({ Type: request.Type, Configuration: request.Configuration }, form.querySelector(".test-result"));
}

export function wireSourceForm() {
  const form = $("source-form");
  form.querySelector(".test").textContent = t.test;
  form.querySelector(".save").textContent = t.save;
  form.querySelector(".cancel").textContent = t.cancel;
  form.querySelector(".cancel").addEventListener("click", () => { $("source-form-box").open = false; fillForm(null); });
  form.querySelector(".test").addEventListener("click", testDraft);
  form.addEventListener("submit", save);
  fillForm(null);
}
