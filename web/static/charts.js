// Small SVG charts made in the browser: horizontal bars, stacked columns over time, a line.
// Every label is a text node; values ride on data- attributes so tests and tools can read them.
const NS = "http://www.w3.org/2000/svg";
export const CHANNEL_COLORS = { web: "#0b57d0", chat: "#1a7f37", api: "#bf8700", all: "#0b57d0" };

function svg(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(width, height, label) {
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  root.append(svg("title", {}, label));
  return root;
}

function clip(text, max) {
  const chars = Array.from(String(text));
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : chars.join("");
}

// rows: [{label, value, id?, note?}] → one bar a row, in the order given (id: what the row stands for).
export function barChart(rows, { label, format = String, color = "#0b57d0", max } = {}) {
  const rowHeight = 24, labelWidth = 170, width = 460, valueWidth = 56;
  const height = Math.max(rows.length, 1) * rowHeight + 4;
  const root = frame(width, height, label);
  const top = max ?? Math.max(1, ...rows.map((r) => r.value));
  rows.forEach((row, n) => {
    const y = n * rowHeight + 2;
    const g = svg("g", { class: "bar", "data-label": row.label, "data-id": row.id ?? row.label, "data-value": row.value });
    const name = svg("text", { x: 0, y: y + 16 }, clip(row.label, 14));
    name.append(svg("title", {}, row.note ? `${row.label} — ${row.note}` : row.label));
    const w = Math.max(1, ((width - labelWidth - valueWidth) * row.value) / top);
    g.append(name, svg("rect", { x: labelWidth, y: y + 4, width: w, height: rowHeight - 8, rx: 3, fill: color }),
      svg("text", { x: labelWidth + w + 6, y: y + 16, class: "muted" }, format(row.value)));
    root.append(g);
  });
  if (!rows.length) root.append(svg("text", { x: 0, y: 16, class: "muted" }, "—"));
  return root;
}

// points: [{time: epoch seconds, counts: {series: n}}], series: names in stacking order.
export function columnChart(points, series, { label, timeLabel } = {}) {
  const width = 460, height = 200, left = 36, bottom = 22, top = 8;
  const root = frame(width, height, label);
  const totals = points.map((p) => series.reduce((s, k) => s + (p.counts[k] || 0), 0));
  const peak = Math.max(1, ...totals);
  const plotH = height - bottom - top;
  root.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }),
    svg("text", { x: 0, y: top + 10, class: "muted" }, String(peak)),
    svg("text", { x: 0, y: height - bottom, class: "muted" }, "0"));
  const step = (width - left) / Math.max(points.length, 1);
  const every = Math.ceil(points.length / 8);
  points.forEach((p, n) => {
    const x = left + n * step;
    let y = height - bottom;
    const g = svg("g", { class: "column", "data-time": p.time, "data-value": totals[n] });
    for (const k of series) {
      const h = (plotH * (p.counts[k] || 0)) / peak;
      if (h > 0) {
        y -= h;
        const rect = svg("rect", { x: x + 1, y, width: Math.max(1, step - 2), height: h, fill: CHANNEL_COLORS[k] || "#888" });
        rect.append(svg("title", {}, `${timeLabel(p.time)} ${k}: ${p.counts[k]}`));
        g.append(rect);
      }
    }
    if (n % every === 0) g.append(svg("text", { x, y: height - 6, class: "muted" }, timeLabel(p.time)));
    root.append(g);
  });
  return root;
}

// points: [{time, value}] with values in 0..1 (rates).
export function lineChart(points, { label, timeLabel, color = "#1a7f37" } = {}) {
  const width = 460, height = 160, left = 36, bottom = 22, top = 8;
  const root = frame(width, height, label);
  const plotH = height - bottom - top;
  root.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }),
    svg("text", { x: 0, y: top + 10, class: "muted" }, "100%"), svg("text", { x: 0, y: height - bottom, class: "muted" }, "0%"));
  const step = (width - left - 8) / Math.max(points.length - 1, 1);
  const xy = points.map((p, n) => [left + n * step, top + plotH * (1 - Math.min(Math.max(p.value, 0), 1))]);
  if (xy.length) root.append(svg("polyline", { points: xy.map((p) => p.join(",")).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
  const every = Math.ceil(points.length / 6);
  points.forEach((p, n) => {
    const dot = svg("circle", { cx: xy[n][0], cy: xy[n][1], r: 2.5, fill: color, class: "point", "data-value": p.value });
    dot.append(svg("title", {}, `${timeLabel(p.time)}: ${(p.value * 100).toFixed(1)}%`));
    root.append(dot);
    const last = n === points.length - 1 && n > 0;
    if (n % every === 0 || last) {
      root.append(svg("text", { x: xy[n][0], y: height - 6, class: "muted", "text-anchor": last ? "end" : "start" },
        timeLabel(p.time)));
    }
  });
  return root;
}

export function legend(series) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const k of series) {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = CHANNEL_COLORS[k] || "#888";
    item.append(swatch, document.createTextNode(k));
    box.append(item);
  }
  return box;
}
