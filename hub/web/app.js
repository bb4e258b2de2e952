// The hub's built-in dashboard: map (#/map), node page (#/node/<id>), open alarms (#/alarms).
import { ApiError, get, post, query, setToken, token, tokenFromLink, whoIs } from "./api.js";
import { drawChart, formatValue } from "./chart.js";
import { renderNodeHealth } from "./health.js";
import { drawMap } from "./map.js";

const RANGES = { "1h": [3600e3, 60], "24h": [86400e3, 900], "7d": [7 * 86400e3, 3600] };  // span, window_s
const state = { range: "1h", map: null, selected: {} };
const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function say(text, isError = false) {
  const box = $("message");
  box.textContent = text;
  box.className = isError ? "error" : "";
  box.hidden = !text;
}

function when(ms) { return ms ? new Date(ms).toLocaleString() : "–"; }
function filters() { return { department: $("filter-dept").value, region: $("filter-region").value }; }

async function loadMap() {
  state.map = await get("/api/v1/map" + query(filters()));
  const m = state.map;
  const dept = $("filter-dept"), region = $("filter-region");
  if (dept.options.length === 1) m.departments.forEach((d) => dept.append(h("option", { value: d.id }, `${d.name} (${d.id})`)));
  if (region.options.length === 1) {  // each town, then its villages indented under it
    m.places.forEach((p) => region.append(h("option", { value: p.code, class: p.level },
      p.level === "town" ? p.name : `\u00a0\u00a0· ${p.name}`)));
  }
  const open = m.severities.reduce((s, x) => s + x.open, 0);
  $("alarm-count").textContent = String(open);
  return m;
}

function renderMap(m) {
  drawMap($("map"), m, (id) => { location.hash = `#/node/${id}`; });
  const count = (s) => m.nodes.filter((n) => n.status === s).length;
  $("totals").replaceChildren(
    ...["online", "offline", "alarm"].map((s) => h("div", { class: `tile ${s}`, id: `total-${s}` }, h("b", {}, count(s)),
      { online: "online 在线", offline: "offline 离线", alarm: "in alarm 告警" }[s])));
  $("severities").replaceChildren(
    ...m.severities.map((s) => h("span", { class: `sev ${s.severity}` }, `${s.severity} ${s.open}`)));
  const byTown = new Map();
  for (const n of m.nodes) {
    const key = n.town || n.region;
    if (!byTown.has(key)) byTown.set(key, { name: n.town_name || n.region_name || key, code: key, nodes: [] });
    byTown.get(key).nodes.push(n);
  }
  $("towns").replaceChildren(...[...byTown.values()].map((t) => {
    const on = t.nodes.filter((n) => n.online).length;
    return h("div", { class: "town-card", "data-town": t.code },
      h("h4", {}, h("a", { href: "#/map", onclick: () => { $("filter-region").value = t.code; refresh(); } }, t.name),
        h("span", { class: "counts" }, `${on}/${t.nodes.length} online`)),
      h("ul", {}, t.nodes.map((n) => h("li", {},
        h("a", { href: `#/node/${n.id}`, "data-node": n.id },
          h("i", { class: `dot ${n.status}` }), `${n.name || n.id} · ${n.id}`)))));
  }));
  if (!m.nodes.length) $("towns").append(h("p", { class: "meta" }, "No nodes match these filters. 无符合条件的节点"));
}

async function chartFor(card, device, point) {
  const [span, windowS] = RANGES[state.range];
  const end = Date.now(), start = end - span;
  const agg = point.kind === "number" ? "mean" : "last";
  const data = await get("/api/v1/readings" + query({ device: device.uid, metric: point.metric, start_ms: start,
    end_ms: end, window_s: windowS, agg }));
  const series = data.series.find((s) => s.metric === point.metric);
  const names = point.kind === "enum" ? point.enum : point.kind === "bool" ? { 0: "off", 1: "on" } : null;
  const svg = card.querySelector("svg.chart");
  const n = drawChart(svg, series ? series.points : [], start, end, { unit: point.unit, lines: point.lines, names });
  svg.setAttribute("data-points", String(n));
  card.querySelector(".chart-title").textContent =
    `${point.name} (${point.metric})${point.unit ? " · " + point.unit : ""} · ${data.resolution} · ${agg} per ${windowS / 60} min`;
}

function defaultPoint(device) {
  const chosen = state.selected[device.uid];
  return device.points.find((p) => p.metric === chosen)
    || device.points.find((p) => p.kind === "number" && Object.keys(p.lines).length)
    || device.points.find((p) => p.kind === "number") || device.points[0];
}

