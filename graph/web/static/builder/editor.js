// One segment: its definition in three views kept in step (the builder, the text with
// completion and diagnostics, the Script JSON form), a live preview with "why is this
// contact in or out", and, once saved, its size over time, entries and exits, versions
// with a diff, dependents and campaigns. Every query it sends is in this file.
import {errorText} from "./api.js";
import {h, clear, debounce, formatTime, formatCount, labelled, select, uid} from "./dom.js";
import {formatExpression, UnknownNode} from "./format.js";
import {renderBuilder, toRoot, fromRoot} from "./conditions.js";
import {sizeChart, changesChart} from "./chart.js";

const CONTEXT = `query BuilderContext($database: String) {
  fields(database: $database) { name type }
  eventTypes(database: $database)
  lists(database: $database) { name }
  segments(database: $database, first: 200) { edges { node { id name } } }
}`;
const SEGMENT_FIELDS = `id name description tags database expression json rangeFrom rangeTo
  maximum version inBin lastCount lastCountAt updatedAt updatedBy
  dependents { kind id name status }
  history { version at by changed note expression }`;
const SEGMENT = `query Segment($id: ID!) { segment(id: $id) { ${SEGMENT_FIELDS} } }`;
const PREVIEW = `query Preview($input: PreviewInput!) {
  previewSegment(input: $input) {
    count expression now
    contacts { id fields }
    errors { message line column path code }
  }
}`;
const ESTIMATE = `query Estimate($input: PreviewInput!) {
  estimateSegment(input: $input) {
    estimate { count low high sampled exact }
    errors { message }
  }
}`;
const DIAGNOSE = `query Diagnose($expression: String!, $database: String) {
  diagnoseExpression(expression: $expression, database: $database) {
    diagnostics { severity message suggestion code line column start end }
    errors { message }
  }
}`;
const COMPLETE = `query Complete($expression: String!, $offset: Int!, $database: String) {
  completeExpression(expression: $expression, offset: $offset, database: $database, limit: 30) {
    suggestions { label kind detail insertText start end }
  }
}`;
const PARSE = `query Parse($expression: String!, $database: String) {
  parseSegment(expression: $expression, database: $database) {
    canonical json errors { message line column code }
  }
}`;
const EXPLAIN = `query Explain($contactId: ID!, $segment: ID, $expression: String, $json: JSON, $database: String) {
  explainContact(contactId: $contactId, segment: $segment, expression: $expression, json: $json, database: $database) {
    explanation {
      member held bucket rangeFrom rangeTo inRange maximum withinMaximum now
      nodes { index depth kind text held valueText events inWindow matching }
    }
    errors { message }
  }
}`;
const RESULT = `segment { ${SEGMENT_FIELDS} } errors { message line column path code }`;
const CREATE = `mutation Create($input: SegmentInput!) { createSegment(input: $input) { ${RESULT} } }`;
const UPDATE = `mutation Update($id: ID!, $input: SegmentInput!, $expectedVersion: Int) {
  updateSegment(id: $id, input: $input, expectedVersion: $expectedVersion) { ${RESULT} } }`;
const CLONE = `mutation Clone($id: ID!, $name: String!) { cloneSegment(id: $id, name: $name) { segment { id } errors { message } } }`;
const DELETE = `mutation Delete($id: ID!) { deleteSegment(id: $id) { segment { id } errors { message code } } }`;
const RESTORE = `mutation Restore($id: ID!) { restoreSegment(id: $id) { segment { id } errors { message } } }`;
const RESTORE_VERSION = `mutation RestoreVersion($id: ID!, $version: Int!) {
  restoreSegmentVersion(id: $id, version: $version) { segment { id version } errors { message } } }`;
const DIFF = `query Diff($id: ID!, $fromVersion: Int, $toVersion: Int) {
  segmentDiff(id: $id, fromVersion: $fromVersion, toVersion: $toVersion) {
    diff { entered left stayed before after enteredSample leftSample }
    errors { message }
  }
}`;
const COUNT = `query Count($id: ID!) { segment(id: $id) { count lastCount lastCountAt } }`;
const insightsQuery = (features) => `query Insights($id: ID!${features.changes ? ", $since: DateTime" : ""}) {
  segment(id: $id) {
    sizes(limit: 200) { at count }
    runs(limit: 5) { at count durationMs purpose actor version }
    ${features.changes ? "changes(since: $since, first: 200) { edges { node { change at } } }" : ""}
    campaigns { ${campaignFields(features)} }
  }
}`;
const campaignFields = (features) => `id name channel status recipientCount segmentVersion sentAt
  ${features.skipped ? "skipped { reason count }" : ""}`;
