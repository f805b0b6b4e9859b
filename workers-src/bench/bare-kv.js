// The benchmarks' baseline (bench/, docs/BENCHMARKS.md): a bare Worker on the
// same workerd as the products, doing only the storage operation a product's
// hot path does, so the difference is zerocost's own code. Never deployed.
//
//   POST|GET /get?key=K   reads one KV key from KV (the edge-cache's CACHE namespace)
//   POST /put             writes one KV key (what POST /jobs does before it answers)
//   GET  /noop            nothing: the HTTP overhead of the runtime
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/get") {
      const value = await env.KV.get(url.searchParams.get("key") ?? "");
      return new Response(value ?? "null", { headers: { "content-type": "application/json; charset=utf-8" } });
    }
    if (url.pathname === "/put") {
      const id = crypto.randomUUID();
      await env.KV.put(`bench:${id}`, JSON.stringify({ job_id: id, status: "queued" }), { expirationTtl: 3600 });
      return new Response(JSON.stringify({ job_id: id }), { status: 202, headers: { "content-type": "application/json; charset=utf-8" } });
    }
    return new Response("{}", { headers: { "content-type": "application/json; charset=utf-8" } });
  },
};
