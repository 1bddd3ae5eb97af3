// GraphiQL on this server's own copies of React and GraphiQL (no CDN). The API key is kept
// for the browser session (sessionStorage, shared with the builder at /) and sent as
// `Authorization: Bearer <key>` with every request; a header typed in GraphiQL's headers
// pane still wins.
(function () {
  "use strict";
  var KEY = "segmentql.apiKey";
  var url = window.location.origin + "/graphql";
  var form = document.getElementById("key-form");
  var input = document.getElementById("api-key");
  var status = document.getElementById("key-status");

  function key() { return window.sessionStorage.getItem(KEY) || ""; }
  function showStatus() {
    status.textContent = key() ? "A key is set for this browser session."
                               : "Enter an API key (segmentql serve prints one).";
  }

  function keyedFetch(resource, init) {
    init = Object.assign({}, init);
    var headers = new Headers(init.headers || {});
    if (!key() && !headers.has("authorization")) {
      // No request that is sure to be refused: say what is missing instead.
      var body = JSON.stringify({errors: [{message: "Enter an API key above (segmentql serve prints one), or put an Authorization header in the headers pane."}]});
      return Promise.resolve(new Response(body, {status: 200, headers: {"content-type": "application/json"}}));
    }
    if (key() && !headers.has("authorization")) headers.set("authorization", "Bearer " + key());
    init.headers = headers;
    return window.fetch(resource, init);
  }

  var wsUrl = url.replace(/^http/, "ws");
  var fetcher = GraphiQL.createFetcher({
    url: url, subscriptionUrl: wsUrl, fetch: keyedFetch,
    wsConnectionParams: function () { return key() ? {Authorization: "Bearer " + key()} : {}; },
  });

  var EXAMPLE = [
    "# SegmentQL GraphQL API. The key above is sent as Authorization: Bearer <key>.",
    "# Run with Ctrl-Enter; Ctrl-Space completes. docs/graphql.md describes the API.",
    "{",
    "  segments(first: 10) {",
    "    edges { node { id name expression lastCount lastCountAt } }",
    "  }",
    "}",
    ""].join("\n");

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  var generation = 0;
  function render() {
    // A new key means a new schema fetch: remount GraphiQL.
    generation += 1;
    root.render(React.createElement(GraphiQL, {
      key: generation, fetcher: fetcher, defaultQuery: EXAMPLE,
      isHeadersEditorEnabled: true, shouldPersistHeaders: false,
    }, React.createElement(GraphiQL.Logo, null, "SegmentQL")));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = input.value.trim();
    if (!value) return;
    window.sessionStorage.setItem(KEY, value);
    input.value = "";
    showStatus();
    render();
  });
  document.getElementById("forget-key").addEventListener("click", function () {
    window.sessionStorage.removeItem(KEY);
    showStatus();
    render();
  });
  showStatus();
  render();
})();
