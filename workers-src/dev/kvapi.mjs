// The local KV API of `zerocost dev`: Cloudflare's Workers KV values
// endpoints, in the shapes cloudflare-go v7's kv package sends and expects
// (../shared/cloudflare-api/provider-calls.md, "Workers KV values"), over the
// products' KEYS namespaces in Miniflare (mf.getKVNamespace). `zerocost keys
// --local` talks to it with the same client it uses on Cloudflare. Any token
// is taken: it listens on 127.0.0.1 only.
//
//   GET    <base>/accounts/{a}/storage/kv/namespaces/{ns}/keys?prefix=&limit=&cursor=
//   GET    <base>/accounts/{a}/storage/kv/namespaces/{ns}/values/{key}     raw value
//   PUT    <base>/accounts/{a}/storage/kv/namespaces/{ns}/values/{key}     multipart (value, metadata) or raw
//   DELETE <base>/accounts/{a}/storage/kv/namespaces/{ns}/values/{key}
//   GET    <base>/accounts/{a}/storage/kv/namespaces/{ns}/metadata/{key}
//
// The same server answers D1's query endpoint over the stack's spend store
// (dev/d1api.mjs), for `zerocost cost report --by customer --local`.
import { createServer } from "node:http";
import { D1_PATH, handleD1Query } from "./d1api.mjs";

const PATH = /^\/client\/v4\/accounts\/([^/]+)\/storage\/kv\/namespaces\/([^/]+)\/(keys|values\/(.+)|metadata\/(.+))$/;

const envelope = (result, extra = {}) => ({ success: true, errors: [], messages: [], result, ...extra });
const failure = (code, message) => ({ success: false, errors: [{ code, message }], messages: [], result: null });

function send(res, status, body, type = "application/json") {
  res.writeHead(status, { "content-type": type });
  res.end(typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The value and metadata of a PUT: multipart form fields, or the raw body as the value. */
async function putParts(req, url) {
  const body = await readBody(req);
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("multipart/form-data")) return { value: body, metadata: undefined };
  const form = await new Request(url, { method: "PUT", headers: { "content-type": type }, body }).formData();
  const meta = form.get("metadata");
  return { value: String(form.get("value") ?? ""), metadata: meta === null ? undefined : JSON.parse(String(meta)) };
}

/**
 * Serves the KV API (and D1's query endpoint) on host (port 0: any) and
 * resolves to its base URL. namespaces maps a namespace id to { worker,
 * binding }, databases a D1 database id to the same.
 */
export async function serveKV(mf, host, namespaces, databases = {}) {
  const kvOf = async (id) => {
    const ns = namespaces[id];
    return ns ? mf.getKVNamespace(ns.binding, ns.worker) : null;
  };
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, `http://${host}`);
      const d1 = D1_PATH.exec(url.pathname);
      if (d1) return await handleD1Query(mf, databases, req, d1[2], (status, body) => send(res, status, body));
      const m = PATH.exec(url.pathname);
      const kv = m ? await kvOf(m[2]) : null;
      if (!kv) return send(res, 404, failure(10013, "namespace not found"));
      const name = m[4] ?? m[5];
      const key = name === undefined ? undefined : decodeURIComponent(name);
      if (m[3] === "keys" && req.method === "GET") {
        const q = url.searchParams;
        const page = await kv.list({ prefix: q.get("prefix") ?? undefined, limit: Number(q.get("limit") ?? 1000), cursor: q.get("cursor") || undefined });
        const result = page.keys.map((k) => ({ name: k.name, ...(k.expiration ? { expiration: k.expiration } : {}), ...(k.metadata !== undefined ? { metadata: k.metadata } : {}) }));
        const cursor = page.list_complete ? "" : page.cursor;
        return send(res, 200, envelope(result, { result_info: { count: result.length, cursor } }));
      }
      if (m[5] !== undefined && req.method === "GET") {
        const { value, metadata } = await kv.getWithMetadata(key, "text");
        if (value === null) return send(res, 404, failure(10009, "get: 'key not found'"));
        return send(res, 200, envelope(metadata ?? null));
      }
      if (req.method === "GET") {
        const value = await kv.get(key, "arrayBuffer");
        if (value === null) return send(res, 404, failure(10009, "get: 'key not found'"));
        return send(res, 200, new Uint8Array(value), "application/octet-stream");
      }
      if (req.method === "PUT") {
        const { value, metadata } = await putParts(req, url);
        await kv.put(key, value, metadata === undefined ? {} : { metadata });
        return send(res, 200, envelope({}));
      }
      if (req.method === "DELETE") {
        await kv.delete(key);
        return send(res, 200, envelope(null));
      }
      return send(res, 405, failure(10000, `method ${req.method} not allowed`));
    } catch (err) {
      console.error("kv api:", err);
      return send(res, 400, failure(10001, err instanceof Error ? err.message : String(err)));
    }
  });
  await new Promise((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  return { url: `http://${host}:${server.address().port}/client/v4/`, close: () => server.close() };
}

/** Writes the key records dev created (value and metadata: the record's JSON). */
export async function writeKeys(mf, keys) {
  for (const k of keys ?? []) {
    const kv = await mf.getKVNamespace(k.binding, k.worker);
    await kv.put(k.name, JSON.stringify(k.record), { metadata: k.record });
  }
}
