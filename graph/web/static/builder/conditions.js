// The condition builder: draws a JSON-form condition (docs/json-form.md) as nested groups
// and rows, and hands every change back as a new JSON-form condition. A node it cannot
// draw (a form from a newer server) stays as an editable JSON row, and the Text view
// edits everything.
import {h, select, uid} from "./dom.js";

export const SYSTEM_EVENTS = ["MailOpen", "MailClick", "SmsClick", "PushClick"];
export const UNITS = ["hours", "days", "weeks", "months"];
const OP_LABELS = {
  equals: "equals", not_equals: "is not equal to", gt: ">", gte: "≥", lt: "<", lte: "≤",
  starts_with: "starts with", ends_with: "ends with", contains: "contains",
  not_contains: "doesn't contain", in: "is one of", not_in: "is none of", between: "between",
  before: "before", after: "after", in_last: "in last", has_value: "has a value",
  has_no_value: "has no value", is_true: "is true", is_false: "is false",
};
// Operators offered by a field's type (SPEC §2's table).
export const OPS_BY_TYPE = {
  TEXT: ["equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "in",
         "not_in", "has_value", "has_no_value"],
  NUMBER: ["equals", "not_equals", "gt", "gte", "lt", "lte", "between", "in", "not_in",
           "has_value", "has_no_value"],
  DATE: ["in_last", "after", "before", "equals", "not_equals", "between", "has_value", "has_no_value"],
  BOOLEAN: ["is_true", "is_false", "has_value", "has_no_value"],
};
const NO_VALUE = new Set(["has_value", "has_no_value", "is_true", "is_false"]);
const SOURCES = [
  {value: "field", label: "Contact field"}, {value: "system", label: "System event"},
  {value: "visit", label: "Website visit"}, {value: "custom", label: "Custom event"},
  {value: "list", label: "List"}, {value: "segment", label: "Other segment"},
  {value: "group", label: "Group of conditions"},
];

function clone(value) { return JSON.parse(JSON.stringify(value)); }

/** The builder's root group for a JSON-form condition (null: an empty "all" group). */
export function toRoot(condition) {
  if (!condition) return {and: []};
  if (condition.and || condition.or) return clone(condition);
  return {and: [clone(condition)]};
}

/** The JSON-form condition of the builder's root: empty groups dropped, a group of one
 * condition is that condition, no conditions at all is null. */
export function fromRoot(root) {
  function tidy(node) {
    if (node.and || node.or) {
      const items = (node.and || node.or).map(tidy).filter(Boolean);
      if (!items.length) return null;
      if (items.length === 1) return items[0];
      return node.and ? {and: items} : {or: items};
    }
    if (node && typeof node === "object" && "not" in node) {
      const inner = node.not && tidy(node.not);
      return inner ? {not: inner} : null;
    }
    return node;
  }
  return tidy(root);
}

function kindOf(node) {
  if (node.and || node.or) return "group";
  if ("field" in node && typeof node.field === "string" && typeof node.op === "string") return "field";
  if ("event" in node && typeof node.event === "string") {
    if (Object.keys(node).some((key) => !["event", "occurred", "count", "window", "where"].includes(key))) return "raw";
    if (node.event === "PageVisit" && node.occurred && node.where && node.where.field === "url"
        && !node.where.and && !node.where.or) return "visit";
    return SYSTEM_EVENTS.includes(node.event) ? "system" : "custom";
  }
  if ("in_list" in node) return "list";
  if ("in_segment" in node) return "segment";
  return "raw";
}

function defaultValue(type) {
  if (type === "NUMBER") return 0;
  if (type === "DATE") return {date: "today"};
  return "";
}

function defaultField(context, name) {
  const field = context.fields.find((item) => item.name === name) || context.fields[0] ||
    {name: "Email", type: "TEXT"};
  const op = OPS_BY_TYPE[field.type][0];
  return op === "in_last" ? {field: field.name, op, amount: 30, unit: "days"}
    : {field: field.name, op, value: defaultValue(field.type)};
}