const createCampaign = (features) => `mutation CreateCampaign($name: String!, $channel: Channel!, $segmentId: ID!) {
  createCampaign(name: $name, channel: $channel, segmentId: $segmentId) {
    campaign { ${campaignFields(features)} } errors { message } } }`;
const sendCampaign = (features) => `mutation SendCampaign($id: ID!) {
  sendCampaign(id: $id) { campaign { ${campaignFields(features)} } errors { message } } }`;

export const QUERIES = {CONTEXT, SEGMENT, PREVIEW, ESTIMATE, DIAGNOSE, COMPLETE, PARSE, EXPLAIN,
  CREATE, UPDATE, CLONE, DELETE, RESTORE, RESTORE_VERSION, DIFF, COUNT};

const pretty = (value) => JSON.stringify(value, null, 2);

export async function renderEditor(main, app, segmentId) {
  clear(main, h("p.muted", {}, "Loading…"));
  const api = await app.features();
  const features = {estimate: api.query.has("estimateSegment"), changes: api.segment.has("changes"),
    skipped: api.campaign.has("skipped")};
  let segment = null;
  if (segmentId) {
    const data = await app.call(SEGMENT, {id: segmentId});
    if (!data) return;
    segment = data.segment;
    if (!segment) { clear(main, h("h1", {}, "No such segment"), h("a", {href: "#/"}, "Back to the list")); return; }
  }
  const database = segment ? segment.database : app.database;
  const contextData = await app.call(CONTEXT, {database});
  if (!contextData) return;
  const context = {
    fields: contextData.fields, eventTypes: contextData.eventTypes,
    lists: contextData.lists.map((item) => item.name),
    segments: contextData.segments.edges.map((edge) => edge.node.name)
      .filter((name) => !segment || name !== segment.name),
  };

  // --- state: the JSON form is the builder's model; the text follows it ---------------
  let json = segment ? segment.json : {version: 1, condition: null};
  let root = toRoot(json.condition);
  let textBroken = false;

  // --- the definition form --------------------------------------------------------
  const name = h("input", {value: segment?.name || "", required: true, size: 30, id: "segment-name"});
  const description = h("input", {value: segment?.description || "", size: 40, id: "segment-description"});
  const tags = h("input", {value: (segment?.tags || []).join(", "), size: 24, id: "segment-tags",
    placeholder: "comma, separated"});
  const rangeFrom = h("input", {type: "number", min: 0, max: 100, step: "any", value: segment?.rangeFrom ?? 0, size: 5, id: "range-from"});
  const rangeTo = h("input", {type: "number", min: 0, max: 100, step: "any", value: segment?.rangeTo ?? 100, size: 5, id: "range-to"});
  const maximum = h("input", {type: "number", min: 1, step: 1, value: segment?.maximum ?? "", size: 7,
    id: "maximum", placeholder: "no maximum"});
  const settings = () => ({rangeFrom: Number(rangeFrom.value || 0), rangeTo: Number(rangeTo.value || 100),
    maximum: maximum.value ? Math.round(Number(maximum.value)) : null});

  // --- the three views ------------------------------------------------------------
  const builderBox = h("div", {id: "builder"});
  const builderNote = h("p.warn", {role: "status", hidden: true});
  const textArea = h("textarea.code", {id: "expression-text", spellcheck: false, autocomplete: "off",
    "aria-autocomplete": "list", "aria-expanded": "false", "aria-describedby": "text-help"});
  const popup = h("ul", {id: uid("suggestions"), role: "listbox", hidden: true, "aria-label": "Suggestions"});
  textArea.setAttribute("aria-controls", popup.id);
  const diagnostics = h("ul.diagnostics", {id: "diagnostics", "aria-live": "polite"});
  const jsonArea = h("textarea.code", {id: "expression-json", spellcheck: false, rows: 14});
  const jsonError = h("p.bad", {id: "json-error", role: "alert", hidden: true});

  const views = [
    {id: "builder", label: "Builder", panel: h("div", {}, builderNote, builderBox)},
    {id: "text", label: "Text", panel: h("div", {},
      h("label", {htmlFor: textArea.id}, "Expression (SegmentQL)"),
      h("p.muted", {id: "text-help"}, "Completion as you type; Ctrl+Space to ask, arrows and Enter to choose, Escape to close."),
      textArea, h("div.completion", {}, popup), diagnostics)},
    {id: "json", label: "Script (JSON)", panel: h("div", {},
      h("label", {htmlFor: jsonArea.id}, "The JSON form (docs/json-form.md)"), jsonArea, jsonError)},
  ];
  const tablist = h("div", {role: "tablist", "aria-label": "Views of the definition"});
  const panels = h("div");
  views.forEach((view, index) => {
    view.tab = h("button", {type: "button", role: "tab", id: `tab-${view.id}`, "aria-controls": `panel-${view.id}`,
      "aria-selected": index === 0 ? "true" : "false", tabIndex: index === 0 ? 0 : -1,
      onclick: () => showView(view.id), onkeydown: (event) => {
        const step = {ArrowRight: 1, ArrowLeft: -1}[event.key];
        if (step) {
          const next = views[(index + step + views.length) % views.length];
          showView(next.id); next.tab.focus();
        }
      }}, view.label);
    view.panel.id = `panel-${view.id}`;
    view.panel.setAttribute("role", "tabpanel");
    view.panel.setAttribute("aria-labelledby", view.tab.id);
    view.panel.hidden = index !== 0;
    tablist.append(view.tab);
    panels.append(view.panel);
  });
  function showView(id) {
    for (const view of views) {
      const on = view.id === id;
      view.tab.setAttribute("aria-selected", on ? "true" : "false");
      view.tab.tabIndex = on ? 0 : -1;
      view.panel.hidden = !on;
    }
  }

  // --- preview --------------------------------------------------------------------
  const countBox = h("div.count", {id: "preview-count", "aria-live": "polite"}, "…");
  const estimateBox = h("p.muted", {id: "preview-estimate"});
  const previewErrors = h("p.bad", {id: "preview-errors", role: "alert", hidden: true});
  const contactsBody = h("tbody");
  const explainId = h("input", {id: "explain-id", size: 16, placeholder: "contact id"});
  const explainBox = h("div.explain", {id: "explanation", "aria-live": "polite"});
  let previewGeneration = 0;

  function previewInput(extra) {
    const {rangeFrom: from, rangeTo: to, maximum: max} = settings();
    return {database, rangeFrom: from, rangeTo: to, maximum: max, ...extra};
  }

  async function runPreview(definition) {
    const mine = ++previewGeneration;
    countBox.textContent = "…";
    countBox.setAttribute("aria-busy", "true");
    estimateBox.textContent = "";
    const input = previewInput(definition);
    if (features.estimate) {
      app.call(ESTIMATE, {input}, {quiet: true}).then((data) => {
        const estimate = data?.estimateSegment?.estimate;
        if (!estimate || mine !== previewGeneration || countBox.getAttribute("aria-busy") !== "true") return;
        estimateBox.textContent = estimate.exact ? `Exact: ${formatCount(estimate.count)}`
          : `About ${formatCount(estimate.count)} (95 %: ${formatCount(estimate.low)}–${formatCount(estimate.high)}, from ${formatCount(estimate.sampled)} sampled); counting exactly…`;
      });
    }
    const data = await app.call(PREVIEW, {input});
    if (mine !== previewGeneration) return;
    countBox.removeAttribute("aria-busy");
    if (!data) { countBox.textContent = "—"; return; }
    const result = data.previewSegment;
    if (result.errors.length) {
      countBox.textContent = "—";
      previewErrors.hidden = false;
      previewErrors.textContent = errorText(result.errors);
      if (definition.json) { jsonError.hidden = false; jsonError.textContent = errorText(result.errors); }
      return;
    }
    previewErrors.hidden = true;
    estimateBox.textContent = `Exact count at ${formatTime(result.now)}.`;
    countBox.textContent = formatCount(result.count);
    countBox.dataset.count = String(result.count);
    countBox.dataset.expression = result.expression ?? "";  // what was counted (canonical text)
    if (definition.json && document.activeElement !== textArea) setText(result.expression || "");
    contactsBody.replaceChildren(...result.contacts.slice(0, 20).map((contact) => h("tr", {},
      h("td", {}, contact.id),
      h("td", {}, contact.fields?.Email || contact.fields?.MobilePhone || ""),
      h("td", {}, [contact.fields?.FirstName, contact.fields?.LastName].filter(Boolean).join(" ")),
      h("td", {}, h("button.link", {type: "button", "aria-label": `Why is ${contact.id} in?`,
        onclick: () => { explainId.value = contact.id; explain(); }}, "why?")))));
    if (result.count > 20) contactsBody.append(h("tr", {}, h("td.muted", {colSpan: 4},
      `The first 20 of ${formatCount(result.count)}, in the maximum's order.`)));
  }
  const schedulePreview = debounce(runPreview, 350);

  async function explain() {
    const id = explainId.value.trim();
    if (!id) return;
    explainBox.replaceChildren(h("p.muted", {}, "Explaining…"));
    const unchanged = segment && !textBroken && JSON.stringify(json) === JSON.stringify(segment.json)
      && settings().rangeFrom === segment.rangeFrom && settings().rangeTo === segment.rangeTo
      && settings().maximum === segment.maximum;
    const variables = unchanged ? {contactId: id, segment: segment.id}
      : {contactId: id, json, database};
    const data = await app.call(EXPLAIN, variables);
    if (!data) return;
    const result = data.explainContact;
    if (result.errors.length) { explainBox.replaceChildren(h("p.bad", {}, errorText(result.errors))); return; }
    const e = result.explanation;
    const mark = (held) => h("span", {class: held ? "ok" : "bad"}, held ? "✓ holds" : "✗ does not hold");
    explainBox.replaceChildren(
      h("p", {}, h("strong", {}, `${id} is ${e.member ? "in" : "not in"} the segment`),
        unchanged ? " (the saved version, with its range and maximum)." : " (the conditions as they are now)."),
      h("ul", {}, e.nodes.map((node) => h("li", {style: `padding-left:${node.depth}rem`}, mark(node.held), " ",
        h("code", {}, node.text || "(every contact)"),
        node.valueText !== null && node.valueText !== undefined ? h("span.muted", {}, ` — value: ${node.valueText}`) : null,
        node.events !== null && node.events !== undefined
          ? h("span.muted", {}, ` — ${node.events} events, ${node.inWindow ?? node.events} in the window, ${node.matching ?? node.inWindow ?? node.events} matching`) : null))),
      h("p.muted", {}, `Bucket ${e.bucket}: ${e.inRange ? "inside" : "outside"} the range ${e.rangeFrom}–${e.rangeTo} %` +
        (e.maximum ? `; ${e.withinMaximum === false ? "beyond" : "within"} the maximum of ${e.maximum}` : "") + "."));
  }

  // --- keeping the views in step ---------------------------------------------------
  function setText(text) {
    textArea.value = text;
  }

  function fromBuilder(newRoot, structural) {
    root = newRoot;
    json = {version: 1, condition: fromRoot(root)};
    textBroken = false;
    builderNote.hidden = true;
    jsonArea.value = pretty(json);
    jsonError.hidden = true;
    try {
      setText(formatExpression(json));
      scheduleDiagnose();
    } catch (error) {
      if (!(error instanceof UnknownNode)) throw error;
      // The preview's canonical text takes its place.
    }
    schedulePreview({json});
  }

  function drawBuilder() {
    renderBuilder(builderBox, root, context, fromBuilder);
  }

  let textGeneration = 0;
  async function diagnoseText() {
    const mine = ++textGeneration;
    const text = textArea.value;
    const data = await app.call(DIAGNOSE, {expression: text, database});
    if (!data || mine !== textGeneration) return null;
    const found = data.diagnoseExpression.diagnostics;
    diagnostics.replaceChildren(...found.map((item) => h(`li.${item.severity.toLowerCase()}`, {},
      h("button.link", {type: "button", onclick: () => { textArea.focus(); textArea.setSelectionRange(item.start, Math.max(item.end, item.start + 1)); }},
        `line ${item.line}, column ${item.column}`), ` ${item.severity === "ERROR" ? "Error" : "Warning"}: ${item.message}`)));
    return found;
  }
  const scheduleDiagnose = debounce(diagnoseText, 250);

  async function fromText() {
    const found = await diagnoseText();
    if (found === null) return;
    const text = textArea.value;
    if (found.some((item) => item.severity === "ERROR")) {
      textBroken = true;
      builderNote.hidden = false;
      builderNote.textContent = "The text has errors: the builder and the Script view show the last correct definition.";
      return;
    }
    const mine = textGeneration;
    const data = await app.call(PARSE, {expression: text, database});
    if (!data || mine !== textGeneration) return;
    const parsed = data.parseSegment;
    if (parsed.errors.length) {
      textBroken = true;
      diagnostics.replaceChildren(...parsed.errors.map((error) => h("li", {}, errorText([error]))));
      return;
    }
    textBroken = false;
    builderNote.hidden = true;
    json = parsed.json;
    root = toRoot(json.condition);
    jsonArea.value = pretty(json);
    jsonError.hidden = true;
    drawBuilder();
    schedulePreview({expression: text});
  }
  const scheduleFromText = debounce(fromText, 300);

  async function fromJson() {
    let parsed;
    try { parsed = JSON.parse(jsonArea.value); } catch (error) {
      jsonError.hidden = false; jsonError.textContent = `Not JSON: ${error.message}`; return;
    }
    jsonError.hidden = true;
    json = parsed;
    textBroken = false;
    builderNote.hidden = true;
    root = toRoot(parsed && parsed.condition);
    drawBuilder();
    runPreview({json: parsed});
  }
  jsonArea.addEventListener("input", debounce(fromJson, 400));

  // --- completion -------------------------------------------------------------------
  let suggestions = [];
  let chosen = 0;
  let completionGeneration = 0;
  function closePopup() {
    popup.hidden = true; suggestions = [];
    textArea.setAttribute("aria-expanded", "false");
    textArea.removeAttribute("aria-activedescendant");
  }
  function drawPopup() {
    popup.replaceChildren(...suggestions.map((item, index) => h("li", {role: "option", id: `${popup.id}-${index}`,
      "aria-selected": index === chosen ? "true" : "false",
      onmousedown: (event) => { event.preventDefault(); accept(index); }},
      h("span", {}, item.label), h("small", {}, item.detail))));
    popup.hidden = !suggestions.length;
    textArea.setAttribute("aria-expanded", suggestions.length ? "true" : "false");
    if (suggestions.length) {
      textArea.setAttribute("aria-activedescendant", `${popup.id}-${chosen}`);
      popup.children[chosen]?.scrollIntoView({block: "nearest"});
    }
  }
  async function complete() {
    const mine = ++completionGeneration;
    const data = await app.call(COMPLETE, {expression: textArea.value, offset: textArea.selectionStart, database}, {quiet: true});
    if (!data || mine !== completionGeneration || document.activeElement !== textArea) return;
    suggestions = data.completeExpression.suggestions;
    chosen = 0;
    drawPopup();
  }
  const scheduleComplete = debounce(complete, 150);
  function accept(index) {
    const item = suggestions[index];
    if (!item) return;
    const text = textArea.value;
    textArea.value = text.slice(0, item.start) + item.insertText + text.slice(item.end);
    const caret = item.start + item.insertText.length;
    textArea.setSelectionRange(caret, caret);
    closePopup();
    textArea.focus();
    scheduleFromText();
  }
  textArea.addEventListener("input", () => { scheduleComplete(); scheduleFromText(); });
  textArea.addEventListener("blur", () => setTimeout(closePopup, 150));
  textArea.addEventListener("keydown", (event) => {
    if (event.key === " " && event.ctrlKey) { event.preventDefault(); complete(); return; }
    if (popup.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      chosen = (chosen + (event.key === "ArrowDown" ? 1 : -1) + suggestions.length) % suggestions.length;
      drawPopup();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault(); accept(chosen);
    } else if (event.key === "Escape") {
      event.preventDefault(); closePopup();
    }
  });

  // --- saving -----------------------------------------------------------------------
  const saveStatus = h("p", {id: "save-status", role: "status", "aria-live": "polite"});
  async function save() {
    if (textBroken) { saveStatus.className = "bad"; saveStatus.textContent = "Fix the errors in the Text view before saving."; return; }
    const input = {name: name.value.trim(), description: description.value.trim() || null,
      tags: tags.value.split(",").map((tag) => tag.trim()).filter(Boolean), json, ...settings()};
    saveStatus.className = ""; saveStatus.textContent = "Saving…";
    const data = segment ? await app.call(UPDATE, {id: segment.id, input, expectedVersion: segment.version})
      : await app.call(CREATE, {input: {...input, database}});
    if (!data) { saveStatus.textContent = ""; return; }
    const result = segment ? data.updateSegment : data.createSegment;
    if (result.errors.length) { saveStatus.className = "bad"; saveStatus.textContent = errorText(result.errors); return; }
    app.notify(`Saved ${result.segment.name}, version ${result.segment.version}.`);
    if (segment) renderEditor(main, app, segment.id);
    else window.location.hash = `#/segment/${encodeURIComponent(result.segment.id)}`;
  }
  for (const input of [rangeFrom, rangeTo, maximum]) input.addEventListener("change", () => schedulePreview(textBroken ? {expression: textArea.value} : {json}));

  const cloneName = h("input", {id: "clone-name", size: 22, placeholder: "name of the copy"});
  const actions = h("div.actions", {},
    h("button.primary", {type: "button", id: "save", onclick: save}, segment ? "Save a new version" : "Save segment"));
  if (segment && !segment.inBin) {
    actions.append(
      h("span.inline", {}, h("label.visually-hidden", {htmlFor: cloneName.id}, "Name of the copy"), cloneName,
        h("button", {type: "button", onclick: async () => {
          if (!cloneName.value.trim()) { cloneName.focus(); return; }
          const data = await app.call(CLONE, {id: segment.id, name: cloneName.value.trim()});
          if (!data) return;
          if (data.cloneSegment.errors.length) app.notify(errorText(data.cloneSegment.errors), true);
          else window.location.hash = `#/segment/${encodeURIComponent(data.cloneSegment.segment.id)}`;
        }}, "Clone")),
      h("button.danger", {type: "button", onclick: async () => {
        const data = await app.call(DELETE, {id: segment.id});
        if (!data) return;
        if (data.deleteSegment.errors.length) app.notify(errorText(data.deleteSegment.errors), true);
        else { app.notify(`${segment.name} is in the bin.`); window.location.hash = "#/"; }
      }}, "Move to the bin"));
  } else if (segment) {
    actions.append(h("button", {type: "button", onclick: async () => {
      const data = await app.call(RESTORE, {id: segment.id});
      if (!data) return;
      if (data.restoreSegment.errors.length) app.notify(errorText(data.restoreSegment.errors), true);
      else renderEditor(main, app, segment.id);
    }}, "Restore from the bin"));
  }

  // --- the page -----------------------------------------------------------------------
  const title = segment ? segment.name : "New segment";
  const left = h("div", {},
    h("section.card", {"aria-labelledby": "definition-title"},
      h("h2", {id: "definition-title"}, "Definition"),
      h("div.row-gap", {}, labelled("Name", name), labelled("Description", description), labelled("Tags", tags),
        labelled("Range from %", rangeFrom), labelled("to %", rangeTo), labelled("Maximum", maximum)),
      h("div", {style: "margin-top:.8rem"}, tablist, panels), actions, saveStatus));
  const right = h("aside", {"aria-label": "Preview"},
    h("section.card", {"aria-labelledby": "preview-title"},
      h("h2", {id: "preview-title"}, "Preview"), countBox, estimateBox, previewErrors,
      h("table", {"aria-label": "First contacts"}, h("thead", {}, h("tr", {},
        h("th", {scope: "col"}, "Contact"), h("th", {scope: "col"}, "Address"), h("th", {scope: "col"}, "Name"),
        h("th", {scope: "col"}, h("span.visually-hidden", {}, "Explain")))), contactsBody)),
    h("section.card", {"aria-labelledby": "explain-title"},
      h("h2", {id: "explain-title"}, "Why is a contact in or out?"),
      h("form.inline", {onsubmit: (event) => { event.preventDefault(); explain(); }},
        h("label", {htmlFor: explainId.id}, "Contact id"), explainId, h("button", {type: "submit"}, "Explain")),
      explainBox));
  const layout = h("div.editor", {}, left, right);
  clear(main, h("p", {}, h("a", {href: "#/"}, "← Segments")),
    h("h1", {}, title, segment ? h("span.muted", {}, `  version ${segment.version}${segment.inBin ? " · in the bin" : ""}`) : null),
    layout);
  if (segment) left.append(...savedPanels(segment, app, features, () => renderEditor(main, app, segment.id)));

  jsonArea.value = pretty(json);
  setText(segment ? segment.expression : "");
  drawBuilder();
  runPreview(segment ? {expression: segment.expression} : {json});
  if (segment) scheduleDiagnose();
  name.focus();
}

