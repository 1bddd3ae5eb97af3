// A tiny DOM helper: h("button.primary", {onclick}, "Save") makes elements without HTML
// strings, so user text is always text, never markup.
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name || "div");
  if (classes.length) element.className = classes.join(" ");
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key in element && !key.includes("-") && key !== "list") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

let counter = 0;
/** A unique id for label/for pairs. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A labelled control: <label for=id>text</label> + control. */
export function labelled(text, control, className = "field") {
  if (!control.id) control.id = uid();
  return h(`div.${className}`, {}, h("label", {htmlFor: control.id}, text), control);
}

export function select(options, value, props = {}) {
  const element = h("select", props);
  for (const option of options) {
    if (option.group) {
      const group = h("optgroup", {label: option.group});
      for (const item of option.options) group.append(h("option", {value: item.value}, item.label));
      element.append(group);
    } else {
      element.append(h("option", {value: option.value}, option.label));
    }
  }
  if (value !== undefined) element.value = value;
  return element;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function formatTime(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  return date.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function formatCount(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en");
}