export function newCondition(source, context) {
  const customs = context.eventTypes.filter((type) => !SYSTEM_EVENTS.includes(type) && type !== "PageVisit");
  switch (source) {
    case "field": return defaultField(context);
    case "system": return {event: "MailClick", occurred: true, window: {in_last: {amount: 30, unit: "days"}}};
    case "visit": return {event: "PageVisit", occurred: true, window: {in_last: {amount: 30, unit: "days"}},
                          where: {field: "url", op: "contains", value: ""}};
    case "custom": return {event: customs[0] || "purchase", occurred: true};
    case "list": return {in_list: context.lists[0] || ""};
    case "segment": return {in_segment: context.segments[0] || ""};
    default: return {or: [defaultField(context)]};
  }
}

function valueType(value) {
  if (typeof value === "number") return "NUMBER";
  if (value && typeof value === "object") return "DATE";
  return "TEXT";
}

/** Draws `root` (a group) into `container`; `onChange(root, structural)` after each edit. */
export function renderBuilder(container, root, context, onChange) {
  const active = document.activeElement?.dataset?.focus;
  const changed = (structural) => {
    onChange(root, structural);
    if (structural) renderBuilder(container, root, context, onChange);
  };
  container.replaceChildren(group(root, null, context, changed, "r", true));
  if (active) container.querySelector(`[data-focus="${CSS.escape(active)}"]`)?.focus();
}

function focusKey(path, role) { return {focus: `${path}:${role}`}; }

// A group: all / any, negated or not, its conditions, and the controls to add more.
function group(node, wrapper, context, changed, path, isRoot, attributes = false) {
  const items = node.and || node.or;
  const joinWord = node.and ? "and" : "or";
  if (attributes && isRoot && !items.length) {
    // An event without attribute conditions: only the way to add one.
    return h("div.inline", {}, h("span.muted", {}, "where (event attributes):"),
      adder(items, context, changed, path, attributes));
  }
  const negated = wrapper !== null;
  const element = h(`section.group${node.or ? ".any" : ""}${negated ? ".negated" : ""}`,
    {"aria-label": isRoot ? "Conditions" : "Group of conditions"});
  const mode = select([{value: "and", label: "all of"}, {value: "or", label: "any of"}],
    node.and ? "and" : "or", {dataset: focusKey(path, "mode"), onchange: (event) => {
      const list = node.and || node.or;
      delete node.and; delete node.or;
      node[event.target.value] = list;
      changed(true);
    }});
  const head = h("div.group-head", {},
    h("label", {htmlFor: mode.id = uid()}, isRoot ? (attributes ? "Events where" : "Contacts matching") : "Matching"),
    mode, h("span.muted", {}, "these conditions"));
  if (!isRoot || negated) head.append(negation(wrapper, node, changed, path));
  element.append(head);
  if (!items.length) element.append(h("p.muted", {}, attributes ? "No attribute conditions."
    : "No conditions: every contact of the database (within the range)."));
  items.forEach((child, index) => {
    if (index > 0) element.append(h("div.joiner", {"aria-hidden": "true"}, joinWord));
    const replace = (next) => { items[index] = next; };
    const remove = () => { items.splice(index, 1); changed(true); };
    element.append(drawNode(child, replace, remove, context, changed, `${path}.${index}`, attributes));
  });
  element.append(adder(items, context, changed, path, attributes));
  return element;
}

// The "not" switch of a row or a group: wraps or unwraps the node in {not: ...}.
function negation(wrapper, node, changed, path) {
  const box = h("input", {type: "checkbox", checked: wrapper !== null, id: uid(),
    dataset: focusKey(path, "not"), onchange: () => {
      if (wrapper) wrapper.unwrap(); else wrapInNot(node);
      changed(true);
    }});
  return h("span.inline", {}, box, h("label", {htmlFor: box.id}, "not"));
}

// Wrapping needs the parent's slot: drawNode gives every node a `wrap` through this map.
const slots = new WeakMap();
function wrapInNot(node) { slots.get(node)?.wrap(); }

