// The search page: a Kendra client. State lives in the URL (?q=…&lang=…&page=…&sort=…&date=…&f.<key>=…).
import { kendra, pageConfig, highlighted, el, safeUrl } from "./kendra.js";
import { uiLanguage, messages, detectLanguage } from "./i18n.js";

const PAGE_SIZE = 10;
const MAX_PAGES = 10; // Kendra reaches only the first 100 results
const FACET_KEYS = ["_data_source_id", "_category", "_file_type", "_authors"];
const SHOWN_ATTRIBUTES = ["_source_uri", "_last_updated_at", "_created_at", "_authors", "_category",
  "_file_type", "_language_code", "_data_source_id"];
const DATE_KEYS = ["_last_updated_at", "_created_at"];
const RANGES = { week: 7, month: 31, year: 366 };
// ScoreConfidence buckets, weakest first; from MEDIUM up a result is likely relevant.
const BUCKETS = ["NOT_AVAILABLE", "LOW", "MEDIUM", "HIGH", "VERY_HIGH"];
const RELEVANT = BUCKETS.slice(2);

const ui = uiLanguage();
const m = messages(ui);
const $ = (id) => document.getElementById(id);

const state = { config: null, fields: new Map(), sourceNames: new Map(), suggestionsOn: true, lastQueryId: null, seq: 0 };
// Data source ids are shown by name where the server lists data sources.
const shownValue = (key, value) => (key === "_data_source_id" && state.sourceNames.get(value)) || value;

// -- URL state ------------------------------------------------------------------------------------

function readUrl() {
  const p = new URLSearchParams(location.search);
  const filters = {};
  for (const [key, value] of p) {
    if (key.startsWith("f.")) (filters[key.slice(2)] ||= []).push(value);
  }
  const lang = ["ja", "en", "all"].includes(p.get("lang")) ? p.get("lang") : "all";
  const page = Math.min(Math.max(parseInt(p.get("page") || "1", 10) || 1, 1), MAX_PAGES);
  return { q: p.get("q") || "", lang, page, sort: p.get("sort") === "date" ? "date" : "relevance",
    date: RANGES[p.get("date")] ? p.get("date") : "", filters };
}

function urlOf(s) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  p.set("lang", s.lang);
  if (s.page > 1) p.set("page", String(s.page));
  if (s.sort === "date") p.set("sort", "date");
  if (s.date) p.set("date", s.date);
  for (const [key, values] of Object.entries(s.filters)) for (const v of values) p.append("f." + key, v);
  const asked = new URLSearchParams(location.search).get("ui");
  if (asked) p.set("ui", asked);
  return "/?" + p.toString();
}

function navigate(s, { replace = false } = {}) {
  const url = urlOf(s);
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  run(s);
}

// -- the Query request --------------------------------------------------------------------------------

function equalsTo(key, value) {
  return { EqualsTo: { Key: key, Value: { StringValue: value } } };
}

function attributeFilter(s) {
  const all = [];
  if (s.lang === "all") all.push({ OrAllFilters: [equalsTo("_language_code", "ja"), equalsTo("_language_code", "en")] });
  else all.push(equalsTo("_language_code", s.lang));
  for (const [key, values] of Object.entries(s.filters)) {
    const field = state.fields.get(key);
    if (!field || !values.length) continue;
    if (field.Type === "STRING_LIST") {
      all.push({ ContainsAny: { Key: key, Value: { StringListValue: values } } });
    } else if (values.length === 1) {
      all.push(equalsTo(key, values[0]));
    } else {
      all.push({ OrAllFilters: values.slice(0, 10).map((v) => equalsTo(key, v)) });
    }
  }
  const dateKey = DATE_KEYS.find((k) => state.fields.has(k));
  if (s.date && dateKey) {
    const since = Date.now() / 1000 - RANGES[s.date] * 86400;
    all.push({ GreaterThanOrEquals: { Key: dateKey, Value: { DateValue: since } } });
  }
  return all.length === 1 ? all[0] : { AndAllFilters: all };
}

