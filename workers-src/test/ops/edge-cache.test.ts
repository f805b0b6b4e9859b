// The ops each event of edge-cache costs, measured in workerd: every binding
// wrapped and counted (test/ops.ts), each event run for real, and the counts
// (every op, zeros included) must equal OPS_PER_EVENT, the table the Go cost
// model prices (internal/contract/ops.go). Runs in the edge-cache project
// (test/ops/<pattern>.test.ts: one file per pattern). Also: what the pattern
// does when an op fails as Cloudflare fails one whose daily limit ran out.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { OPS_PER_EVENT } from "../../src/contract.gen";
import { readConfig } from "../../src/lib/config";
import { createWorker as edgeCache, edgeUrl, requestAndKey } from "../../src/patterns/edge-cache";
import { expectError, newToken, postJson, replyTo, standin } from "../helpers";
import { expected, type Metered } from "../ops";
import { budgeted, meter, restoreMeters, steadyProduct } from "./harness";

afterEach(restoreMeters);

describe("edge-cache ops per event", () => {
  const worker = edgeCache({});
  const ops = OPS_PER_EVENT["edge-cache"];

  async function ask(m: Metered, input: string) {
    const res = await m.invoke(worker, postJson("/ask", { input }));
    return {
      status: res.status,
      cache: res.headers.get("x-cache"),
      store: res.headers.get("x-cache-store"),
      shared: res.headers.get("x-cache-shared"),
      body: (await res.json()) as any,
    };
  }

  it("miss, hit_edge, hit_store", async () => {
    const t = newToken();
    const input = `ops ${t}`;
    const m = meter();
    expect(await ask(m, input)).toMatchObject({ status: 200, cache: "MISS", body: { answer: await replyTo(input) } });
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.miss));

    const product = m.env.PRODUCT;
    const edge = meter({ PRODUCT: product });
    expect(await ask(edge, input)).toMatchObject({ status: 200, cache: "HIT", store: "edge" });
    expect(edge.counts).toEqual(expected(ops.hit_edge));

    // Another location: its Cache API does not have the answer, R2 does.
    const { key } = await requestAndKey({}, input, m.env, readConfig(m.env));
    expect(await caches.default.delete(edgeUrl(product, key))).toBe(true);
    const store = meter({ PRODUCT: product });
    expect(await ask(store, input)).toMatchObject({ status: 200, cache: "HIT", store: "r2" });
    expect(store.counts).toEqual(expected(ops.hit_store));
    // ...and keeps it for the rest of its TTL.
    const after = meter({ PRODUCT: product });
    expect(await ask(after, input)).toMatchObject({ cache: "HIT", store: "edge" });
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("miss_shared: a miss that waits for its key's call in flight in this isolate", async () => {
    const t = newToken();
    await standin.script(t, [{ delayMs: 300 }]);
    const input = `shared ops ${t}`;
    const m = meter();
    const both = await Promise.all([ask(m, input), ask(m, input)]);
    expect(both.map((r) => `${r.status} ${r.cache} shared=${r.shared}`).sort()).toEqual(["200 MISS shared=1", "200 MISS shared=null"]);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.miss, ops.miss_shared));
  });

  it("degrades: with every store failing, questions are still answered (and not stored)", async () => {
    const t = newToken();
    const m = meter();
    for (const op of ["r2.get", "r2.put", "cache.match", "cache.put"] as const) m.fail.add(op);
    expect(await ask(m, `down ${t}`)).toMatchObject({ status: 200, cache: "MISS", body: { answer: await replyTo(`down ${t}`) } });
    expect(await ask(m, `down ${t}`)).toMatchObject({ status: 200, cache: "MISS" });
    expect(await standin.calls(t)).toHaveLength(2);
    const { key } = await requestAndKey({}, `down ${t}`, m.env, readConfig(m.env));
    expect(await env.OUTPUTS.head(`answers/${key.slice(3)}.json`)).toBeNull();
  });

  it("degrades: a failing R2 write still answers, and the Cache API keeps the answer", async () => {
    const t = newToken();
    const m = meter();
    m.fail.add("r2.put");
    expect(await ask(m, `half ${t}`)).toMatchObject({ status: 200, cache: "MISS" });
    expect(await ask(m, `half ${t}`)).toMatchObject({ status: 200, cache: "HIT", store: "edge" });
  });

  it("degrades: a failing Cache API lookup falls through to R2", async () => {
    const t = newToken();
    const m = meter();
    expect((await ask(m, `edge down ${t}`)).cache).toBe("MISS");
    m.fail.add("cache.match");
    expect(await ask(m, `edge down ${t}`)).toMatchObject({ status: 200, cache: "HIT", store: "r2" });
  });
});

// ---------------------------------------------------------------------------
// The spend guard's events (a budgeted product): on top of the events above.
// Measured in the steady state (the product's spend row for the month exists:
// the month's first check reads no row). A product budget alone; with a stack
// budget the check and the record read one row per product with spend.
// (budgeted(), steadyProduct(): test/ops/harness.ts.)

describe("edge-cache: the spend guard's ops", () => {
  const worker = edgeCache({});
  const ops = OPS_PER_EVENT["edge-cache"];

  it("miss of a budgeted product: miss + budget_check + budget_record; hits unchanged; budget_refused", async () => {
    const product = await steadyProduct((warm) => warm.invoke(worker, postJson("/ask", { input: `warm ${newToken()}` })));

    const t = newToken();
    const m = meter(budgeted(product));
    expect((await m.invoke(worker, postJson("/ask", { input: `ops ${t}` }))).headers.get("x-cache")).toBe("MISS");
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.miss, ops.budget_check, ops.budget_record));

    const hit = meter(budgeted(product, { MONTHLY_BUDGET_USD: "0.000000001" }));
    expect((await hit.invoke(worker, postJson("/ask", { input: `ops ${t}` }))).headers.get("x-cache")).toBe("HIT");
    expect(hit.counts).toEqual(expected(ops.hit_edge));

    const refused = meter(budgeted(product, { MONTHLY_BUDGET_USD: "0.000000001" }));
    await expectError(await refused.invoke(worker, postJson("/ask", { input: `no ${newToken()}` })), 429, "budget_exhausted");
    expect(refused.counts).toEqual(expected(ops.budget_refused));
  });
});
