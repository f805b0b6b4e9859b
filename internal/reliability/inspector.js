// The reliability suite's inspector: a Worker that runs next to the products
// in the local runtime (devrun.Options.ExtraWorkers), never deployed. It binds
// the products' R2 buckets and queues by their names, so it reads exactly the
// data the products wrote, and it can put a message on a product's queue as a
// redelivery would.
//
// Binding names: R2_<bucket>, Q_<queue>, with every character that is not a
// letter or digit replaced by "_" (see bindingName in harness.go).
//
//   GET  /r2/<bucket>?prefix=P       {"keys":["jobs/....json", ...]}
//   GET  /r2/<bucket>/get?key=K      the object (404 when missing)
//   POST /r2/<bucket>/getmany        body: a JSON array of keys; {"objects":{key: text or null}}
//   POST /queue/<queue>              body: a JSON array of message bodies; {"sent":n}
//   POST /d1/spend                   body: {"sql","params"}; {"rows":[...]} from the stack's spend database (D1_SPEND)

const safe = (s) => s.replace(/[^A-Za-z0-9]/g, "_");
const json = (v, status = 200) =>
  new Response(JSON.stringify(v), { status, headers: { "content-type": "application/json" } });
const MAX_PAGES = 1000;

function binding(env, kind, name) {
  const b = env[`${kind}_${safe(decodeURIComponent(name))}`];
  if (!b) throw new Error(`no ${kind} binding for ${name}`);
  return b;
}

// listAll follows an R2 bucket's list cursor: page(cursor)
// answers one page as {keys, done, cursor}.
async function listAll(what, page) {
  const keys = [];
  let cursor;
  for (let i = 0; i < MAX_PAGES; i++) {
    const p = await page(cursor);
    keys.push(...p.keys);
    if (p.done) return keys;
    cursor = p.cursor;
  }
  throw new Error(`${what} list: too many pages`);
}

const r2Keys = (bucket, prefix) =>
  listAll("R2", async (cursor) => {
    const p = await bucket.list({ prefix, cursor, limit: 1000 });
    return { keys: p.objects.map((o) => o.key), done: !p.truncated, cursor: p.cursor };
  });

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter(Boolean);
    const prefix = url.searchParams.get("prefix") ?? undefined;
    const key = url.searchParams.get("key") ?? "";
    try {
      if (request.method === "POST" && parts[0] === "d1" && parts[1] === "spend") {
        if (!env.D1_SPEND) return json({ error: "the stack has no spend database" }, 404);
        const { sql, params } = await request.json();
        const r = await env.D1_SPEND.prepare(sql).bind(...(params ?? [])).all();
        return json({ rows: r.results ?? [] });
      }
      if (request.method === "GET" && parts[0] === "r2" && parts.length === 2) {
        return json({ keys: await r2Keys(binding(env, "R2", parts[1]), prefix) });
      }
      if (request.method === "GET" && parts[0] === "r2" && parts[2] === "get") {
        const o = await binding(env, "R2", parts[1]).get(key);
        return o === null ? json({ missing: key }, 404) : new Response(o.body);
      }
      if (request.method === "POST" && parts[0] === "r2" && parts[2] === "getmany") {
        const bucket = binding(env, "R2", parts[1]);
        const keys = await request.json();
        const objects = {};
        for (let i = 0; i < keys.length; i += 50) {
          const chunk = keys.slice(i, i + 50);
          const texts = await Promise.all(chunk.map(async (k) => {
            const o = await bucket.get(k);
            return o === null ? null : o.text();
          }));
          chunk.forEach((k, j) => (objects[k] = texts[j]));
        }
        return json({ objects });
      }
      if (request.method === "POST" && parts[0] === "queue" && parts.length === 2) {
        const queue = binding(env, "Q", parts[1]);
        const bodies = await request.json();
        for (let i = 0; i < bodies.length; i += 100) {
          await queue.sendBatch(bodies.slice(i, i + 100).map((body) => ({ body, contentType: "json" })));
        }
        return json({ sent: bodies.length });
      }
      return json({ error: `no route ${request.method} ${url.pathname}` }, 404);
    } catch (err) {
      return json({ error: String(err && err.stack ? err.stack : err) }, 500);
    }
  },
};
