// The node map: an equirectangular projection of the city's bounding box, no tiles.
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Widen the hub's frame (bbox) to the element's shape, so the map fills it and text keeps its CSS size.
function frame(bbox, width, height) {
  let { south, north, west, east } = bbox;
  const cos = Math.cos(((south + north) / 2) * Math.PI / 180);
  const wide = ((east - west) * cos) / (north - south);
  if (wide < width / height) {
    const half = ((north - south) * (width / height)) / cos / 2, mid = (west + east) / 2;
    west = mid - half; east = mid + half;
  } else {
    const half = ((east - west) * cos * (height / width)) / 2, mid = (south + north) / 2;
    south = mid - half; north = mid + half;
  }
  return { south, north, west, east };
}

export function drawMap(svg, data, onNode) {
  const width = Math.round(svg.clientWidth) || 1000, height = Math.round(svg.clientHeight) || 600;
  const { south, north, west, east } = frame(data.bbox, width, height);
  const x = (lon) => ((lon - west) / (east - west)) * width;
  const y = (lat) => ((north - lat) / (north - south)) * height;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  // A graticule of 4-10 lines so distances can be read (0.01° ≈ 1.1 km north-south).
  const step = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5].find((s) => Math.max(north - south, east - west) / s <= 12) || 1;
  const digits = step < 0.01 ? 3 : step < 0.1 ? 2 : 1;
  for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
    svg.append(el("line", { class: "grid", x1: 0, x2: width, y1: y(lat), y2: y(lat) }));
    svg.append(el("text", { class: "grid-label", x: 4, y: y(lat) - 3 }, `${lat.toFixed(digits)}°N`));
  }
  for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
    svg.append(el("line", { class: "grid", x1: x(lon), x2: x(lon), y1: 0, y2: height }));
    svg.append(el("text", { class: "grid-label", x: x(lon) + 3, y: height - 4 }, `${lon.toFixed(digits)}°E`));
  }
  // Towns: a labelled circle around the centre of their nodes, wide enough to hold them all;
  // labels move up until they do not overlap (or below the circle at the top edge).
  const labels = [], texts = [];  // town names go on top of the markers, so none is hidden
  for (const t of data.towns) {
    if (t.latitude === null) continue;
    const cx = x(t.longitude), cy = y(t.latitude);
    const members = data.nodes.filter((n) => n.town === t.code && n.latitude !== null && n.longitude !== null);
    const r = Math.max(24, ...members.map((n) => Math.hypot(x(n.longitude) - cx, y(n.latitude) - cy) + 18));
    const text = `${t.name} (${t.nodes})`;
    const w = 14 * text.length, hgt = 18;
    let ly = cy - r - 4;
    while (labels.some((b) => Math.abs(b.x - cx) < (b.w + w) / 2 && Math.abs(b.y - ly) < hgt) && ly > hgt) ly -= hgt;
    if (ly < hgt) ly = cy + r + hgt;
    labels.push({ x: cx, y: ly, w });
    const g = el("g", { class: "town-group", "data-town": t.code });
    g.append(el("circle", { class: "town", cx, cy, r }));
    texts.push(el("text", { class: "town-label", x: cx, y: ly, "text-anchor": "middle", "data-town": t.code }, text));
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
  svg.append(...texts);
}
