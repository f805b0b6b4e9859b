// The benchmarks' baseline (bench/, docs/BENCHMARKS.md): a bare Worker on the
// same workerd as the products, doing only the storage operation a product's
// hot path does, so the difference is zerocost's own code. Never deployed.
// R2 is the products' store (the bucket bound as R2 is a product's OUTPUTS).
//
//   POST|GET /get?key=K   reads one R2 object (the edge-cache's answers/<hex>.json)
//   POST /put             writes one job record (the one write an event-agent job costs)
//   GET  /noop            nothing: the HTTP overhead of the runtime
const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/get") {
      const obj = await env.R2.get(url.searchParams.get("key") ?? "");
      return new Response(obj === null ? "null" : await obj.text(), { headers: JSON_TYPE });
    }
    if (url.pathname === "/put") {
      const id = crypto.randomUUID();
      const now = new Date().toISOString();
      await env.R2.put(`bench/${id}.json`, JSON.stringify({ job_id: id, status: "done", created_at: now, updated_at: now }), {
        httpMetadata: { contentType: "application/json" },
      });
      return new Response(JSON.stringify({ job_id: id }), { status: 202, headers: JSON_TYPE });
    }
    return new Response("{}", { headers: JSON_TYPE });
  },
};