function drawNode(child, replace, remove, context, changed, path, attributes) {
  let node = child;
  let wrapper = null;
  if (node && typeof node === "object" && "not" in node && node.not && typeof node.not === "object"
      && !("not" in node.not)) {
    wrapper = {unwrap: () => replace(node)};
    node = child.not;
  }
  slots.set(node, {wrap: () => replace({not: node})});
  const kind = node && typeof node === "object" ? kindOf(node) : "raw";
  if (kind === "group") {
    const element = group(node, wrapper, context, changed, path, false, attributes);
    element.querySelector(".group-head").append(removeButton(remove, path));
    return element;
  }
  const row = h("div.cond", {role: "group"});
  const swap = (next) => {
    if (wrapper) replace({not: next}); else replace(next);
    changed(true);
  };
  const label = {field: attributes ? "Attribute" : "Contact field", system: "System event",
    visit: "Website visit", custom: "Custom event", list: "List", segment: "Segment",
    raw: "Other"}[kind];
  row.setAttribute("aria-label", label + " condition");
  row.append(h("span.kind", {}, label));
  if (kind !== "raw") row.append(negation(wrapper, node, changed, path));
  if (kind === "field") fieldRow(row, node, context, changed, path, attributes);
  else if (kind === "system" || kind === "custom") eventRow(row, node, kind, context, changed, path);
  else if (kind === "visit") visitRow(row, node, context, changed, path);
  else if (kind === "list") nameRow(row, node, "in_list", context.lists, changed, path, "list");
  else if (kind === "segment") nameRow(row, node, "in_segment", context.segments, changed, path, "segment");
  else rawRow(row, child, swap, path);
  row.append(removeButton(remove, path));
  return row;
}

function removeButton(remove, path) {
  return h("button.link", {type: "button", onclick: remove, "aria-label": "Remove condition",
    title: "Remove", dataset: focusKey(path, "remove")}, "✕ remove");
}

function adder(items, context, changed, path, attributes) {
  const sources = attributes ? [{value: "attribute", label: "Attribute condition"},
    {value: "group", label: "Group of conditions"}] : SOURCES;
  const choice = select(sources, sources[0].value, {dataset: focusKey(path, "add-kind"),
    "aria-label": "Kind of condition to add"});
  const add = () => {
    const next = attributes ? (choice.value === "group"
      ? {or: [{field: "attribute", op: "equals", value: ""}]}
      : {field: "attribute", op: "equals", value: ""})
      : newCondition(choice.value, context);
    items.push(next);
    changed(true);
    // Focus the new row's first control: keyboard users go on typing there.
    setTimeout(() => document.querySelector(`[data-focus^="${CSS.escape(`${path}.${items.length - 1}:`)}"]`)?.focus());
  };
  return h("div.add", {}, choice, h("button", {type: "button", onclick: add,
    dataset: focusKey(path, "add")}, "+ Add"));
}

// --- rows --------------------------------------------------------------------------