function queryRequest(s) {
  const request = {
    // Kendra refuses a QueryText over 1,000 characters: a pasted paragraph is cut, not refused.
    IndexId: state.config.indexId, QueryText: s.q.slice(0, 1000), PageSize: PAGE_SIZE, PageNumber: s.page,
    AttributeFilter: attributeFilter(s),
    RequestedDocumentAttributes: SHOWN_ATTRIBUTES.filter((k) => state.fields.has(k)),
    SpellCorrectionConfiguration: { IncludeQuerySpellCheckSuggestions: true },
  };
  const facets = FACET_KEYS.filter((k) => state.fields.get(k)?.Search?.Facetable)
    .concat([...state.fields.values()].filter((f) => f.Search?.Facetable && !f.Name.startsWith("_") &&
      (f.Type === "STRING_VALUE" || f.Type === "STRING_LIST_VALUE")).map((f) => f.Name));
  if (facets.length) request.Facets = facets.map((k) => ({ DocumentAttributeKey: k, MaxResults: 10 }));
  const dateKey = DATE_KEYS.find((k) => state.fields.get(k)?.Search?.Sortable);
  if (s.sort === "date" && dateKey) request.SortingConfiguration = { DocumentAttributeKey: dateKey, SortOrder: "DESC" };
  return request;
}

// -- rendering -----------------------------------------------------------------------------------------

function attr(item, key) {
  const found = (item.DocumentAttributes || []).find((a) => a.Key === key);
  if (!found) return null;
  const v = found.Value;
  if (v.StringValue !== undefined) return v.StringValue;
  if (v.StringListValue !== undefined) return v.StringListValue.join(", ");
  if (v.LongValue !== undefined) return String(v.LongValue);
  if (v.DateValue !== undefined) {
    const d = new Date(typeof v.DateValue === "number" ? v.DateValue * 1000 : v.DateValue);
    return d.toLocaleDateString(ui === "ja" ? "ja-JP" : "en-US", { year: "numeric", month: "short", day: "numeric" });
  }
  return null;
}

function feedback(item, relevance) {
  const body = { IndexId: state.config.indexId, QueryId: state.lastQueryId };
  if (relevance) body.RelevanceFeedbackItems = [{ ResultId: item.Id, RelevanceValue: relevance }];
  else body.ClickFeedbackItems = [{ ResultId: item.Id, ClickTime: Date.now() / 1000 }];
  // keepalive: the click is recorded even though the browser leaves the page for the document.
  return kendra("SubmitFeedback", body, { keepalive: true }).catch(() => {});
}

function titleNode(item) {
  const title = item.DocumentTitle && item.DocumentTitle.Text ? highlighted(item.DocumentTitle)
    : document.createTextNode(item.DocumentId);
  const href = item.DocumentURI ? safeUrl(item.DocumentURI) : null;
  if (!href) return el("span", { class: "title" }, title);
  const a = el("a", { href, class: "title", "data-result-id": item.Id }, title);
  const record = () => feedback(item);
  a.addEventListener("click", record);
  a.addEventListener("auxclick", (e) => { if (e.button === 1) record(); });
  return a;
}

function feedbackButtons(item) {
  const box = el("span", { class: "votes" });
  const vote = (value, button) => {
    feedback(item, value);
    for (const b of box.querySelectorAll("button")) b.disabled = true;
    button.setAttribute("aria-pressed", "true");
    box.append(el("span", { class: "thanks", text: m.thanks }));
  };
  const up = el("button", { type: "button", class: "vote up", text: m.helpful });
  const down = el("button", { type: "button", class: "vote down", text: m.notHelpful });
  up.addEventListener("click", () => vote("RELEVANT", up));
  down.addEventListener("click", () => vote("NOT_RELEVANT", down));
  box.append(up, down);
  return box;
}

function resultNode(item) {
  const meta = [shownValue("_data_source_id", attr(item, "_data_source_id")), attr(item, "_category"), attr(item, "_file_type"),
    attr(item, "_last_updated_at") || attr(item, "_created_at"), attr(item, "_authors")].filter(Boolean);
  const uri = item.DocumentURI ? safeUrl(item.DocumentURI) : null;
  return el("li", { class: "result", "data-document-id": item.DocumentId },
    el("h2", {}, titleNode(item)),
    uri ? el("div", { class: "uri", text: uri }) : null,
    item.DocumentExcerpt ? el("p", { class: "excerpt" }, highlighted(item.DocumentExcerpt)) : null,
    el("div", { class: "meta" }, meta.map((v) => el("span", { text: v })), feedbackButtons(item)));
}

function answerValue(item, key) {
  const a = (item.AdditionalAttributes || []).find((x) => x.Key === key);
  return a && a.Value && a.Value.TextWithHighlightsValue;
}

