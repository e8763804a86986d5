// The analytics dashboard: KensakuGetTrends when the server has it, else six GetSnapshots metrics.
import { kendra, pageConfig, el } from "./kendra.js";
import { uiLanguage } from "./i18n.js";
import { barChart, columnChart, lineChart, legend } from "./charts.js";

const INTERVALS = ["THIS_WEEK", "ONE_WEEK_AGO", "TWO_WEEKS_AGO", "THIS_MONTH", "ONE_MONTH_AGO", "TWO_MONTHS_AGO"];
const CHANNELS = ["web", "chat", "api"];
const TEXT = {
  ja: {
    heading: "検索の利用状況", index: "インデックス", interval: "期間", channel: "チャネル", allChannels: "すべて",
    intervals: { THIS_WEEK: "今週", ONE_WEEK_AGO: "先週", TWO_WEEKS_AGO: "2 週間前", THIS_MONTH: "今月",
      ONE_MONTH_AGO: "先月", TWO_MONTHS_AGO: "2 か月前" },
    queries: "検索数", clicks: "クリック数", ctr: "クリック率", zeroRate: "結果ゼロの割合",
    lowRate: "関連する結果なしの割合", mrr: "平均逆順位 (MRR)",
    overTime: "検索数の推移（チャネル別）", overTimeAll: "検索数の推移", ctrOverTime: "クリック率の推移",
    top: "よく検索された言葉", rising: "急上昇の言葉", zeroResult: "結果ゼロの検索（コンテンツの不足）",
    lowConfidence: "関連する結果がなかった検索（確信度の低い結果のみ）",
    zeroClick: "クリックされなかった検索", topDocs: "よくクリックされた文書",
    fromTrends: "集計: KensakuGetTrends",
    fromSnapshots: "集計: GetSnapshots（チャネル別・急上昇・関連する結果なしはこのサーバーではまだ使えません）",
    notAvailable: "このサーバーではまだ使えません", empty: "この期間のデータはありません", search: "検索", admin: "管理",
    error: "読み込めませんでした", examples: "例",
  },
  en: {
    heading: "Search analytics", index: "Index", interval: "Interval", channel: "Channel", allChannels: "All",
    intervals: { THIS_WEEK: "This week", ONE_WEEK_AGO: "Last week", TWO_WEEKS_AGO: "Two weeks ago",
      THIS_MONTH: "This month", ONE_MONTH_AGO: "Last month", TWO_MONTHS_AGO: "Two months ago" },
    queries: "Queries", clicks: "Clicks", ctr: "Click-through rate", zeroRate: "Zero-result rate",
    lowRate: "Low-confidence rate",
    mrr: "Mean reciprocal rank", overTime: "Queries over time by channel", overTimeAll: "Queries over time",
    ctrOverTime: "Click-through rate over time", top: "Top queries", rising: "Rising queries",
    zeroResult: "Zero-result queries (content gaps)",
    lowConfidence: "Low-confidence queries (nothing relevant found)", zeroClick: "Zero-click queries",
    topDocs: "Top documents",
    fromTrends: "Source: KensakuGetTrends",
    fromSnapshots: "Source: GetSnapshots (per-channel, rising and low-confidence queries are not available on this server yet)",
    notAvailable: "Not available on this server yet", empty: "No data for this interval", search: "Search", admin: "Admin",
    error: "Could not load", examples: "e.g.",
  },
};
const ui = uiLanguage();
const t = TEXT[ui];
const $ = (id) => document.getElementById(id);
const pct = (v) => `${(v * 100).toFixed(1)}%`;
const state = { trends: true, seq: 0 };

function timeLabel(seconds, hourly) {
  const d = new Date(seconds * 1000);
  return hourly ? `${d.getUTCMonth() + 1}/${d.getUTCDate()} ${d.getUTCHours()}h` : `${d.getUTCMonth() + 1}/${d.getUTCDate()}`;
}

// -- the two sources, as one view ---------------------------------------------------------------