function fieldRow(row, node, context, changed, path, attributes) {
  let type;
  if (attributes) {
    type = node.op === "is_true" || node.op === "is_false" ? "BOOLEAN"
      : node.op === "in_last" ? "DATE" : valueType(node.value ?? node.low ?? node.values?.[0]);
    const name = h("input", {value: node.field, "aria-label": "Attribute name", size: 12,
      dataset: focusKey(path, "field"), list: context.attributeList || null,
      oninput: (event) => { node.field = event.target.value; changed(false); }});
    const kind = select(Object.keys(OPS_BY_TYPE).map((value) => ({value, label: value.toLowerCase()})), type,
      {"aria-label": "Attribute value type", dataset: focusKey(path, "type"), onchange: (event) => {
        resetOp(node, event.target.value); changed(true);
      }});
    row.append(name, kind);
  } else {
    const known = context.fields.find((field) => field.name === node.field);
    type = known ? known.type : "TEXT";
    const groups = Object.keys(OPS_BY_TYPE).map((kind) => ({
      group: kind.toLowerCase(), options: context.fields.filter((field) => field.type === kind)
        .map((field) => ({value: field.name, label: field.name}))})).filter((item) => item.options.length);
    if (!known) groups.unshift({value: node.field, label: `${node.field} (unknown field)`});
    row.append(select(groups, node.field, {"aria-label": "Field", dataset: focusKey(path, "field"),
      onchange: (event) => {
        const field = context.fields.find((item) => item.name === event.target.value);
        node.field = field.name;
        if (!OPS_BY_TYPE[field.type].includes(node.op) || field.type !== type) resetOp(node, field.type);
        changed(true);
      }}));
  }
  const ops = OPS_BY_TYPE[type].includes(node.op) ? OPS_BY_TYPE[type] : [node.op, ...OPS_BY_TYPE[type]];
  row.append(select(ops.map((op) => ({value: op, label: OP_LABELS[op] || op})), node.op,
    {"aria-label": "Operator", dataset: focusKey(path, "op"), onchange: (event) => {
      setOp(node, event.target.value, type); changed(true);
    }}));
  row.append(...valueInputs(node, type, changed, path));
}

function resetOp(node, type) {
  setOp(node, OPS_BY_TYPE[type][0], type, true);
}

function setOp(node, op, type, fresh = false) {
  const old = node.value ?? node.low ?? node.values?.[0];
  const keep = !fresh && old !== undefined && valueType(old) === (type === "BOOLEAN" ? "TEXT" : type) ? old : defaultValue(type);
  for (const key of ["value", "low", "high", "values", "amount", "unit"]) delete node[key];
  node.op = op;
  if (op === "between") { node.low = keep; node.high = keep; }
  else if (op === "in" || op === "not_in") node.values = [keep];
  else if (op === "in_last") { node.amount = 30; node.unit = "days"; }
  else if (!NO_VALUE.has(op)) node.value = keep;
}

function valueInputs(node, type, changed, path) {
  const op = node.op;
  if (NO_VALUE.has(op)) return [];
  if (op === "in_last") return amountInputs(node, "amount", "unit", changed, path);
  if (op === "between") {
    return [valueInput(node, "low", type, changed, path, "From"), h("span", {}, "and"),
            valueInput(node, "high", type, changed, path, "To")];
  }
  if (op === "in" || op === "not_in") {
    const input = h("input", {value: node.values.map(String).join(", "), size: 24,
      "aria-label": "Values, separated by commas", dataset: focusKey(path, "values"),
      oninput: (event) => {
        const parts = event.target.value.split(",").map((part) => part.trim()).filter((part) => part !== "");
        node.values = parts.length ? parts.map((part) => (type === "NUMBER" ? Number(part) : part)) : [type === "NUMBER" ? 0 : ""];
        changed(false);
      }});
    return [input];
  }
  return [valueInput(node, "value", type, changed, path, "Value")];
}

function amountInputs(holder, amountKey, unitKey, changed, path) {
  const amount = h("input", {type: "number", min: 1, step: 1, value: holder[amountKey], size: 4,
    "aria-label": "How many", dataset: focusKey(path, "amount"), oninput: (event) => {
      holder[amountKey] = Math.max(1, Math.round(Number(event.target.value) || 1)); changed(false);
    }});
  const unit = select(UNITS.map((value) => ({value, label: value})), holder[unitKey],
    {"aria-label": "Unit", dataset: focusKey(path, "unit"), onchange: (event) => {
      holder[unitKey] = event.target.value; changed(false);
    }});
  return [amount, unit];
}

function valueInput(node, key, type, changed, path, label) {
  if (type === "DATE") return dateInput(node, key, changed, `${path}.${key}`, label);
  const input = h("input", {type: type === "NUMBER" ? "number" : "text", step: "any",
    value: node[key] ?? "", "aria-label": label, dataset: focusKey(path, key), size: 18,
    oninput: (event) => {
      node[key] = type === "NUMBER" ? (Number(event.target.value) || 0) : event.target.value;
      changed(false);
    }});
  return input;
}