function renderAnswer(items) {
  const box = $("answer");
  box.replaceChildren();
  const item = items.find((i) => i.Type === "ANSWER" || i.Type === "QUESTION_ANSWER");
  box.hidden = !item;
  if (!item) return;
  const question = item.Type === "QUESTION_ANSWER" ? answerValue(item, "QuestionText") : null;
  const answer = answerValue(item, "AnswerText") || item.DocumentExcerpt;
  box.append(el("h2", { text: m.answer }),
    question ? el("p", { class: "question" }, highlighted(question)) : null,
    answer ? el("p", { class: "answer-text" }, highlighted(answer, "hit")) : null,
    el("div", { class: "answer-source" }, titleNode(item), feedbackButtons(item)));
}

function renderFacets(s, facetResults) {
  const box = $("facets");
  box.replaceChildren();
  for (const facet of facetResults || []) {
    const key = facet.DocumentAttributeKey;
    const pairs = facet.DocumentAttributeValueCountPairs || [];
    const chosen = s.filters[key] || [];
    if (!pairs.length && !chosen.length) continue;
    const label = m.facet[key] || key;
    const list = el("ul", {});
    const seen = new Set();
    for (const pair of pairs) {
      const v = pair.DocumentAttributeValue.StringValue ?? (pair.DocumentAttributeValue.StringListValue || []).join(", ");
      if (v === undefined || v === null) continue;
      seen.add(v);
      list.append(facetOption(s, key, v, pair.Count, chosen.includes(v)));
    }
    for (const v of chosen) if (!seen.has(v)) list.append(facetOption(s, key, v, 0, true));
    box.append(el("fieldset", { class: "facet", "data-facet": key }, el("legend", { text: label }), list));
  }
  const dateKey = DATE_KEYS.find((k) => state.fields.has(k));
  if (dateKey) {
    const select = el("select", { id: "date-range", "aria-label": m.date });
    for (const [value, text] of [["", m.anyTime], ["week", m.pastWeek], ["month", m.pastMonth], ["year", m.pastYear]]) {
      select.append(el("option", { value, text, selected: s.date === value }));
    }
    select.addEventListener("change", () => navigate({ ...s, date: select.value, page: 1 }));
    box.append(el("label", { class: "date-range" }, el("span", { text: m.date }), select));
  }
}

function facetOption(s, key, value, count, checked) {
  const input = el("input", { type: "checkbox", value, checked });
  input.addEventListener("change", () => {
    const values = new Set(s.filters[key] || []);
    if (input.checked) values.add(value); else values.delete(value);
    navigate({ ...s, filters: { ...s.filters, [key]: [...values] }, page: 1 });
  });
  return el("li", {}, el("label", {}, input, el("span", { class: "value", text: shownValue(key, value) }),
    el("span", { class: "count", text: String(count) })));
}

function renderSort(s) {
  const box = $("sort-box");
  box.replaceChildren();
  if (!DATE_KEYS.some((k) => state.fields.get(k)?.Search?.Sortable)) return;
  const select = el("select", { id: "sort", "aria-label": m.sort });
  select.append(el("option", { value: "relevance", text: m.relevance, selected: s.sort === "relevance" }),
    el("option", { value: "date", text: m.newest, selected: s.sort === "date" }));
  select.addEventListener("change", () => navigate({ ...s, sort: select.value, page: 1 }));
  box.append(el("label", { class: "sort" }, el("span", { text: m.sort }), select));
}

function renderPager(s, total) {
  const pager = $("pager");
  pager.replaceChildren();
  const pages = Math.min(Math.ceil(total / PAGE_SIZE), MAX_PAGES);
  if (pages <= 1) return;
  pager.setAttribute("aria-label", m.pages);
  const link = (n, text, rel) => {
    const a = el("a", { href: urlOf({ ...s, page: n }), text, rel, "aria-label": rel ? null : m.page(n),
      "aria-current": n === s.page ? "page" : null });
    a.addEventListener("click", (e) => { e.preventDefault(); navigate({ ...s, page: n }); $("results").focus(); });
    return a;
  };
  if (s.page > 1) pager.append(link(s.page - 1, m.prev, "prev"));
  for (let n = 1; n <= pages; n++) pager.append(link(n, String(n)));
  if (s.page < pages) pager.append(link(s.page + 1, m.next, "next"));
}