// --- the panels of a saved segment ------------------------------------------------------

function savedPanels(segment, app, features, reload) {
  const size = h("section.card", {"aria-labelledby": "size-title"}, h("h2", {id: "size-title"}, "Size over time"));
  const changes = h("section.card", {"aria-labelledby": "changes-title"}, h("h2", {id: "changes-title"}, "Entries and exits"));
  const campaigns = h("section.card", {"aria-labelledby": "campaigns-title"}, h("h2", {id: "campaigns-title"}, "Campaigns"));
  loadInsights(segment, app, features, size, changes, campaigns);
  return [size, changes, versionsPanel(segment, app, reload), dependentsPanel(segment), campaigns];
}

async function loadInsights(segment, app, features, size, changes, campaigns) {
  const since = new Date(Date.now() - 30 * 86400e3).toISOString();
  const data = await app.call(insightsQuery(features), features.changes ? {id: segment.id, since} : {id: segment.id});
  if (!data?.segment) return;
  const insight = data.segment;
  const countNow = h("button", {type: "button", onclick: async () => {
    countNow.disabled = true;
    const counted = await app.call(COUNT, {id: segment.id});
    countNow.disabled = false;
    if (counted) { app.notify(`${segment.name}: ${formatCount(counted.segment.count)} contacts now.`); loadInsights(segment, app, features, size, changes, campaigns); }
  }}, "Count now");
  const chart = sizeChart(insight.sizes);
  clear(size, h("h2", {id: "size-title"}, "Size over time"),
    chart || h("p.muted", {}, "Not counted yet: each count, export and send adds a point."),
    h("div.actions", {}, countNow),
    insight.runs.length ? h("table", {"aria-label": "Latest computations"},
      h("thead", {}, h("tr", {}, ["When", "Contacts", "Took", "For", "By"].map((text) => h("th", {scope: "col"}, text)))),
      h("tbody", {}, insight.runs.map((run) => h("tr", {}, h("td", {}, formatTime(run.at)), h("td.num", {}, formatCount(run.count)),
        h("td.num", {}, `${run.durationMs} ms`), h("td", {}, run.purpose), h("td", {}, run.actor)))))
      : null);
  if (!features.changes) {
    clear(changes, h("h2", {id: "changes-title"}, "Entries and exits"),
      h("p.muted", {}, "This server does not record entries and exits (live segments); they appear here when it does."));
  } else {
    const items = insight.changes.edges.map((edge) => edge.node);
    clear(changes, h("h2", {id: "changes-title"}, "Entries and exits, last 30 days"),
      changesChart(items) || h("p.muted", {}, "No contact entered or left in the last 30 days."));
  }
  drawCampaigns(segment, app, features, campaigns, insight.campaigns);
}