// A date value: a day, an instant (UTC), today, or N units ago.
function dateInput(holder, key, changed, path, label) {
  const value = holder[key] || {date: "today"};
  const date = value.date;
  const mode = typeof date === "object" ? "ago" : date === "today" ? "today"
    : date.length > 10 ? "instant" : "day";
  const wrap = h("span.inline", {role: "group", "aria-label": label});
  const modes = select([{value: "day", label: "on day"}, {value: "instant", label: "at time (UTC)"},
    {value: "today", label: "today"}, {value: "ago", label: "… ago"}], mode,
    {"aria-label": `${label}: kind of date`, dataset: focusKey(path, "mode"), onchange: (event) => {
      const today = new Date().toISOString();
      holder[key] = {date: {day: today.slice(0, 10), instant: today.slice(0, 16) + ":00Z",
        today: "today", ago: {ago: 7, unit: "days"}}[event.target.value]};
      changed(true);
    }});
  wrap.append(modes);
  if (mode === "day" || mode === "instant") {
    const input = h("input", {type: mode === "day" ? "date" : "datetime-local",
      value: mode === "day" ? date : date.slice(0, 16), "aria-label": label,
      dataset: focusKey(path, "date"), oninput: (event) => {
        if (!event.target.value) return;
        holder[key] = {date: mode === "day" ? event.target.value : event.target.value.slice(0, 16) + ":00Z"};
        changed(false);
      }});
    wrap.append(input);
  } else if (mode === "ago") {
    const ago = h("input", {type: "number", min: 0, step: 1, value: date.ago, size: 4,
      "aria-label": `${label}: how many`, dataset: focusKey(path, "ago"), oninput: (event) => {
        date.ago = Math.max(0, Math.round(Number(event.target.value) || 0)); changed(false);
      }});
    const unit = select(UNITS.map((item) => ({value: item, label: item + " ago"})), date.unit,
      {"aria-label": `${label}: unit`, dataset: focusKey(path, "ago-unit"), onchange: (event) => {
        date.unit = event.target.value; changed(false);
      }});
    wrap.append(ago, unit);
  }
  return wrap;
}

function eventRow(row, node, kind, context, changed, path) {
  const types = kind === "system" ? SYSTEM_EVENTS
    : context.eventTypes.filter((type) => !SYSTEM_EVENTS.includes(type));
  const options = types.includes(node.event) ? types : [node.event, ...types];
  if (kind === "system") {
    row.append(select(options.map((value) => ({value, label: value})), node.event,
      {"aria-label": "Event type", dataset: focusKey(path, "event"), onchange: (event) => {
        node.event = event.target.value; changed(false);
      }}));
  } else {
    const listId = uid("events");
    row.append(h("datalist", {id: listId}, options.map((value) => h("option", {value}))),
      h("input", {value: node.event, list: listId, size: 16, "aria-label": "Event type",
        dataset: focusKey(path, "event"), onchange: (event) => {
          if (event.target.value.trim()) { node.event = event.target.value.trim(); changed(true); }
        }}));
  }
  occurrence(row, node, changed, path);
  const where = node.where ? (node.where.and || node.where.or ? node.where : {and: [node.where]}) : {and: []};
  const attributeContext = {...context, attributeList: null};
  const whereBox = h("div.where");
  whereBox.append(group(where, null, attributeContext, (structural) => {
    const tidy = fromRoot(where);
    if (tidy) node.where = tidy; else delete node.where;
    changed(structural);
  }, `${path}.w`, true, true));
  row.append(whereBox);
}

function visitRow(row, node, context, changed, path) {
  const where = node.where;
  row.append(h("span", {}, "url"));
  row.append(select(OPS_BY_TYPE.TEXT.map((op) => ({value: op, label: OP_LABELS[op]})), where.op,
    {"aria-label": "URL operator", dataset: focusKey(path, "op"), onchange: (event) => {
      setOp(where, event.target.value, "TEXT"); changed(true);
    }}));
  row.append(...valueInputs(where, "TEXT", changed, path));
  occurrence(row, node, changed, path, false);
}

