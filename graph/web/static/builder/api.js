// The builder's only way to the server: the public GraphQL API at /graphql, with the API
// key kept for the browser session (sessionStorage, shared with GraphiQL's page).
const KEY = "segmentql.apiKey";

export class AuthError extends Error {}

export const session = {
  get key() { return window.sessionStorage.getItem(KEY) || ""; },
  set key(value) {
    if (value) window.sessionStorage.setItem(KEY, value);
    else window.sessionStorage.removeItem(KEY);
  },
};

/** Runs a GraphQL document; returns `data`. Throws AuthError on 401 and Error on GraphQL
 * errors (messages joined), so callers deal with expected failures in `errors` fields. */
export async function gql(query, variables = {}, {signal} = {}) {
  const response = await fetch("/graphql", {
    method: "POST", signal,
    headers: {"content-type": "application/json", "authorization": `Bearer ${session.key}`},
    body: JSON.stringify({query, variables}),
  });
  if (response.status === 401) {
    const body = await response.json().catch(() => ({}));
    throw new AuthError(body.errors?.[0]?.message || "the API key was refused");
  }
  const body = await response.json().catch(() => null);
  if (!body) throw new Error(`the server answered HTTP ${response.status}`);
  if (body.errors?.length) {
    const error = new Error(body.errors.map((item) => item.message).join("; "));
    error.graphqlErrors = body.errors;
    error.data = body.data;
    throw error;
  }
  return body.data;
}

/** Which optional parts of the API this server has (fields added by later versions:
 * estimateSegment, Segment.changes, Campaign.skipped), read once by introspection. */
let features = null;
export async function apiFeatures() {
  if (!features) {
    const data = await gql(`{
      query: __type(name: "Query") { fields { name } }
      segment: __type(name: "Segment") { fields { name } }
      campaign: __type(name: "Campaign") { fields { name } }
    }`);
    const names = (type) => new Set((type?.fields || []).map((field) => field.name));
    features = {query: names(data.query), segment: names(data.segment),
                campaign: names(data.campaign)};
  }
  return features;
}

/** The first expected failure of a result's `errors`, as one line. */
export function errorText(errors) {
  if (!errors?.length) return "";
  return errors.map((error) => {
    const where = error.line ? `line ${error.line}, column ${error.column}: ` :
      (error.path ? `${error.path}: ` : "");
    return where + error.message;
  }).join("\n");
}
