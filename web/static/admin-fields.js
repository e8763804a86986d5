// The fields panel: an index's document fields (DescribeIndex), declared and edited with UpdateIndex.
import { kendra, el } from "./kendra.js";
import { t } from "./admin-text.js";
import { $, current, panel, table, cells, field, select, formError, submitting, say } from "./admin-common.js";

const TYPES = ["STRING_VALUE", "STRING_LIST_VALUE", "LONG_VALUE", "DATE_VALUE"];
const FLAGS = ["Facetable", "Searchable", "Displayable", "Sortable"];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$/; // Kendra's pattern, less the leading "_" of built-in fields
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function loadFields() {
  const index = await kendra("DescribeIndex", { Id: current.indexId });
  const fields = [...(index.DocumentMetadataConfigurations || [])]
    .sort((a, b) => (a.Name.startsWith("_") - b.Name.startsWith("_")) || a.Name.localeCompare(b.Name));
  const rows = fields.map((f) => {
    const edit = el("button", { type: "button", class: "edit", text: t.edit });
    edit.addEventListener("click", () => openForm(f, true));
    const flags = FLAGS.map((flag) => (f.Search?.[flag] ? "✓" : ""));
    return el("tr", { "data-field": f.Name }, cells([
      f.Name.startsWith("_") ? el("span", {}, f.Name, " ", el("small", { class: "note", text: t.builtin })) : f.Name,
      t.fieldTypes[f.Type] || f.Type, ...flags, f.Relevance?.Importance ?? "", edit]));
  });
  return table([t.name, t.fieldType, t.facetable, t.searchable, t.displayable, t.sortable, t.importance, ""], rows);
}

// Fill the form for a new field, or for editing ``existing``; ``show``: open it and focus it.
function openForm(existing, show) {
  const form = $("field-form");
  const f = existing || { Name: "", Type: "STRING_VALUE", Search: { Displayable: true } };
  const name = el("input", { name: "name", value: f.Name, maxlength: 30, required: true });
  if (existing) name.readOnly = true;
  const type = select("type", TYPES.map((v) => [v, t.fieldTypes[v]]), f.Type);
  type.disabled = !!existing; // Kendra never changes a field's type
  const importance = el("input", { name: "importance", type: "number", min: 1, max: 10, value: f.Relevance?.Importance ?? "" });
  form.querySelector(".controls").replaceChildren(
    field(t.name, name), field(t.fieldType, type),
    el("div", { class: "checks" }, FLAGS.map((flag) => {
      const box = el("input", { type: "checkbox", name: flag, checked: !!f.Search?.[flag] });
      return el("label", {}, box, " ", t[flag.toLowerCase()]);
    })),
    field(t.importance, importance));
  form.dataset.editing = existing ? existing.Name : "";
  $("field-form-title").textContent = existing ? `${t.editField}: ${existing.Name}` : t.addField;
  formError(form, "");
  if (!show) return;
  $("field-form-box").open = true;
  (existing ? form.elements.Facetable : name).focus();
}

async function save(event) {
  event.preventDefault();
  const form = $("field-form");
  const editing = form.dataset.editing;
  const name = form.elements.name.value.trim();
  if (!name) { formError(form, t.required(t.name), form.elements.name); return; }
  if (!editing && !NAME.test(name)) { formError(form, t.fieldNameBad, form.elements.name); return; }
  const importance = form.elements.importance.value;
  if (importance && !(Number.isInteger(+importance) && +importance >= 1 && +importance <= 10)) {
    formError(form, t.numberRange(t.importance, 1, 10), form.elements.importance);
    return;
  }
  const update = { Name: name, Type: form.elements.type.value,
    Search: Object.fromEntries(FLAGS.map((flag) => [flag, form.elements[flag].checked])) };
  if (importance) update.Relevance = { Importance: +importance };
  const done = await submitting(form, async () => {
    await kendra("UpdateIndex", { Id: current.indexId, DocumentMetadataConfigurationUpdates: [update] });
    for (let n = 0; n < 50; n++) { // UPDATING while the new schema is built
      if ((await kendra("DescribeIndex", { Id: current.indexId })).Status !== "UPDATING") break;
      await sleep(200);
    }
    return true;
  });
  if (!done) return;
  say(t.fieldSaved(name));
  closeForm();
  await panel("fields", loadFields);
}

function closeForm() {
  $("field-form-box").open = false;
  openForm(null, false);
}

export function wireFieldForm() {
  $("field-form-title").textContent = t.addField;
  const form = $("field-form");
  form.querySelector(".save").textContent = t.save;
  form.querySelector(".cancel").textContent = t.cancel;
  form.querySelector(".cancel").addEventListener("click", closeForm);
  form.addEventListener("submit", save);
  openForm(null, false);
}