function renderDidYouMean(s, response) {
  const box = $("did-you-mean");
  box.replaceChildren();
  const suggestion = (response.SpellCorrectedQueries || [])[0];
  box.hidden = !suggestion;
  if (!suggestion) return;
  const text = suggestion.SuggestedQueryText;
  const corrected = new Set((suggestion.Corrections || []).map((c) => c.CorrectedTerm).filter(Boolean));
  const a = el("a", { href: urlOf({ ...s, q: text, page: 1 }), id: "did-you-mean-link" });
  // Bold the corrected words, found in order in the suggested text.
  let rest = text;
  for (const term of corrected) {
    const at = rest.indexOf(term);
    if (at < 0) continue;
    a.append(rest.slice(0, at), el("b", { text: term }));
    rest = rest.slice(at + term.length);
  }
  a.append(rest);
  a.addEventListener("click", (e) => { e.preventDefault(); $("q").value = text; navigate({ ...s, q: text, page: 1 }); });
  box.append(el("span", { text: m.didYouMean + " " }), a);
}

// A link to another search state, followed in the page.
function stateLink(text, next) {
  const a = el("a", { href: urlOf(next), text });
  a.addEventListener("click", (e) => { e.preventDefault(); navigate(next); });
  return a;
}

// Ways out of a search that found nothing (relevant): the suggested spelling, both languages, no filters.
function wayOut(s, suggestion) {
  const actions = el("p", { class: "actions" });
  if (suggestion) actions.append(stateLink(m.trySuggestion(suggestion), { ...s, q: suggestion, page: 1 }), " ");
  if (s.lang !== "all") actions.append(stateLink(m.searchBoth, { ...s, lang: "all", page: 1 }), " ");
  if (Object.values(s.filters).some((v) => v.length) || s.date) {
    actions.append(stateLink(m.clearFilters, { ...s, filters: {}, date: "", page: 1 }));
  }
  return actions;
}

function renderEmpty(s) {
  const box = $("empty");
  box.replaceChildren(el("p", { class: "none", text: m.noResults(s.q) }), el("ul", {}, m.help.map((h) => el("li", { text: h }))),
    wayOut(s, null));
  box.hidden = false;
}

// Results came back but none is likely relevant (a relevance-ranked first page whose items carry
// ScoreConfidence, all below MEDIUM). A server that sends no buckets is never judged.
function nothingRelevant(request, items) {
  if (request.PageNumber !== 1 || request.SortingConfiguration) return false;
  const buckets = items.map((i) => i.ScoreAttributes?.ScoreConfidence).filter((b) => BUCKETS.includes(b));
  return buckets.length > 0 && !buckets.some((b) => RELEVANT.includes(b));
}

// Say so plainly, offer ways out, and keep the weak matches behind a button.
function renderWeak(s, response, total, reveal) {
  const box = $("weak");
  const suggestion = (response.SpellCorrectedQueries || [])[0]?.SuggestedQueryText;
  box.replaceChildren(el("p", { class: "none", text: m.nothingRelevant(s.q) }),
    el("ul", {}, [...m.weakHelp, s.lang === "all" ? null : m.weakBoth].filter(Boolean).map((h) => el("li", { text: h }))),
    wayOut(s, suggestion));
  if (total > 0) {
    const show = el("button", { type: "button", id: "show-weak", class: "link-button", text: m.showWeak(total) });
    show.addEventListener("click", () => { show.remove(); reveal(); });
    box.append(el("p", { class: "reveal" }, show));
  }
  box.hidden = false;
}

function renderLangs(s) {
  const nav = $("langs");
  nav.replaceChildren();
  for (const [value, text] of [["all", m.langAll], ["ja", m.langJa], ["en", m.langEn]]) {
    const a = el("a", { href: urlOf({ ...s, lang: value, page: 1 }), text, "aria-current": s.lang === value ? "true" : null,
      "data-lang": value });
    a.addEventListener("click", (e) => { e.preventDefault(); if (s.q) navigate({ ...s, lang: value, page: 1 }); else { history.replaceState(null, "", urlOf({ ...s, lang: value })); renderLangs({ ...s, lang: value }); } });
    nav.append(a);
  }
  if (s.q) nav.append(el("span", { class: "detected", text: m.detected[detectLanguage(s.q)] }));
}

