// Two small SVG charts, drawn here (no library): a segment's size over time, and its
// entries and exits per day. Each has a text summary for screen readers.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 360, HEIGHT = 150, LEFT = 44, RIGHT = 8, TOP = 10, BOTTOM = 22;

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  for (const child of children) element.append(child);
  return element;
}

function frame(label) {
  return svg("svg", {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img", "aria-label": label});
}

function axisLabels(root, low, high, first, last) {
  const bottom = HEIGHT - BOTTOM;
  root.append(svg("line", {x1: LEFT, y1: bottom, x2: WIDTH - RIGHT, y2: bottom, stroke: "#c0c6d0"}),
    svg("text", {x: LEFT - 4, y: TOP + 8, "text-anchor": "end"}, String(high)),
    svg("text", {x: LEFT - 4, y: bottom, "text-anchor": "end"}, String(low)),
    svg("text", {x: LEFT, y: HEIGHT - 6}, first),
    svg("text", {x: WIDTH - RIGHT, y: HEIGHT - 6, "text-anchor": "end"}, last));
}

const day = (iso) => iso.slice(0, 10);

/** The size over time: `points` are {at, count}, oldest first. */
export function sizeChart(points) {
  if (!points.length) return null;
  const counts = points.map((point) => point.count);
  const low = Math.min(0, ...counts), high = Math.max(1, ...counts);
  const times = points.map((point) => Date.parse(point.at));
  const start = times[0], span = Math.max(1, times[times.length - 1] - start);
  const x = (time) => LEFT + (points.length === 1 ? 0.5 : (time - start) / span) * (WIDTH - LEFT - RIGHT);
  const y = (count) => HEIGHT - BOTTOM - ((count - low) / (high - low)) * (HEIGHT - TOP - BOTTOM);
  const last = points[points.length - 1];
  const root = frame(`Size over time: ${points.length} computations from ${day(points[0].at)} to ` +
    `${day(last.at)}, between ${Math.min(...counts)} and ${Math.max(...counts)} contacts; the latest ${last.count}.`);
  axisLabels(root, low, high, day(points[0].at), day(last.at));
  root.append(svg("polyline", {fill: "none", stroke: "#1d4ed8", "stroke-width": 2,
    points: points.map((point, index) => `${x(times[index])},${y(point.count)}`).join(" ")}));
  points.forEach((point, index) => root.append(svg("circle", {cx: x(times[index]), cy: y(point.count), r: 2.5,
    fill: "#1d4ed8"}, svg("title", {}, `${point.at}: ${point.count}`))));
  return root;
}

/** Entries and exits per day: `changes` are {change: ENTERED|LEFT, at}. */
export function changesChart(changes) {
  if (!changes.length) return null;
  const days = new Map();
  for (const item of changes) {
    const key = day(item.at);
    const entry = days.get(key) || {entered: 0, left: 0};
    if (item.change === "ENTERED") entry.entered += 1; else entry.left += 1;
    days.set(key, entry);
  }
  const keys = [...days.keys()].sort();
  const high = Math.max(1, ...keys.map((key) => Math.max(days.get(key).entered, days.get(key).left)));
  const entered = keys.reduce((sum, key) => sum + days.get(key).entered, 0);
  const root = frame(`Entries and exits per day from ${keys[0]} to ${keys[keys.length - 1]}: ` +
    `${entered} entered, ${changes.length - entered} left.`);
  const middle = TOP + (HEIGHT - TOP - BOTTOM) / 2;
  const half = (HEIGHT - TOP - BOTTOM) / 2;
  const width = Math.max(2, (WIDTH - LEFT - RIGHT) / keys.length - 2);
  root.append(svg("line", {x1: LEFT, y1: middle, x2: WIDTH - RIGHT, y2: middle, stroke: "#c0c6d0"}),
    svg("text", {x: LEFT - 4, y: TOP + 8, "text-anchor": "end"}, `+${high}`),
    svg("text", {x: LEFT - 4, y: HEIGHT - BOTTOM, "text-anchor": "end"}, `−${high}`),
    svg("text", {x: LEFT, y: HEIGHT - 6}, keys[0]),
    svg("text", {x: WIDTH - RIGHT, y: HEIGHT - 6, "text-anchor": "end"}, keys[keys.length - 1]));
  keys.forEach((key, index) => {
    const {entered: up, left: down} = days.get(key);
    const x = LEFT + index * (width + 2);
    const upHeight = (up / high) * half, downHeight = (down / high) * half;
    root.append(svg("rect", {x, y: middle - upHeight, width, height: upHeight, fill: "#16a34a"},
      svg("title", {}, `${key}: ${up} entered`)));
    root.append(svg("rect", {x, y: middle, width, height: downHeight, fill: "#dc2626"},
      svg("title", {}, `${key}: ${down} left`)));
  });
  return root;
}