function drawCampaigns(segment, app, features, box, list, message = "") {
  const name = h("input", {id: "campaign-name", size: 22, required: true});
  const channel = select([{value: "EMAIL", label: "email"}, {value: "SMS", label: "SMS"}, {value: "PUSH", label: "push"}], "EMAIL", {id: "campaign-channel"});
  const status = h("p", {role: "status", "aria-live": "polite"}, message);
  const rows = list.map((campaign) => {
    const skipped = campaign.skipped?.length ? campaign.skipped.map((item) => `${item.count} ${item.reason.replace("_", " ")}`).join(", ") : "";
    const send = campaign.status === "DRAFT" ? h("button", {type: "button", onclick: async () => {
      send.disabled = true;
      status.textContent = `Sending ${campaign.name}…`;
      const data = await app.call(sendCampaign(features), {id: campaign.id});
      if (!data) return;
      const result = data.sendCampaign;
      if (result.errors.length) { status.className = "bad"; status.textContent = errorText(result.errors); return; }
      loadAgain(`${campaign.name} sent to ${formatCount(result.campaign.recipientCount)} recipients.`);
    }}, `Send ${campaign.name}`) : null;
    return h("tr", {}, h("td", {}, campaign.name), h("td", {}, campaign.channel.toLowerCase()), h("td", {}, campaign.status.toLowerCase()),
      h("td.num", {}, formatCount(campaign.recipientCount)), h("td", {}, skipped ? `skipped: ${skipped}` : ""),
      h("td", {}, campaign.sentAt ? `${formatTime(campaign.sentAt)} (v${campaign.segmentVersion})` : send));
  });
  async function loadAgain(said) {
    const data = await app.call(insightsQuery(features), features.changes ? {id: segment.id, since: new Date().toISOString()} : {id: segment.id});
    if (data?.segment) drawCampaigns(segment, app, features, box, data.segment.campaigns, said);
  }
  const form = h("form.row-gap", {onsubmit: async (event) => {
    event.preventDefault();
    if (!name.value.trim()) return;
    const data = await app.call(createCampaign(features), {name: name.value.trim(), channel: channel.value, segmentId: segment.id});
    if (!data) return;
    const result = data.createCampaign;
    if (result.errors.length) { status.className = "bad"; status.textContent = errorText(result.errors); return; }
    loadAgain(`Created ${result.campaign.name}: send it when ready.`);
  }}, labelled("Campaign name", name), labelled("Channel", channel), h("button", {type: "submit"}, "Create campaign"));
  clear(box, h("h2", {id: "campaigns-title"}, "Campaigns"),
    rows.length ? h("table", {"aria-label": "Campaigns of this segment"}, h("thead", {}, h("tr", {},
      ["Name", "Channel", "Status", "Recipients", "Skipped", "Sent"].map((text) => h("th", {scope: "col"}, text)))), h("tbody", {}, rows))
      : h("p.muted", {}, "No campaign targets this segment."),
    segment.inBin ? null : form, status);
}

