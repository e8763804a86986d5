// The admin pages: indexes, data sources and their syncs, sync failures, FAQs, suggestion block lists.
// Every panel is a Kendra call; an operation this server has not built shows "not available".
import { kendra, el } from "./kendra.js";
import { uiLanguage } from "./i18n.js";

const TEXT = {
  ja: {
    heading: "管理", indexes: "インデックス", dataSources: "データソース", failures: "最近の同期エラー", faqs: "FAQ",
    blockLists: "検索候補のブロックリスト", index: "インデックス", name: "名前", status: "状態", edition: "エディション",
    documents: "文書数", textBytes: "テキスト", faqCount: "FAQ 数", updated: "更新", type: "種類", lastSync: "最後の同期",
    start: "同期開始", stop: "同期停止", items: "項目数", format: "形式", language: "言語", notAvailable: "このサーバーではまだ使えません",
    none: "ありません", noFailures: "最近の同期に失敗した文書はありません", search: "検索", dashboard: "ダッシュボード",
    signOut: "ログアウト", error: "読み込めませんでした", failedDocs: (n) => `${n} 件の文書が失敗`,
    metrics: (m) => `走査 ${m.DocumentsScanned ?? 0}・追加 ${m.DocumentsAdded ?? 0}・更新 ${m.DocumentsModified ?? 0}・削除 ${m.DocumentsDeleted ?? 0}・失敗 ${m.DocumentsFailed ?? 0}`,
    perDocument: "文書ごとの理由は BatchGetDocumentStatus で確認できます。",
  },
  en: {
    heading: "Administration", indexes: "Indexes", dataSources: "Data sources", failures: "Recent sync failures", faqs: "FAQs",
    blockLists: "Query suggestion block lists", index: "Index", name: "Name", status: "Status", edition: "Edition",
    documents: "Documents", textBytes: "Text", faqCount: "FAQs", updated: "Updated", type: "Type", lastSync: "Last sync",
    start: "Start sync", stop: "Stop sync", items: "Items", format: "Format", language: "Language",
    notAvailable: "Not available on this server yet", none: "None", noFailures: "No document failed in recent syncs",
    search: "Search", dashboard: "Dashboard", signOut: "Sign out", error: "Could not load",
    failedDocs: (n) => `${n} documents failed`,
    metrics: (m) => `scanned ${m.DocumentsScanned ?? 0} · added ${m.DocumentsAdded ?? 0} · modified ${m.DocumentsModified ?? 0} · deleted ${m.DocumentsDeleted ?? 0} · failed ${m.DocumentsFailed ?? 0}`,
    perDocument: "Per-document reasons: BatchGetDocumentStatus.",
  },
};
const ui = uiLanguage();
const t = TEXT[ui];
const $ = (id) => document.getElementById(id);
const RUNNING = ["SYNCING", "SYNCING_INDEXING", "STOPPING"];
const state = { poll: 0, seq: 0, running: false };

function when(value) {
  if (value === undefined || value === null) return "";
  const d = new Date(typeof value === "number" ? value * 1000 : value);
  return d.toLocaleString(ui === "ja" ? "ja-JP" : "en-US", { dateStyle: "short", timeStyle: "short" });
}

function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  const i = Math.min(Math.floor(Math.log(n) / Math.log(1024)), units.length - 1);
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}

function table(headers, rows, numeric = []) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h, n) => el("th", { class: numeric.includes(n) ? "num" : null, text: h })))),
    el("tbody", {}, rows));
}

function cells(values, numeric = []) {
  return values.map((v, n) => el("td", { class: numeric.includes(n) ? "num" : null }, v instanceof Node ? v : String(v ?? "")));
}