async function fromTrends(indexId, interval, channel) {
  const body = { IndexId: indexId, Interval: interval, MaxResults: 10 };
  if (channel) body.Channel = channel;
  const r = await kendra("KensakuGetTrends", body);
  const span = r.QueriesOverTime?.length > 1 ? r.QueriesOverTime[1].Time - r.QueriesOverTime[0].Time : 86400;
  return {
    source: "trends", hourly: span < 86400, series: channel ? [channel] : CHANNELS,
    totals: { queries: r.Totals.Queries, clicks: r.Totals.Clicks, ctr: r.Totals.ClickThroughRate,
      zeroRate: r.Totals.ZeroResultRate, lowRate: r.Totals.LowConfidenceRate ?? null, mrr: r.Totals.MeanReciprocalRank },
    overTime: (r.QueriesOverTime || []).map((p) => ({ time: p.Time, counts: p.Counts || {} })),
    ctrOverTime: (r.ClickThroughOverTime || []).map((p) => ({ time: p.Time, value: p.ClickThroughRate })),
    top: (r.TopQueries || []).map((q) => ({ label: q.Query, value: q.Count })),
    rising: (r.RisingQueries || []).map((q) => ({ label: q.Query, value: q.Count,
      note: `${q.PreviousCount} → ${q.Count} (+${Math.round(q.Growth * 100)}%)` })),
    zeroResult: (r.ZeroResultQueries || []).map((q) => ({ label: q.NormalizedQuery, value: q.Count,
      note: `${t.examples} ${(q.Examples || []).join(", ")}` })),
    // null (not available) from a server whose trends predate low-confidence queries
    lowConfidence: r.LowConfidenceQueries ? r.LowConfidenceQueries.map((q) => ({ label: q.NormalizedQuery,
      value: q.Count, note: `${t.examples} ${(q.Examples || []).join(", ")}` })) : null,
    zeroClick: (r.ZeroClickQueries || []).map((q) => ({ label: q.Query, value: q.Count, note: pct(q.ZeroClickRate) })),
    topDocs: (r.TopDocuments || []).map((d) => ({ label: d.DocumentTitle || d.DocumentId, value: d.Clicks,
      note: d.DocumentId, id: d.DocumentId })),
  };
}

async function fromSnapshots(indexId, interval) {
  const metric = (name) => kendra("GetSnapshots", { IndexId: indexId, Interval: interval, MetricType: name, MaxResults: 100 })
    .then((r) => r.SnapshotsData || []);
  const [agg, trend, byCount, zeroResult, zeroClick, docs] = await Promise.all(["AGG_QUERY_DOC_METRICS",
    "TREND_QUERY_DOC_METRICS", "QUERIES_BY_COUNT", "QUERIES_BY_ZERO_RESULT_RATE", "QUERIES_BY_ZERO_CLICK_RATE",
    "DOCS_BY_CLICK_COUNT"].map(metric));
  const a = agg[0] || [];
  const num = Number;
  const day = (iso) => Date.parse(iso + "T00:00:00Z") / 1000;
  return {
    source: "snapshots", hourly: false, series: ["all"],
    totals: { queries: num(a[4] || 0), clicks: docs.reduce((s, r) => s + num(r[1]), 0), ctr: num(a[0] || 0),
      zeroRate: num(a[2] || 0), lowRate: null, mrr: null },
    overTime: trend.map((r) => ({ time: day(r[0]), counts: { all: num(r[5]) } })),
    ctrOverTime: trend.map((r) => ({ time: day(r[0]), value: num(r[1]) })),
    top: byCount.slice(0, 10).map((r) => ({ label: r[0], value: num(r[1]) })),
    rising: null,
    lowConfidence: null,
    zeroResult: zeroResult.filter((r) => num(r[2]) > 0).slice(0, 10).map((r) => ({ label: r[0], value: num(r[2]) })),
    zeroClick: zeroClick.filter((r) => num(r[2]) > 0).slice(0, 10).map((r) => ({ label: r[0], value: num(r[2]),
      note: pct(num(r[3])) })),
    topDocs: docs.slice(0, 10).map((r) => ({ label: r[0], value: num(r[1]), id: r[0] })),
  };
}

// -- rendering ---------------------------------------------------------------------------------------

function card(id, label, value) {
  return el("div", { class: "card", id: `card-${id}` }, el("div", { class: "value", text: value }), el("div", { class: "label", text: label }));
}

function panel(id, title, ...content) {
  return el("section", { class: "panel", id: `panel-${id}` }, el("h2", { text: title }), ...content);
}

