// The JSON form (docs/json-form.md) as SegmentQL text, following dsl/formatter.py, so the
// text view follows the builder at once; the server's canonical text (parseSegment,
// previewSegment) then replaces it. A node this file does not know throws UnknownNode.
export class UnknownNode extends Error {}

// dsl.formatter.keywords(): a name equal to one of these needs back-quotes.
const KEYWORDS = new Set(("after ago all and any at before between contain contains day days did " +
  "does ends equal equals event exactly false has hour hours in is last least list month months " +
  "most no not occur occurred of or segment since starts time times to today true value visited " +
  "week weeks where with").split(" "));
const BARE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"};

export const FIELD_OPS = {
  equals: "equals", not_equals: "is not equal to", gt: ">", gte: ">=", lt: "<", lte: "<=",
  starts_with: "starts with", ends_with: "ends with", contains: "contains",
  not_contains: "doesn't contain", before: "before", after: "after",
};
const NUMBER_OPS = {equals: "=", not_equals: "!="};
const COUNTS = {at_least: "at least", at_most: "at most", exactly: "exactly"};

function quote(text, mark) {
  let out = mark;
  for (const char of text) {
    if (char === mark) out += "\\" + char;
    else if (ESCAPES[char]) out += ESCAPES[char];
    else if (char < " " || char === "\u007f") out += "\\u" + char.charCodeAt(0).toString(16).padStart(4, "0");
    else out += char;
  }
  return out + mark;
}

export function formatName(name) {
  return BARE.test(name) && !KEYWORDS.has(name.toLowerCase()) ? name : quote(name, "`");
}

export function formatString(text) { return quote(text, '"'); }

export function amount(count, unit) {
  return `${count} ${count === 1 ? unit.slice(0, -1) : unit}`;
}

export function formatValue(value) {
  if (typeof value === "string") return formatString(value);
  if (typeof value === "number") return String(value);
  if (value && typeof value === "object" && "date" in value) {
    const date = value.date;
    if (typeof date === "string") return date;
    if (date && typeof date === "object" && "ago" in date) return amount(date.ago, date.unit) + " ago";
  }
  throw new UnknownNode(`a value the builder does not know: ${JSON.stringify(value)}`);
}

function formatField(node) {
  const name = formatName(node.field);
  switch (node.op) {
    case "between": return `${name} between ${formatValue(node.low)} and ${formatValue(node.high)}`;
    case "in": case "not_in":
      return `${name} ${node.op === "in" ? "in" : "not in"} (${node.values.map(formatValue).join(", ")})`;
    case "has_value": return `${name} has value`;
    case "has_no_value": return `${name} has no value`;
    case "is_true": return `${name} is true`;
    case "is_false": return `${name} is false`;
    case "in_last": return `${name} in last ${amount(node.amount, node.unit)}`;
    default: {
      const word = (typeof node.value === "number" && NUMBER_OPS[node.op]) || FIELD_OPS[node.op];
      if (!word) throw new UnknownNode(`an operator the builder does not know: ${node.op}`);
      return `${name} ${word} ${formatValue(node.value)}`;
    }
  }
}

function formatWindow(window) {
  if (window.in_last) return "in last " + amount(window.in_last.amount, window.in_last.unit);
  if (window.since) return "since " + formatValue(window.since);
  if (window.before) return "before " + formatValue(window.before);
  if (window.between) return `between ${formatValue(window.between[0])} and ${formatValue(window.between[1])}`;
  throw new UnknownNode(`a window the builder does not know: ${JSON.stringify(window)}`);
}

const EVENT_KEYS = new Set(["event", "occurred", "count", "window", "where"]);

function formatEvent(node) {
  if (Object.keys(node).some((key) => !EVENT_KEYS.has(key)))
    throw new UnknownNode("an event condition with parts the builder does not know");
  let where = node.where;
  let parts;
  if (node.event === "PageVisit" && node.occurred && where && "field" in where && where.field === "url") {
    parts = ["visited", formatField(where)];
    where = undefined;
  } else {
    parts = ["event", formatName(node.event), node.occurred ? "occurred" : "did not occur"];
  }
  if (node.count) parts.push(`${COUNTS[node.count.op]} ${node.count.times} ${node.count.times === 1 ? "time" : "times"}`);
  if (node.window) parts.push(formatWindow(node.window));
  if (where) parts.push("where " + (where.and || where.or ? `(${format(where)})` : format(where)));
  return parts.join(" ");
}

/** The text of one condition node (not null). */
export function format(node) {
  if (node.and || node.or) {
    const word = node.and ? "and" : "or";
    return (node.and || node.or).map((operand) => {
      const group = operand.and || operand.or;
      const bare = word === "or" && operand.and;
      return group && !bare ? `(${format(operand)})` : format(operand);
    }).join(` ${word} `);
  }
  if ("not" in node) {
    const inner = node.not;
    return inner && ("in_list" in inner || "in_segment" in inner) ? "not " + format(inner)
      : `not (${format(inner)})`;
  }
  if ("field" in node) return formatField(node);
  if ("event" in node) return formatEvent(node);
  if ("in_list" in node) return "in list " + formatString(node.in_list);
  if ("in_segment" in node) return "in segment " + formatString(node.in_segment);
  throw new UnknownNode(`a condition the builder does not know: ${JSON.stringify(node)}`);
}

/** The text of a whole JSON form ({version, condition}); "" for no conditions. */
export function formatExpression(json) {
  return json && json.condition ? format(json.condition) : "";
}