// Fill a panel from a Kendra call; a refusal for an operation not built shows "not available".
async function panel(id, load) {
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

async function allPages(operation, body, key) {
  const out = [];
  let token;
  do {
    const r = await kendra(operation, token ? { ...body, NextToken: token } : body);
    out.push(...(r[key] || []));
    token = r.NextToken;
  } while (token && out.length < 1000);
  return out;
}

async function loadIndexes() {
  const list = await allPages("ListIndices", { MaxResults: 100 }, "IndexConfigurationSummaryItems");
  const select = $("index");
  const chosen = select.value || new URLSearchParams(location.search).get("index");
  select.replaceChildren(...list.map((i) => el("option", { value: i.Id, text: i.Name })));
  if (chosen && list.some((i) => i.Id === chosen)) select.value = chosen;
  const described = await Promise.all(list.map((i) => kendra("DescribeIndex", { Id: i.Id }).catch(() => null)));
  const rows = list.map((i, n) => {
    const d = described[n] || {};
    const text = d.IndexStatistics?.TextDocumentStatistics || {};
    const faq = d.IndexStatistics?.FaqStatistics || {};
    return el("tr", { "data-index-id": i.Id }, cells([i.Name, i.Status, i.Edition, text.IndexedTextDocumentsCount ?? 0,
      bytes(text.IndexedTextBytes), faq.IndexedQuestionAnswersCount ?? 0, when(i.UpdatedAt)], [3, 4, 5]));
  });
  return rows.length ? table([t.name, t.status, t.edition, t.documents, t.textBytes, t.faqCount, t.updated], rows, [3, 4, 5])
    : el("p", { class: "note", text: t.none });
}

function progressOf(job) {
  const running = job && RUNNING.includes(job.Status);
  const bar = el("progress", { max: 1, "aria-label": job ? job.Status : "" });
  if (!running) bar.value = job ? 1 : 0; // indeterminate while running: Kendra gives no total
  return el("div", { class: "sync" }, bar, " ", job ? `${job.Status} ${t.metrics(job.Metrics || {})}` : "");
}

async function syncAction(operation, source, indexId) {
  try {
    await kendra(operation, { Id: source.Id, IndexId: indexId });
  } catch (e) {
    $("status").textContent = `${t.error}: ${e.message}`;
  }
  refreshSources();
}

async function loadSources(indexId) {
  const sources = await allPages("ListDataSources", { IndexId: indexId, MaxResults: 50 }, "SummaryItems");
  const histories = await Promise.all(sources.map((s) => kendra("ListDataSourceSyncJobs",
    { Id: s.Id, IndexId: indexId, MaxResults: 10 }).then((r) => r.History || []).catch(() => [])));
  state.jobs = sources.map((s, n) => ({ source: s, history: histories[n] }));
  const running = histories.some((h) => h.some((j) => RUNNING.includes(j.Status)));
  if (state.running && !running) panel("indexes", loadIndexes); // a sync ended: new document counts
  state.running = running;
  clearTimeout(state.poll);
  if (running) state.poll = setTimeout(refreshSources, 1000); // live progress while a sync runs
  if (!sources.length) return el("p", { class: "note", text: t.none });
  const rows = sources.map((s, n) => {
    const last = [...histories[n]].sort((a, b) => (b.StartTime || 0) - (a.StartTime || 0))[0];
    const busy = last && RUNNING.includes(last.Status);
    const start = el("button", { type: "button", class: "start", text: t.start, disabled: busy });
    const stop = el("button", { type: "button", class: "stop", text: t.stop, disabled: !busy });
    start.addEventListener("click", () => syncAction("StartDataSourceSyncJob", s, indexId));
    stop.addEventListener("click", () => syncAction("StopDataSourceSyncJob", s, indexId));
    return el("tr", { "data-data-source-id": s.Id }, cells([s.Name, s.Type, s.Status,
      last ? when(last.StartTime) : "", progressOf(last), el("span", {}, start, " ", stop)]));
  });
  return table([t.name, t.type, t.status, t.lastSync, "", ""], rows);
}

function loadFailures() {
  const rows = [];
  for (const { source, history } of state.jobs || []) {
    for (const job of history) {
      const failed = Number(job.Metrics?.DocumentsFailed || 0);
      if (!failed && !job.ErrorMessage) continue;
      rows.push(el("tr", {}, cells([source.Name, when(job.StartTime), failed ? t.failedDocs(failed) : "",
        [job.ErrorCode, job.DataSourceErrorCode, job.ErrorMessage].filter(Boolean).join(": ")])));
    }
  }
  if (!rows.length) return el("p", { class: "note", text: t.noFailures });
  return [table([t.dataSources, t.lastSync, "", ""], rows), el("p", { class: "note", text: t.perDocument })];
}

async function refreshSources() {
  const indexId = $("index").value;
  if (!indexId) return;
  await panel("data-sources", () => loadSources(indexId));
  if ($("data-sources").dataset.available === "true") await panel("failures", () => loadFailures());
  else panel("failures", async () => { throw Object.assign(new Error(t.notAvailable), { notBuilt: true }); });
}

async function loadIndexPanels() {
  const seq = ++state.seq;
  const indexId = $("index").value;
  if (!indexId) return;
  document.body.dataset.ready = "false";
  const p = new URLSearchParams(location.search);
  p.set("index", indexId);
  history.replaceState(null, "", "?" + p.toString());
  await Promise.all([
    refreshSources(),
    panel("faqs", async () => {
      const faqs = await allPages("ListFaqs", { IndexId: indexId, MaxResults: 100 }, "FaqSummaryItems");
      return faqs.length ? table([t.name, t.status, t.format, t.language, t.updated],
        faqs.map((f) => el("tr", {}, cells([f.Name, f.Status, f.FileFormat, f.LanguageCode, when(f.UpdatedAt)]))))
        : el("p", { class: "note", text: t.none });
    }),
    panel("block-lists", async () => {
      const lists = await allPages("ListQuerySuggestionsBlockLists", { IndexId: indexId, MaxResults: 100 }, "BlockListSummaryItems");
      return lists.length ? table([t.name, t.status, t.items, t.updated],
        lists.map((b) => el("tr", {}, cells([b.Name, b.Status, b.ItemCount ?? "", when(b.UpdatedAt)], [2]))), [2])
        : el("p", { class: "note", text: t.none });
    }),
  ]);
  if (seq === state.seq) document.body.dataset.ready = "true";
}

async function start() {
  document.documentElement.lang = ui;
  for (const [id, text] of [["heading", t.heading], ["indexes-title", t.indexes], ["data-sources-title", t.dataSources],
    ["failures-title", t.failures], ["faqs-title", t.faqs], ["block-lists-title", t.blockLists], ["index-label", t.index],
    ["nav-search", t.search], ["nav-dashboard", t.dashboard], ["sign-out", t.signOut]]) $(id).textContent = text;
  $("sign-out").addEventListener("click", async () => {
    await fetch("/admin/session", { method: "DELETE", credentials: "same-origin" });
    location.reload();
  });
  await panel("indexes", loadIndexes);
  $("index").addEventListener("change", loadIndexPanels);
  await loadIndexPanels();
}

start();