function dependentsPanel(segment) {
  return h("section.card", {"aria-labelledby": "dependents-title"}, h("h2", {id: "dependents-title"}, "Used by"),
    segment.dependents.length ? h("ul", {}, segment.dependents.map((item) => h("li", {},
      item.kind === "segment" ? h("a", {href: `#/segment/${encodeURIComponent(item.id)}`}, item.name) : item.name,
      h("span.muted", {}, ` (${item.kind}${item.status ? ", " + item.status.toLowerCase() : ""})`))))
      : h("p.muted", {}, "Nothing uses this segment: it can be moved to the bin."));
}

function versionsPanel(segment, app, reload) {
  const versions = [...segment.history].reverse();
  const numbers = versions.map((item) => ({value: String(item.version), label: `version ${item.version}`}));
  const from = select(numbers, String(Math.max(1, segment.version - 1)), {id: "diff-from"});
  const to = select(numbers, String(segment.version), {id: "diff-to"});
  const output = h("div", {id: "version-diff", "aria-live": "polite"});
  async function compare() {
    const a = segment.history.find((item) => item.version === Number(from.value));
    const b = segment.history.find((item) => item.version === Number(to.value));
    const [before, after] = wordDiff(a.expression, b.expression);
    output.replaceChildren(h("div.diff", {},
      h("div", {}, h("h3.muted", {}, `version ${a.version}`), before),
      h("div", {}, h("h3.muted", {}, `version ${b.version}`), after)), h("p.muted", {}, "Comparing members…"));
    const data = await app.call(DIFF, {id: segment.id, fromVersion: a.version, toVersion: b.version});
    if (!data) return;
    const result = data.segmentDiff;
    output.lastChild.replaceWith(result.errors.length ? h("p.bad", {}, errorText(result.errors)) : h("p", {},
      `Now: ${formatCount(result.diff.before)} members with version ${a.version}, ${formatCount(result.diff.after)} with version ${b.version}: ` +
      `${formatCount(result.diff.entered)} enter, ${formatCount(result.diff.left)} leave, ${formatCount(result.diff.stayed)} stay.`));
  }
  return h("section.card", {"aria-labelledby": "versions-title"}, h("h2", {id: "versions-title"}, "Versions"),
    h("table", {"aria-label": "Versions, newest first"}, h("thead", {}, h("tr", {},
      ["Version", "When", "By", "Changed", "Expression", ""].map((text) => h("th", {scope: "col"}, text)))),
      h("tbody", {}, versions.map((item) => h("tr", {}, h("td.num", {}, item.version), h("td", {}, formatTime(item.at)),
        h("td", {}, item.by), h("td", {}, item.changed.join(", "), item.note ? h("div.muted", {}, item.note) : null),
        h("td", {}, h("code", {}, item.expression || "(every contact)")),
        h("td", {}, item.version === segment.version || segment.inBin ? null : h("button", {type: "button", onclick: async () => {
          const data = await app.call(RESTORE_VERSION, {id: segment.id, version: item.version});
          if (!data) return;
          if (data.restoreSegmentVersion.errors.length) app.notify(errorText(data.restoreSegmentVersion.errors), true);
          else { app.notify(`Version ${item.version} is current again (as version ${data.restoreSegmentVersion.segment.version}).`); reload(); }
        }}, `Restore version ${item.version}`)))))),
    versions.length > 1 ? h("div.row-gap", {style: "margin-top:.6rem"}, labelled("Compare", from), labelled("with", to),
      h("button", {type: "button", onclick: compare}, "Compare versions")) : null,
    output);
}

/** The two texts with the words only one of them has marked (<del>, <ins>). */
export function wordDiff(a, b) {
  const x = a.split(/\s+/).filter(Boolean), y = b.split(/\s+/).filter(Boolean);
  // Longest common subsequence of words, then a walk that marks the rest.
  const table = Array.from({length: x.length + 1}, () => new Array(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i -= 1)
    for (let j = y.length - 1; j >= 0; j -= 1)
      table[i][j] = x[i] === y[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
  const left = h("pre"), right = h("pre");
  const put = (pre, word, mark) => {
    if (pre.childNodes.length) pre.append(" ");
    pre.append(mark ? h(mark, {}, word) : word);
  };
  let i = 0, j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) { put(left, x[i]); put(right, y[j]); i += 1; j += 1; }
    else if (j < y.length && (i === x.length || table[i][j + 1] >= table[i + 1][j])) { put(right, y[j], "ins"); j += 1; }
    else { put(left, x[i], "del"); i += 1; }
  }
  if (!a) left.append("(every contact)");
  if (!b) right.append("(every contact)");
  return [left, right];
}
