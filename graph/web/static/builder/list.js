// The segment list: search by name, filter by tag, counts and when they were taken, and
// the bin with restore.
import {gql, errorText} from "./api.js";
import {h, clear, debounce, formatTime, formatCount, labelled} from "./dom.js";

export const SEGMENTS_QUERY = `query Segments($database: String, $search: String, $tag: String,
    $inBin: Boolean, $after: String) {
  segments(database: $database, search: $search, tag: $tag, inBin: $inBin, first: 50, after: $after) {
    edges { node { id name description tags version inBin lastCount lastCountAt updatedAt updatedBy } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const RESTORE = `mutation Restore($id: ID!) {
  restoreSegment(id: $id) { segment { id name inBin } errors { message code } } }`;

export function renderList(main, app) {
  const search = h("input", {type: "search", placeholder: "Name contains…", size: 28});
  const tag = h("input", {type: "search", placeholder: "Any tag", size: 16, list: "known-tags"});
  const bin = h("input", {type: "checkbox", id: "show-bin"});
  const status = h("p.muted", {role: "status", "aria-live": "polite"});
  const tbody = h("tbody");
  const more = h("button", {type: "button", hidden: true}, "Load more");
  const tags = new Set();
  const datalist = h("datalist", {id: "known-tags"});
  let cursor = null;
  let generation = 0;

  const table = h("table", {"aria-label": "Segments"},
    h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Name"), h("th", {scope: "col"}, "Tags"),
      h("th.num", {scope: "col"}, "Last count"), h("th", {scope: "col"}, "Counted"),
      h("th.num", {scope: "col"}, "Version"), h("th", {scope: "col"}, "Changed"),
      h("th", {scope: "col"}, h("span.visually-hidden", {}, "Actions")))),
    tbody);

  async function load(append = false) {
    const mine = ++generation;
    if (!append) { cursor = null; }
    status.textContent = "Loading…";
    const data = await app.call(SEGMENTS_QUERY, {database: app.database,
      search: search.value.trim() || null, tag: tag.value.trim() || null,
      inBin: bin.checked, after: cursor});
    if (!data || mine !== generation) return;
    const page = data.segments;
    if (!append) tbody.replaceChildren();
    for (const {node} of page.edges) {
      node.tags.forEach((item) => { if (!tags.has(item)) { tags.add(item); datalist.append(h("option", {value: item})); } });
      tbody.append(row(node));
    }
    table.dataset.shown = JSON.stringify([search.value.trim(), tag.value.trim(), bin.checked]);
    cursor = page.pageInfo.endCursor;
    more.hidden = !page.pageInfo.hasNextPage;
    const shown = tbody.children.length;
    status.textContent = shown ? `${shown} segment${shown === 1 ? "" : "s"}${bin.checked ? " in the bin" : ""}.`
      : (bin.checked ? "The bin is empty." : "No segment matches.");
  }

  function row(node) {
    const actions = h("td");
    if (node.inBin) {
      actions.append(h("button", {type: "button", onclick: async () => {
        const data = await app.call(RESTORE, {id: node.id});
        if (!data) return;
        const result = data.restoreSegment;
        if (result.errors.length) app.notify(errorText(result.errors), true);
        else { app.notify(`${node.name} is back from the bin.`); load(); }
      }}, `Restore ${node.name}`));
    }
    return h("tr", {},
      h("td", {}, h("a", {href: `#/segment/${encodeURIComponent(node.id)}`}, node.name),
        node.description ? h("div.muted", {}, node.description) : null),
      h("td", {}, node.tags.map((item) => h("button.tag", {type: "button", title: `Only segments tagged ${item}`,
        onclick: () => { tag.value = item; load(); }}, item))),
      h("td.num", {}, formatCount(node.lastCount)),
      h("td", {}, formatTime(node.lastCountAt)),
      h("td.num", {}, node.version),
      h("td", {}, formatTime(node.updatedAt), h("div.muted", {}, node.updatedBy)),
      actions);
  }

  const reload = debounce(() => load(), 200);
  search.addEventListener("input", reload);
  tag.addEventListener("input", reload);
  bin.addEventListener("change", () => load());
  more.addEventListener("click", () => load(true));

  clear(main,
    h("div.inline", {}, h("h1", {}, "Segments"), h("a", {href: "#/new", style: "margin-left:auto"}, "+ New segment")),
    h("div.row-gap", {role: "search"}, labelled("Search by name", search), labelled("Tag", tag),
      h("div.inline", {}, bin, h("label", {htmlFor: "show-bin"}, "Show the bin"))),
    datalist, status, table, more);
  load();
  search.focus();
}
