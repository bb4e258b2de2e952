// The node page's "agent health" box: liveness, the agent's buffer and acknowledgments, and each device's
// acquisition, from /api/v1/nodes/<id> (its `liveness` and `health`; docs/operations.md says what each means).
import { formatValue } from "./chart.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function age(s) {
  if (s === null || s === undefined) return "–";
  if (s < 120) return `${s.toFixed(0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const LIVENESS = {
  online: "online 在线",
  offline: "offline 离线 (last will or stopped)",
  silent: "silent 无数据 (nothing heard lately)",
  unknown: "unknown 未知 (the hub's broker is down, or nothing heard yet)",
};

export function renderNodeHealth(box, node) {
  box.replaceChildren();
  const live = node.liveness || "unknown";
  box.append(el("h3", {}, "Agent health 采集器状态 ", el("span", { class: `liveness ${live}`, "data-liveness": live }, LIVENESS[live] || live)));
  const hl = node.health;
  if (!hl) { box.append(el("p", { class: "meta" }, "No health report from this agent since the hub started. 暂无状态上报")); return; }
  const facts = [
    ["Reported 上报", new Date(hl.received_ms).toLocaleString()],
    ["Buffered readings 缓存条数", formatValue(hl.queue_depth, "")],
    ["Oldest buffered 最早缓存", age(hl.queue_oldest_s)],
    ["Buffer size 缓存大小", hl.queue_bytes < 1048576 ? `${(hl.queue_bytes / 1024).toFixed(0)} KB` : `${(hl.queue_bytes / 1048576).toFixed(1)} MB`],
    ["Unacknowledged batches 未确认批次", formatValue(hl.unacked_batches, "")],
    ["Oldest unacknowledged 最早未确认", age(hl.oldest_unacked_s)],
    ["Last acknowledged seq 已确认序号", hl.last_acked_seq ?? "–"],
    ["Epoch 纪元", hl.epoch ?? "–"],
    ["Dropped readings 丢弃", formatValue(hl.dropped, "")],
    ["Malformed payloads 格式错误", Object.entries(hl.malformed || {}).map(([r, n]) => `${r}: ${n}`).join(", ") || "0"],
  ];
  box.append(el("dl", { class: "health" }, facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
  const head = ["Device 设备", "State 状态", "RTT 往返", "Reads ok 成功", "Failed 失败", "Last good read 最近成功"];
  box.append(el("table", { class: "alarms devices-health" },
    el("thead", {}, el("tr", {}, head.map((t) => el("th", {}, t)))),
    el("tbody", {}, hl.devices.map((d) => el("tr", { "data-device": d.device, class: `dev-${d.state}` },
      el("td", {}, d.device), el("td", { class: "state" }, d.state),
      el("td", {}, d.rtt_ms === null ? "–" : `${d.rtt_ms.toFixed(1)} ms`),
      el("td", {}, d.reads_ok), el("td", { class: "failed" }, d.reads_failed),
      el("td", {}, d.last_good_ms ? new Date(d.last_good_ms).toLocaleString() : "–"))))));
}