// occurred / did not occur, how many times, and when.
function occurrence(row, node, changed, path, withOccurred = true) {
  if (withOccurred) {
    row.append(select([{value: "yes", label: "occurred"}, {value: "no", label: "did not occur"}],
      node.occurred ? "yes" : "no", {"aria-label": "Occurred", dataset: focusKey(path, "occurred"),
        onchange: (event) => {
          node.occurred = event.target.value === "yes";
          if (!node.occurred) delete node.count;
          changed(true);
        }}));
  }
  if (node.occurred) {
    const count = node.count;
    row.append(select([{value: "", label: "any number of times"}, {value: "at_least", label: "at least"},
      {value: "at_most", label: "at most"}, {value: "exactly", label: "exactly"}], count ? count.op : "",
      {"aria-label": "How many times", dataset: focusKey(path, "count"), onchange: (event) => {
        if (event.target.value) node.count = {op: event.target.value, times: count ? count.times : 1};
        else delete node.count;
        changed(true);
      }}));
    if (count) {
      row.append(h("input", {type: "number", min: 0, step: 1, value: count.times, size: 4,
        "aria-label": "Times", dataset: focusKey(path, "times"), oninput: (event) => {
          count.times = Math.max(0, Math.round(Number(event.target.value) || 0)); changed(false);
        }}), h("span", {}, "times"));
    }
  }
  const window = node.window || {};
  const kind = Object.keys(window)[0] || "";
  row.append(select([{value: "", label: "at any time"}, {value: "in_last", label: "in the last"},
    {value: "since", label: "since"}, {value: "before", label: "before"}, {value: "between", label: "between"}],
    kind, {"aria-label": "When", dataset: focusKey(path, "window"), onchange: (event) => {
      const choice = event.target.value;
      const today = {date: "today"};
      if (!choice) delete node.window;
      else node.window = {in_last: {in_last: {amount: 30, unit: "days"}}, since: {since: {date: {ago: 30, unit: "days"}}},
        before: {before: today}, between: {between: [{date: {ago: 30, unit: "days"}}, today]}}[choice];
      changed(true);
    }}));
  if (kind === "in_last") row.append(...amountInputs(window.in_last, "amount", "unit", changed, `${path}.win`));
  else if (kind === "since" || kind === "before") row.append(dateInput(window, kind, changed, `${path}.win`, kind));
  else if (kind === "between") {
    row.append(dateInput(window.between, 0, changed, `${path}.win0`, "From"), h("span", {}, "and"),
               dateInput(window.between, 1, changed, `${path}.win1`, "To"));
  }
}

function nameRow(row, node, key, names, changed, path, what) {
  const options = names.includes(node[key]) || !node[key] ? names : [node[key], ...names];
  if (!options.length) {
    row.append(h("input", {value: node[key], "aria-label": `${what} name`, dataset: focusKey(path, "name"),
      oninput: (event) => { node[key] = event.target.value; changed(false); }}));
    return;
  }
  row.append(h("span", {}, key === "in_list" ? "in list" : "in segment"),
    select(options.map((value) => ({value, label: value})), node[key],
      {"aria-label": `${what} name`, dataset: focusKey(path, "name"), onchange: (event) => {
        node[key] = event.target.value; changed(false);
      }}));
}

function rawRow(row, node, swap, path) {
  const area = h("textarea", {value: JSON.stringify(node), rows: 2, dataset: focusKey(path, "raw"),
    "aria-label": "Condition in the JSON form"});
  const note = h("p.muted", {}, "The builder cannot draw this condition: edit its JSON form here (applied when you leave the box), or use the Text view.");
  area.addEventListener("change", () => {
    try { swap(JSON.parse(area.value)); note.className = "muted"; } catch (error) {
      note.textContent = `Not JSON: ${error.message}`; note.className = "bad";
    }
  });
  row.append(h("div", {style: "flex: 1"}, area, note));
}
