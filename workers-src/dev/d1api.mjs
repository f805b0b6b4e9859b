// The local D1 query endpoint of `zerocost dev`: Cloudflare's "Query D1
// Database" (developers.cloudflare.com/api/resources/d1/subresources/database/methods/query),
// in the shape cloudflare-go v7's d1 package sends and reads, over the stack's
// spend store in Miniflare (mf.getD1Database). `zerocost cost report --by
// customer --local` reads it with the client it uses on Cloudflare. It is
// served by the same local API server as the KV values (dev/kvapi.mjs).
//
//   POST <base>/accounts/{a}/d1/database/{db}/query   {"sql": "...", "params": ["...", ...]}
//   -> {"result": [{"results": [rows], "success": true, "meta": {...}}], "success": true, "errors": [], "messages": []}
//
// One statement a request (D1's prepare/bind/all); params are strings, as
// Cloudflare's API takes them (SQLite's column affinity converts them). A
// statement SQLite refuses is HTTP 400 with D1's code 7500.
export const D1_PATH = /^\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/query$/;

/** The parsed JSON body, or null. */
async function jsonBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return null;
  }
}

/**
 * Answers a D1 query request. databases maps a database id to
 * { worker, binding }; send(status, body) writes the JSON answer.
 */
export async function handleD1Query(mf, databases, req, id, send) {
  const failure = (status, code, message) => send(status, { success: false, errors: [{ code, message }], messages: [], result: null });
  if (req.method !== "POST") return failure(405, 10000, `method ${req.method} not allowed`);
  const target = databases[id];
  if (!target) return failure(404, 7404, `The database ${id} could not be found`);
  const body = await jsonBody(req);
  if (body === null || typeof body.sql !== "string") return failure(400, 7400, "the body must be {sql, params?}");
  const params = body.params ?? [];
  if (!Array.isArray(params) || params.some((p) => typeof p !== "string")) return failure(400, 7400, "params must be a list of strings");
  const db = await mf.getD1Database(target.binding, target.worker);
  let out;
  try {
    out = await db.prepare(body.sql).bind(...params).all();
  } catch (err) {
    return failure(400, 7500, err instanceof Error ? err.message : String(err));
  }
  return send(200, { success: true, errors: [], messages: [], result: [{ results: out.results ?? [], success: out.success !== false, meta: out.meta ?? {} }] });
}

/** The spend stores of the runner's Workers: database id -> { worker, binding }. */
export function databasesOf(workers) {
  const out = {};
  for (const w of workers) {
    for (const [binding, id] of Object.entries(w.options.d1Databases ?? {})) out[id] ??= { worker: w.name, binding };
  }
  return out;
}