async function renderDevice(device) {
  const latest = await get(`/api/v1/devices/${encodeURIComponent(device.uid)}/latest`);
  const rows = device.points.map((p) => {
    const r = latest.readings[p.metric];
    let text = r ? formatValue(r.value, p.unit) : "–";
    if (r && p.kind === "enum" && p.enum[String(r.value)]) text = p.enum[String(r.value)];
    if (r && p.kind === "bool") text = r.value ? "on / yes" : "off / no";
    const bad = r && r.quality !== "good";
    return h("tr", { "data-metric": p.metric }, h("td", {}, p.name), h("td", { class: "v" + (bad ? " q-bad" : "") },
      bad ? `${r.quality}` : text));
  });
  const card = h("div", { class: "device", "data-device": device.uid },
    h("h3", {}, `${device.id} · ${device.model}`, h("span", { class: "counts" }, `  ${device.uid} · ${device.profile}`)),
    h("div", { class: "device-body" },
      h("table", { class: "latest" }, h("tbody", {}, rows)),
      h("div", { class: "chart-box" }, h("div", { class: "chart-title meta" }),
        (() => { const s = document.createElementNS("http://www.w3.org/2000/svg", "svg"); s.setAttribute("class", "chart"); return s; })())));
  const pick = async (point) => {
    state.selected[device.uid] = point.metric;
    card.querySelectorAll("tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.metric === point.metric));
    await chartFor(card, device, point);
  };
  card.querySelectorAll("tr").forEach((tr) => tr.addEventListener("click", () =>
    pick(device.points.find((p) => p.metric === tr.dataset.metric)).catch(fail)));
  $("devices").append(card);
  const first = defaultPoint(device);
  if (first) await pick(first);
}

function alarmRow(a, after) {
  const comment = h("input", { type: "text", placeholder: "comment 备注", "aria-label": "comment" });
  const act = async (what) => {
    try {
      if (!token()) { $("token-form").hidden = false; say("Log in first (button at the top right). 请先登录", true); return; }
      if (what === "ack") await post(`/api/v1/alarms/${a.id}/ack`, { comment: comment.value });
      else await post(`/api/v1/alarms/${a.id}/comments`, { text: comment.value || "-" });
      say(what === "ack" ? `Alarm ${a.id} acknowledged. 已确认` : `Comment added to alarm ${a.id}. 已备注`);
      await after();
    } catch (e) { fail(e); }
  };
  return h("tr", { "data-alarm": a.id },
    h("td", {}, h("span", { class: `sev ${a.severity}` }, a.severity)),
    h("td", {}, h("a", { href: `#/node/${a.node}` }, a.device)),
    h("td", {}, `${a.rule} (${a.kind}${a.metric ? ", " + a.metric : ""})`),
    h("td", {}, a.value === null ? "–" : formatValue(a.value, "")),
    h("td", {}, when(a.raised_ms)),
    h("td", { class: `state-${a.state}` }, a.state + (a.acked_by ? ` by ${a.acked_by}` : "")),
    h("td", { class: "actions" }, comment,
      a.state === "active" ? h("button", { class: "primary", type: "button", "data-action": "ack", onclick: () => act("ack") }, "Acknowledge 确认") : "",
      h("button", { type: "button", "data-action": "comment", onclick: () => act("comment") }, "Comment 备注")));
}

function alarmTable(alarms, after) {
  return h("table", { class: "alarms" },
    h("thead", {}, h("tr", {}, ["Severity 级别", "Device 设备", "Rule 规则", "Value 值", "Raised 发生", "State 状态", "Action 处理"].map((t) => h("th", {}, t)))),
    h("tbody", {}, alarms.map((a) => alarmRow(a, after))));
}

async function showNode(id) {
  const node = await get(`/api/v1/map/nodes/${encodeURIComponent(id)}`);
  $("node-title").textContent = `${node.name || node.id} · ${node.id}`;
  $("node-meta").textContent = `${node.kind} · ${node.department} · ${node.town_name || ""} ${node.region_name} (${node.region}) · `
    + `${node.status}${node.last_seen_ms ? " · last seen " + when(node.last_seen_ms) : ""}`;
  try { renderNodeHealth($("node-health"), await get(`/api/v1/nodes/${encodeURIComponent(id)}`)); }
  catch (e) { $("node-health").replaceChildren(); console.warn("node health", e); }
  document.querySelectorAll("#ranges button").forEach((b) => b.classList.toggle("active", b.dataset.range === state.range));
  const box = $("node-alarms");
  box.replaceChildren();
  if (node.alarms.length) box.append(h("h3", {}, "Open alarms of this node 本节点告警"), alarmTable(node.alarms, () => showNode(id)));
  $("devices").replaceChildren();
  for (const d of node.devices) await renderDevice(d);
}

async function showAlarms() {
  const m = state.map || (await loadMap());
  const shown = new Set(m.nodes.map((n) => n.id));
  $("alarms-note").textContent = m.alerts_enabled ? "Filtered by the department and town chosen above. 按上方部门和镇街筛选"
    : "The hub runs without an alerts file: no alarms are evaluated.";
  let alarms = [];
  if (m.alerts_enabled) alarms = (await get("/api/v1/alarms?state=open")).filter((a) => shown.has(a.node));
  $("alarms-table").querySelector("tbody").replaceChildren(...alarms.map((a) => alarmRow(a, async () => { await loadMap(); await showAlarms(); })));
  if (!alarms.length) $("alarms-table").querySelector("tbody").append(h("tr", {}, h("td", { colspan: 7 }, "No open alarms. 无未关闭告警")));
}

function fail(e) {
  if (e instanceof ApiError && e.status === 401) { $("token-form").hidden = false; say(`Log in first: ${e.message}. 请先登录`, true); }
  else say(`Error: ${e.message}`, true);
  console.error(e);
}

async function route() {
  $("token-button").textContent = token() ? "Logged in 已登录 ▾" : "Log in 登录";
  const [, view, arg] = location.hash.match(/^#\/(\w+)\/?(.*)$/) || [null, "map", ""];
  for (const v of ["map", "node", "alarms"]) $(`view-${v}`).hidden = v !== view;
  $("nav-map").classList.toggle("active", view === "map" || view === "node");
  $("nav-alarms").classList.toggle("active", view === "alarms");
  document.body.dataset.view = "loading";
  try {
    if (view === "node") { await loadMap(); await showNode(decodeURIComponent(arg)); }
    else if (view === "alarms") { await loadMap(); await showAlarms(); }
    else { $("view-map").hidden = false; renderMap(await loadMap()); }
    document.body.dataset.view = view;
  } catch (e) { fail(e); document.body.dataset.view = "error"; }
}

// A user name and password are exchanged for a token (POST /api/v1/auth/login); a token may also be pasted.
async function logIn() {
  const user = $("login-user").value.trim(), password = $("login-password").value;
  let value = $("token-input").value.trim();
  if (user) value = (await post("/api/v1/auth/login", { username: user, password })).token;
  if (!value) { say("Enter a user and password, or a token. 请输入用户和密码或令牌", true); return; }
  setToken(value);
  $("login-password").value = ""; $("token-input").value = ""; $("token-form").hidden = true;
  say(user ? `Logged in as ${user}. 已登录` : "Token saved in this tab. 令牌已保存");
  route();
}

function refresh() { say(""); route(); }

// A login link is shown with the identity it carries and used only once that is confirmed.
async function offerLinkLogin() {
  const candidate = tokenFromLink();
  if (!candidate) return;
  const me = await whoIs(candidate);
  const scope = `${me.region_scope || "whole city 全市"} · ${me.departments.length ? me.departments.join(", ") : "all departments 全部部门"}`;
  const replacing = token() ? " It replaces this tab's current login. 将替换当前登录。" : "";
  $("link-login-text").textContent = `This link logs this tab in as ${me.id} (${me.role}; ${scope}).${replacing} 以该身份登录?`;
  $("link-login").hidden = false;
  $("link-login-accept").onclick = () => {
    setToken(candidate); $("link-login").hidden = true; say(`Logged in as ${me.id} (kept in this tab only). 已登录`); route();
  };
  $("link-login-ignore").onclick = () => { $("link-login").hidden = true; say("Login link ignored. 已忽略登录链接"); };
}

window.addEventListener("hashchange", () => {
  say("");
  offerLinkLogin().catch(fail);
  route();
});
window.addEventListener("DOMContentLoaded", () => {
  offerLinkLogin().catch(fail);
  $("filter-dept").addEventListener("change", refresh);
  $("filter-region").addEventListener("change", refresh);
  $("token-button").addEventListener("click", () => { $("token-form").hidden = !$("token-form").hidden; });
  $("token-form").addEventListener("submit", (e) => { e.preventDefault(); logIn().catch(fail); });
  $("token-clear").addEventListener("click", () => {
    setToken(""); $("token-input").value = ""; $("login-password").value = ""; say("Logged out. 已退出"); route();
  });
  $("ranges").addEventListener("click", (e) => {
    const r = e.target.dataset && e.target.dataset.range;
    if (r) { state.range = r; route(); }
  });
  window.addEventListener("resize", () => { if (document.body.dataset.view === "map" && state.map) renderMap(state.map); });
  route();
  setInterval(() => { if (document.body.dataset.view === "map") route(); }, 30000);  // the map follows node status
});