function clearResults() {
  for (const id of ["result-list", "facets", "pager", "status", "did-you-mean"]) $(id).replaceChildren();
  $("answer").hidden = true;
  $("empty").hidden = true;
  $("weak").hidden = true;
  $("result-list").hidden = false;
  $("did-you-mean").hidden = true;
}

async function run(s) {
  const seq = ++state.seq;
  $("q").value = s.q;
  renderLangs(s);
  renderSort(s);
  document.title = s.q ? `${s.q} - Kensaku` : "Kensaku 検索";
  if (!s.q) { clearResults(); return; }
  if (!state.config?.indexId) { clearResults(); $("status").textContent = m.noIndex; return; }
  $("status").textContent = m.loading;
  document.body.classList.add("busy");
  const request = queryRequest(s);
  let response;
  try {
    response = await kendra("Query", request);
  } catch (e) {
    if (seq !== state.seq) return;
    clearResults();
    $("status").textContent = `${m.error}: ${e.message}`;
    document.body.classList.remove("busy");
    return;
  }
  if (seq !== state.seq) return; // a newer search was started
  document.body.classList.remove("busy");
  state.lastQueryId = response.QueryId;
  const items = response.ResultItems || [];
  const documents = items.filter((i) => i.Type === "DOCUMENT" || !i.Type);
  const total = response.TotalNumberOfResults || 0;
  renderAnswer(items);
  renderDidYouMean(s, response);
  renderFacets(s, response.FacetResults);
  const list = $("result-list");
  list.replaceChildren(...documents.map(resultNode));
  list.start = (s.page - 1) * PAGE_SIZE + 1;
  const from = (s.page - 1) * PAGE_SIZE + 1;
  const showResults = () => {
    list.hidden = false;
    $("status").textContent = documents.length ? m.results(total, from, from + documents.length - 1) : "";
    renderPager(s, total);
  };
  $("empty").hidden = true;
  $("weak").hidden = true;
  if (nothingRelevant(request, items)) {
    list.hidden = true;
    $("status").textContent = "";
    $("pager").replaceChildren();
    renderWeak(s, response, documents.length ? total : 0, () => {
      showResults();
      (list.querySelector("h2 a") || $("results")).focus();
    });
  } else {
    showResults();
  }
  if (!items.length) renderEmpty(s);
  document.body.dataset.queryId = response.QueryId; // for tests and tools: the last answered query
}

// -- suggestions as you type ------------------------------------------------------------------------

const suggest = { timer: 0, composing: false, items: [], active: -1, seq: 0 };

function closeSuggestions() {
  clearTimeout(suggest.timer);
  suggest.seq++; // an answer still on its way is dropped: the box was closed (search, Escape, blur)
  suggest.items = [];
  suggest.active = -1;
  $("suggestions").hidden = true;
  $("suggestions").replaceChildren();
  $("q").setAttribute("aria-expanded", "false");
  $("q").removeAttribute("aria-activedescendant");
}

function showSuggestions(list) {
  const box = $("suggestions");
  suggest.items = list;
  suggest.active = -1;
  box.replaceChildren(...list.map((s, n) => {
    const li = el("li", { id: `suggestion-${n}`, role: "option", "aria-selected": "false" },
      highlighted(s.Value && s.Value.Text));
    li.addEventListener("mousedown", (e) => { e.preventDefault(); pick(n); });
    return li;
  }));
  box.hidden = !list.length;
  $("q").setAttribute("aria-expanded", list.length ? "true" : "false");
}

function moveActive(delta) {
  if (!suggest.items.length) return;
  let next = suggest.active + delta; // -1: back in the box, nothing chosen
  if (next < -1) next = suggest.items.length - 1;
  if (next >= suggest.items.length) next = -1;
  suggest.active = next;
  [...$("suggestions").children].forEach((li, n) => li.setAttribute("aria-selected", String(n === suggest.active)));
  if (suggest.active >= 0) $("q").setAttribute("aria-activedescendant", `suggestion-${suggest.active}`);
  else $("q").removeAttribute("aria-activedescendant");
}

function pick(n) {
  const text = suggest.items[n]?.Value?.Text?.Text;
  closeSuggestions();
  if (text) { $("q").value = text; submit(); }
}

