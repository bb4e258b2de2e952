// The node map: an equirectangular projection of the city's bounding box, no tiles.
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function drawMap(svg, data, onNode) {
  const { south, north, west, east } = data.bbox;
  const width = 1000;
  const cos = Math.cos(((south + north) / 2) * Math.PI / 180);
  const height = Math.round(width * (north - south) / ((east - west) * cos));
  const x = (lon) => ((lon - west) / (east - west)) * width;
  const y = (lat) => ((north - lat) / (north - south)) * height;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  // A 0.1° graticule so distances can be read (0.1° ≈ 11 km north-south).
  for (let lat = Math.ceil(south * 10) / 10; lat <= north; lat += 0.1) {
    svg.append(el("line", { class: "grid", x1: 0, x2: width, y1: y(lat), y2: y(lat) }));
    svg.append(el("text", { class: "grid-label", x: 4, y: y(lat) - 3 }, `${lat.toFixed(1)}°N`));
  }
  for (let lon = Math.ceil(west * 10) / 10; lon <= east; lon += 0.1) {
    svg.append(el("line", { class: "grid", x1: x(lon), x2: x(lon), y1: 0, y2: height }));
    svg.append(el("text", { class: "grid-label", x: x(lon) + 3, y: height - 4 }, `${lon.toFixed(1)}°E`));
  }
  // Towns: a labelled region around the centre of their nodes; labels move up until they do not overlap.
  const labels = [];
  for (const t of data.towns) {
    if (t.latitude === null) continue;
    const r = 18 + 6 * Math.sqrt(t.nodes);
    const cx = x(t.longitude), cy = y(t.latitude);
    const text = `${t.name} (${t.nodes})`;
    const w = 14 * text.length, hgt = 16;
    let ly = cy - r - 4;
    while (labels.some((b) => Math.abs(b.x - cx) < (b.w + w) / 2 && Math.abs(b.y - ly) < hgt) && ly > hgt) ly -= hgt;
    labels.push({ x: cx, y: ly, w });
    const g = el("g", { class: "town-group", "data-town": t.code });
    g.append(el("circle", { class: "town", cx, cy, r }));
    g.append(el("text", { class: "town-label", x: cx, y: ly, "text-anchor": "middle" }, text));
    svg.append(g);
  }
  // Nodes: spread markers that would overlap around their true position.
  const placed = [];
  for (const n of data.nodes) {
    if (n.latitude === null || n.longitude === null) continue;
    let px = x(n.longitude), py = y(n.latitude);
    for (let k = 1; placed.some(([qx, qy]) => Math.hypot(qx - px, qy - py) < 16) && k < 12; k++) {
      px = x(n.longitude) + 16 * Math.cos(k * 2.4); py = y(n.latitude) + 16 * Math.sin(k * 2.4);
    }
    placed.push([px, py]);
    const c = el("circle", { class: `node status-${n.status}`, cx: px.toFixed(1), cy: py.toFixed(1), r: 8,
      "data-node": n.id, "data-status": n.status, tabindex: 0 });
    const alarms = n.open_alarms ? ` · ${n.open_alarms} open alarm(s), worst ${n.worst_severity}` : "";
    c.append(el("title", {}, `${n.name || n.id} (${n.id}) · ${n.kind} · ${n.status}${alarms}`));
    c.addEventListener("click", () => onNode(n.id));
    c.addEventListener("keydown", (e) => { if (e.key === "Enter") onNode(n.id); });
    svg.append(c);
  }
}