function bars(id, title, rows, color) {
  if (rows === null) return panel(id, title, el("p", { class: "unavailable", text: t.notAvailable }));
  if (!rows.length) return panel(id, title, el("p", { class: "note", text: t.empty }));
  return panel(id, title, barChart(rows, { label: title, color }));
}

function render(view) {
  const { totals } = view;
  $("cards").replaceChildren(...[card("queries", t.queries, totals.queries.toLocaleString()),
    card("clicks", t.clicks, totals.clicks.toLocaleString()), card("ctr", t.ctr, pct(totals.ctr)),
    card("zero", t.zeroRate, pct(totals.zeroRate)),
    totals.lowRate === null ? null : card("low-confidence", t.lowRate, pct(totals.lowRate)),
    totals.mrr === null ? null : card("mrr", t.mrr, totals.mrr.toFixed(3))].filter(Boolean));
  const label = (s) => timeLabel(s, view.hourly);
  const over = view.series.length > 1 || view.series[0] !== "all" ? t.overTime : t.overTimeAll;
  $("panels").replaceChildren(
    panel("over-time", over, columnChart(view.overTime, view.series, { label: over, timeLabel: label }),
      view.series[0] === "all" ? null : legend(view.series)),
    panel("ctr-over-time", t.ctrOverTime, lineChart(view.ctrOverTime, { label: t.ctrOverTime, timeLabel: label })),
    bars("top", t.top, view.top),
    bars("rising", t.rising, view.rising, "#8250df"),
    bars("zero-result", t.zeroResult, view.zeroResult, "#cf222e"),
    bars("low-confidence", t.lowConfidence, view.lowConfidence, "#bc4c00"),
    bars("zero-click", t.zeroClick, view.zeroClick, "#bf8700"),
    bars("top-documents", t.topDocs, view.topDocs, "#1a7f37"));
  $("source").textContent = view.source === "trends" ? t.fromTrends : t.fromSnapshots;
  $("channel").disabled = view.source !== "trends";
}

async function load() {
  const seq = ++state.seq;
  const indexId = $("index").value, interval = $("interval").value, channel = $("channel").value;
  const p = new URLSearchParams(location.search);
  p.set("interval", interval);
  if (indexId) p.set("index", indexId);
  if (channel) p.set("channel", channel); else p.delete("channel");
  history.replaceState(null, "", "?" + p.toString());
  if (!indexId) return;
  document.body.dataset.ready = "false";
  let view;
  try {
    if (state.trends) {
      try {
        view = await fromTrends(indexId, interval, channel);
      } catch (e) {
        if (!e.notBuilt) throw e;
        state.trends = false; // this server has no trends operation: GetSnapshots from now on
      }
    }
    view ||= await fromSnapshots(indexId, interval);
  } catch (e) {
    if (seq === state.seq) $("status").textContent = `${t.error}: ${e.message}`;
    return;
  }
  if (seq !== state.seq) return;
  $("status").textContent = "";
  render(view);
  document.body.dataset.ready = "true";
}

async function start() {
  document.documentElement.lang = ui;
  $("heading").textContent = t.heading;
  $("index-label").textContent = t.index;
  $("interval-label").textContent = t.interval;
  $("channel-label").textContent = t.channel;
  $("nav-search").textContent = t.search;
  $("nav-admin").textContent = t.admin;
  const p = new URLSearchParams(location.search);
  for (const i of INTERVALS) $("interval").append(el("option", { value: i, text: t.intervals[i] }));
  $("interval").value = INTERVALS.includes(p.get("interval")) ? p.get("interval") : "THIS_MONTH";
  $("channel").append(el("option", { value: "", text: t.allChannels }), ...CHANNELS.map((c) => el("option", { value: c, text: c })));
  $("channel").value = CHANNELS.includes(p.get("channel")) ? p.get("channel") : "";
  try {
    const config = await pageConfig();
    const list = await kendra("ListIndices", { MaxResults: 100 });
    for (const i of list.IndexConfigurationSummaryItems || []) $("index").append(el("option", { value: i.Id, text: i.Name }));
    $("index").value = p.get("index") || config.indexId || "";
  } catch (e) {
    $("status").textContent = `${t.error}: ${e.message}`;
    return;
  }
  for (const id of ["index", "interval", "channel"]) $(id).addEventListener("change", load);
  await load();
}

start();
