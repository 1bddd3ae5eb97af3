// The segment builder's start: the API key (once per browser session), the profile
// database, and the two screens, chosen by the address's #fragment:
//   #/                 the segment list            (list.js)
//   #/new              a new segment               (editor.js)
//   #/segment/<id>     a saved segment             (editor.js)
//   #key=<api key>     keeps the key for the session, then the list
import {gql, session, apiFeatures, AuthError} from "./api.js";
import {h, clear} from "./dom.js";
import {renderList} from "./list.js";
import {renderEditor} from "./editor.js";

const main = document.getElementById("main");
const notice = document.getElementById("notice");
const databaseSelect = document.getElementById("database");
const forget = document.getElementById("forget-key");
const DATABASE = "segmentql.database";

const app = {
  get database() { return databaseSelect.value || "main"; },
  features: apiFeatures,
  /** The data of a request, or null after telling the user what went wrong. */
  async call(query, variables = {}, {quiet = false} = {}) {
    try {
      return await gql(query, variables);
    } catch (error) {
      if (error instanceof AuthError) { askForKey(error.message); return null; }
      if (!quiet) app.notify(error.message, true);
      return null;
    }
  },
  notify(message, bad = false) {
    notice.hidden = false;
    notice.className = bad ? "notice bad" : "notice";
    notice.textContent = message;
    clearTimeout(app.noticeTimer);
    if (!bad) app.noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
  },
};

function askForKey(problem = "") {
  session.key = "";
  forget.hidden = true;
  const input = h("input", {id: "api-key", type: "password", autocomplete: "off", spellcheck: false,
    required: true, size: 40, placeholder: "sqk_..."});
  const status = h("p.bad", {role: "alert"}, problem);
  const form = h("form.card.key-card", {onsubmit: async (event) => {
    event.preventDefault();
    session.key = input.value.trim();
    try {
      const data = await gql("{ me { name role } }");
      app.notify(`Signed in with the key "${data.me.name}" (${data.me.role.toLowerCase()}).`);
      start();
    } catch (error) {
      session.key = "";
      status.textContent = error.message;
      input.select();
    }
  }},
  h("h1", {}, "Enter your API key"),
  h("p", {}, "The builder sends it with every request as ", h("code", {}, "Authorization: Bearer <key>"),
    ", and keeps it for this browser session only. ", h("code", {}, "segmentql serve"), " prints a development key."),
  h("div.inline", {}, h("label", {htmlFor: "api-key"}, "API key"), input, h("button.primary", {type: "submit"}, "Continue")),
  status);
  clear(main, form);
  input.focus();
}

async function loadDatabases() {
  const data = await app.call("{ databases { name timezone } }");
  if (!data) return false;
  const wanted = window.sessionStorage.getItem(DATABASE) || "main";
  const names = data.databases.map((database) => database.name);
  databaseSelect.replaceChildren(...data.databases.map((database) =>
    h("option", {value: database.name, title: `time zone ${database.timezone}`}, database.name)));
  databaseSelect.value = names.includes(wanted) ? wanted : names[0] || "main";
  return true;
}

function route() {
  if (!session.key) { askForKey(); return; }
  const hash = window.location.hash || "#/";
  const match = hash.match(/^#\/segment\/(.+)$/);
  if (match) renderEditor(main, app, decodeURIComponent(match[1]));
  else if (hash === "#/new") renderEditor(main, app, null);
  else renderList(main, app);
}

async function start() {
  forget.hidden = false;
  if (await loadDatabases()) route();
}

databaseSelect.addEventListener("change", () => {
  window.sessionStorage.setItem(DATABASE, databaseSelect.value);
  window.location.hash = "#/";
  route();
});
forget.addEventListener("click", () => askForKey());
window.addEventListener("hashchange", () => { notice.hidden = notice.classList.contains("bad") ? true : notice.hidden; route(); });

// `segmentql serve` prints the builder's address with its development key in the fragment
// (never sent to the server): keep the key for this session and take it out of the address.
const given = window.location.hash.match(/^#key=([^&]+)$/);
if (given) {
  session.key = decodeURIComponent(given[1]);
  window.history.replaceState(null, "", window.location.pathname + "#/");
}
if (session.key) start(); else askForKey();
