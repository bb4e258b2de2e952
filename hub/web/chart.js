// A small SVG time-series chart: one series, optional warning/danger lines, steps for states.
const NS = "http://www.w3.org/2000/svg";
const W = 720, H = 280, M = { left: 58, right: 16, top: 14, bottom: 30 };

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceTicks(lo, hi, count) {
  if (hi === lo) { hi = lo + 1; lo = lo - 1; }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  const hh = String(d.getHours()).padStart(2, "0"), mm = String(d.getMinutes()).padStart(2, "0");
  if (spanMs <= 26 * 3600e3) return `${hh}:${mm}`;
  return `${d.getMonth() + 1}-${String(d.getDate()).padStart(2, "0")} ${hh}h`;
}

export function formatValue(v, unit) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  const abs = Math.abs(v);
  const text = Number.isInteger(v) ? String(v) : abs >= 1000 ? v.toFixed(0) : abs >= 100 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : v.toPrecision(3);
  return unit ? `${text} ${unit}` : text;
}

/**
 * Draw `points` ([[ms, value], ...]) into `svg` between startMs and endMs.
 * opts: { unit, lines: {warning, danger}, names: {code: name} (states), label }
 */
export function drawChart(svg, points, startMs, endMs, opts = {}) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const values = points.map((p) => p[1]);
  const lines = opts.lines || {};
  const extra = Object.values(lines).filter((v) => typeof v === "number");
  const names = opts.names && Object.keys(opts.names).length ? opts.names : null;
  let lo = Math.min(...values, ...extra), hi = Math.max(...values, ...extra);
  if (names) { const codes = Object.keys(names).map(Number); lo = Math.min(lo, ...codes); hi = Math.max(hi, ...codes); }
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  const pad = (hi - lo) * 0.08 || 1;
  const ticks = names ? Object.keys(names).map(Number).sort((a, b) => a - b) : niceTicks(lo - pad, hi + pad, 5);
  const y0 = Math.min(lo - (names ? 0.5 : pad), ticks[0]), y1 = Math.max(hi + (names ? 0.5 : pad), ticks[ticks.length - 1]);
  const x = (t) => M.left + ((t - startMs) / (endMs - startMs)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - ((v - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  for (const v of ticks) {
    svg.append(el("line", { class: "gridline", x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }));
    const label = names ? (names[String(v)] || String(v)) : formatValue(v, "");
    svg.append(el("text", { class: "tick", x: M.left - 6, y: y(v) + 4, "text-anchor": "end" }, label));
  }
  const span = endMs - startMs;
  for (let i = 0; i <= 6; i++) {
    const t = startMs + (span * i) / 6;
    svg.append(el("text", { class: "tick", x: x(t), y: H - 10, "text-anchor": i === 0 ? "start" : i === 6 ? "end" : "middle" },
      timeLabel(t, span)));
  }
  svg.append(el("line", { class: "axis", x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom }));
  svg.append(el("line", { class: "axis", x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }));
  for (const [kind, v] of Object.entries(lines)) {
    if (typeof v !== "number") continue;
    svg.append(el("line", { class: `line-${kind}`, x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }));
    const label = `${kind === "danger" ? "danger 危险" : "warning 警戒"} ${formatValue(v, opts.unit)}`;
    svg.append(el("text", { class: "line-label", x: W - M.right - 4, y: y(v) - 4, "text-anchor": "end",
      fill: kind === "danger" ? "#d7263d" : "#a87b00" }, label));
  }
  if (!points.length) {
    svg.append(el("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, "No readings in this range 该时段无数据"));
    return 0;
  }
  let d = "";
  points.forEach(([t, v], i) => {
    if (names && i > 0) d += ` L${x(t).toFixed(1)},${y(points[i - 1][1]).toFixed(1)}`;  // states hold until the next reading
    d += `${i ? " L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
  });
  svg.append(el("path", { class: "series", d }));
  const g = el("g", { class: "points" });
  for (const [t, v] of points) {
    const c = el("circle", { class: "pt", cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: points.length > 150 ? 1.6 : 2.6 });
    c.append(el("title", {}, `${new Date(t).toLocaleString()}  ${names ? names[String(v)] || v : formatValue(v, opts.unit)}`));
    g.append(c);
  }
  svg.append(g);
  return points.length;
}