async function fetchSuggestions() {
  const text = $("q").value.trim();
  if (!state.suggestionsOn || !text || !state.config?.indexId) { closeSuggestions(); return; }
  const seq = ++suggest.seq;
  try {
    const r = await kendra("GetQuerySuggestions", { IndexId: state.config.indexId, QueryText: text.slice(0, 100),
      MaxSuggestionsCount: 8 });
    if (seq === suggest.seq && !suggest.composing) showSuggestions(r.Suggestions || []);
  } catch (e) {
    if (e.notBuilt) state.suggestionsOn = false; // this server has no suggestions: stop asking
    closeSuggestions();
  }
}

function scheduleSuggestions() {
  clearTimeout(suggest.timer);
  suggest.timer = setTimeout(fetchSuggestions, 120);
}

function submit() {
  const q = $("q").value.trim();
  closeSuggestions();
  const s = readUrl();
  navigate({ ...s, q, page: 1, filters: q === s.q ? s.filters : {} });
}

function wireInput() {
  const q = $("q");
  // IME (kana → kanji): nothing is asked while a composition is open; its end asks once.
  q.addEventListener("compositionstart", () => { suggest.composing = true; clearTimeout(suggest.timer); });
  q.addEventListener("compositionend", () => { suggest.composing = false; scheduleSuggestions(); });
  q.addEventListener("input", (e) => { if (!suggest.composing && !e.isComposing) scheduleSuggestions(); });
  q.addEventListener("keydown", (e) => {
    if (e.isComposing || e.keyCode === 229) return; // Enter that confirms a conversion is not a search
    if (e.key === "ArrowDown") { e.preventDefault(); moveActive(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); moveActive(-1); }
    else if (e.key === "Escape") closeSuggestions();
    else if (e.key === "Enter" && suggest.active >= 0) { e.preventDefault(); pick(suggest.active); }
  });
  q.addEventListener("blur", () => setTimeout(closeSuggestions, 100));
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
}

// -- start -------------------------------------------------------------------------------------------

// Nothing to search yet (no index, or an index without documents): say what to do next, with the way
// to the admin page where it is done.
function showWelcome(heading) {
  $("welcome").replaceChildren(
    el("h2", { text: heading }),
    el("ol", {}, m.welcome.steps.map((step) => el("li", { text: step }))),
    el("p", {}, el("a", { href: "/admin", id: "welcome-admin", class: "button-link", text: m.welcome.open })),
    el("p", { id: "welcome-demo", text: m.welcome.demo }),
    el("p", { class: "note", text: m.welcome.signIn }));
  $("welcome").hidden = false;
}

async function start() {
  document.documentElement.lang = ui;
  $("q").placeholder = m.placeholder;
  $("q").setAttribute("aria-label", m.title);
  $("go").textContent = m.search;
  $("filters-title").textContent = m.filters;
  $("suggestions").setAttribute("aria-label", m.suggestions);
  const other = ui === "ja" ? "en" : "ja";
  $("ui-switch").textContent = m.uiSwitch;
  $("ui-switch").lang = other;
  $("ui-switch").addEventListener("click", () => {
    const p = new URLSearchParams(location.search);
    p.set("ui", other);
    location.search = p.toString();
  });
  if (matchMedia("(max-width: 640px)").matches) $("filters-box").open = false;
  wireInput();
  window.addEventListener("popstate", () => run(readUrl()));
  const s = readUrl();
  $("q").value = s.q;
  try {
    state.config = await pageConfig();
    if (state.config.user) $("user").textContent = m.signedInAs(state.config.user);
    if (!state.config.indexId) showWelcome(m.welcome.noIndex);
    if (state.config.indexId) {
      const index = await kendra("DescribeIndex", { Id: state.config.indexId });
      for (const f of index.DocumentMetadataConfigurations || []) state.fields.set(f.Name, f);
      const stats = index.IndexStatistics || {};
      if (!stats.TextDocumentStatistics?.IndexedTextDocumentsCount && !stats.FaqStatistics?.IndexedQuestionAnswersCount) {
        showWelcome(m.welcome.noDocuments);
      }
      if (state.fields.has("_data_source_id")) {
        kendra("ListDataSources", { IndexId: state.config.indexId, MaxResults: 50 })
          .then((r) => { for (const d of r.SummaryItems || []) state.sourceNames.set(d.Id, d.Name); })
          .catch(() => {}); // no data sources on this server: ids stay ids
      }
    }
  } catch (e) {
    $("status").textContent = `${m.error}: ${e.message}`;
    return;
  }
  document.body.dataset.ready = "true";
  await run(s);
  if (!s.q) $("q").focus();
}

start();
