// The spend guard's customer scope (lib/spend/customer.ts) in workerd, on the
// event-agent Worker (waitUntil runner) and the edge-cache Worker, keyed: a
// customer with a monthly budget (its key record's monthly_budget_usd) is
// refused 429 budget_exhausted scope customer once its spend reaches it,
// while another customer of the same product is served; every call of a
// keyed request lands on its customer's customer_spend row, exactly (calls,
// tokens and nano-USD of what the stand-in answered), in the same D1 batch
// as the product's row. Runs in the event-agent project.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { EventAgentEnv } from "../../src/env";
import { newJobId } from "../../src/lib/jobid";
import { clearKeyCache } from "../../src/lib/keys";
import { runJob, type Steps } from "../../src/lib/workflow";
import { monthOf } from "../../src/lib/spend/store";
import { createWorker as eventAgent } from "../../src/patterns/event-agent";
import { createWorker as edgeCache } from "../../src/patterns/edge-cache";
import { D1Meter } from "../d1meter";
import { call, expectError, postJson, standin, type TestEnv } from "../helpers";
import { putKey } from "../keyhelpers";
import { CALL_USD, fixedCostToken, guarded, hookPosts, hooksUrl, USAGE } from "./harness";

const CALL_NANOS = Math.round(CALL_USD * 1e9);
const bearer = (key: string) => ({ authorization: `Bearer ${key}`, "cf-connecting-ip": "198.51.100.9" });

/** A keyed product over a metered SPEND; `over` may drop the product budget ("" = none). */
function keyedEnv(m: D1Meter, over: Partial<Record<keyof TestEnv, unknown>> = {}): TestEnv {
  // The limiters let everything through (ea-test's RATE_LIMITER allows 3 a minute).
  const open = { limit: async () => ({ success: true }) };
  return guarded(m, { ACCESS: "keys", DOOR_STANDARD: open, KEY_FAILURES: open, RATE_LIMITER: open, ...over });
}

/** The customer's row this month (null: none). */
async function row(product: string, customer: string): Promise<Record<string, unknown> | null> {
  return env.SPEND!.prepare("SELECT nanos, calls, input_tokens, output_tokens FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = ?3")
    .bind(monthOf(), product, customer)
    .first();
}

beforeEach(() => clearKeyCache());

describe("customer budgets (scope customer)", () => {
  const worker = eventAgent({});

  it("a customer over its budget gets 429 scope customer; another customer of the product is served; rows are exact", async () => {
    const t = await fixedCostToken();
    const m = new D1Meter(env.SPEND!);
    // No product budget: the customers' budgets alone (the store is there because the product has keys).
    const e = keyedEnv(m, { MONTHLY_BUDGET_USD: "" });
    const small = await putKey(e.PRODUCT, "small", { monthly_budget_usd: 2 * CALL_USD });
    const big = await putKey(e.PRODUCT, "big", { monthly_budget_usd: null });
    for (let i = 0; i < 2; i++) expect((await call(worker, postJson("/jobs", { input: `s${i} ${t}` }, bearer(small)), e)).status).toBe(202);
    const res = await call(worker, postJson("/jobs", { input: `s2 ${t}` }, bearer(small)), e);
    const body = (await res.clone().json()) as { error: Record<string, unknown> };
    await expectError(res, 429, "budget_exhausted");
    expect(body.error).toMatchObject({ scope: "customer" });
    expect(String(body.error.message)).toMatch(/your monthly model budget is spent/);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    // The other customer is not affected.
    for (let i = 0; i < 3; i++) expect((await call(worker, postJson("/jobs", { input: `b${i} ${t}` }, bearer(big)), e)).status).toBe(202);
    expect(await standin.calls(t)).toHaveLength(5);
    expect(await row(e.PRODUCT, "small")).toEqual({ nanos: 2 * CALL_NANOS, calls: 2, input_tokens: 2 * USAGE.input_tokens, output_tokens: 2 * USAGE.output_tokens });
    expect(await row(e.PRODUCT, "big")).toEqual({ nanos: 3 * CALL_NANOS, calls: 3, input_tokens: 3 * USAGE.input_tokens, output_tokens: 3 * USAGE.output_tokens });
    // The checks read the customer's row (one trip each); the big customer has no budget: no check at all.
    const checks = m.trips.filter((tr) => tr.sql.some((s) => s.startsWith("SELECT nanos, calls FROM customer_spend")));
    expect(checks).toHaveLength(3);
    const records = m.trips.filter((tr) => tr.sql.some((s) => s.startsWith("INSERT INTO customer_spend")));
    expect(records).toHaveLength(5);
  });

  it("with a product budget: the check reads the product's and the customer's rows in one trip, the record writes both in one batch", async () => {
    const t = await fixedCostToken();
    const m = new D1Meter(env.SPEND!);
    const e = keyedEnv(m, { MONTHLY_BUDGET_USD: "1" });
    const key = await putKey(e.PRODUCT, "acme", { monthly_budget_usd: 5 });
    // Once so that the tables exist in this isolate (the first trip carries the CREATE TABLEs).
    expect((await call(worker, postJson("/jobs", { input: `w ${t}` }, bearer(key)), e)).status).toBe(202);
    const before = m.trips.length;
    expect((await call(worker, postJson("/jobs", { input: `x ${t}` }, bearer(key)), e)).status).toBe(202);
    const trips = m.trips.slice(before);
    expect(trips.map((tr) => tr.sql.length)).toEqual([2, 2]);
    expect(trips[0]!.sql[0]).toMatch(/FROM spend WHERE month/);
    expect(trips[0]!.sql[1]).toMatch(/FROM customer_spend/);
    expect(trips[1]!.sql[0]).toMatch(/^INSERT INTO spend /);
    expect(trips[1]!.sql[1]).toMatch(/^INSERT INTO customer_spend /);
    // One more row written per call for the customer.
    expect(trips[1]!.rows_written).toBe(2);
    expect(await row(e.PRODUCT, "acme")).toMatchObject({ nanos: 2 * CALL_NANOS, calls: 2 });
  });

  it("a customer's budget alerts through the product's webhook, once a threshold, with no product budget; a customer without one never alerts", async () => {
    const t = await fixedCostToken();
    const hook = `k${crypto.randomUUID().slice(0, 8)}`;
    const e = keyedEnv(new D1Meter(env.SPEND!), { MONTHLY_BUDGET_USD: "", BUDGET_ALERT_THRESHOLDS: "50,100", BUDGET_ALERT_WEBHOOK: hooksUrl(hook) });
    const small = await putKey(e.PRODUCT, "small", { monthly_budget_usd: 2 * CALL_USD });
    const big = await putKey(e.PRODUCT, "big", { monthly_budget_usd: null });
    for (let i = 0; i < 3; i++) expect((await call(worker, postJson("/jobs", { input: `b${i} ${t}` }, bearer(big)), e)).status).toBe(202);
    expect(await hookPosts(hook)).toEqual([]);
    expect((await call(worker, postJson("/jobs", { input: `s0 ${t}` }, bearer(small)), e)).status).toBe(202);
    expect((await hookPosts(hook)).map((p) => p.body.text)).toEqual([expect.stringMatching(/^zerocost budget alert \(50%\): Customer small of product \S+ has spent/)]);
    expect((await call(worker, postJson("/jobs", { input: `s1 ${t}` }, bearer(small)), e)).status).toBe(202);
    await expectError(await call(worker, postJson("/jobs", { input: `s2 ${t}` }, bearer(small)), e), 429, "budget_exhausted");
    const texts = (await hookPosts(hook)).map((p) => p.body.text);
    expect(texts).toHaveLength(2);
    expect(texts[1]).toMatch(/\(100%\): Customer small .*The budget is spent: its model calls are refused until/);
  });

  it("the workflow runner's instance carries the customer's budget (budget_usd), so its calls alert too", async () => {
    const t = await fixedCostToken();
    const hook = `k${crypto.randomUUID().slice(0, 8)}`;
    const e = keyedEnv(new D1Meter(env.SPEND!), { MONTHLY_BUDGET_USD: "", BUDGET_ALERT_THRESHOLDS: "100", BUDGET_ALERT_WEBHOOK: hooksUrl(hook) });
    const steps: Steps = { do: (_name, _config, callback) => callback({ attempt: 1 }) };
    for (let i = 0; i < 2; i++) {
      const id = await newJobId(e, Date.now(), "wfc");
      const rec = await runJob(e as unknown as EventAgentEnv, {}, id, `w${i} ${t}`, Date.now(), steps, "wfc", 2 * CALL_USD);
      expect(rec).toMatchObject({ status: "done", customer: "wfc" });
    }
    expect((await hookPosts(hook)).map((p) => p.body.text)).toEqual([expect.stringMatching(/\(100%\): Customer wfc of product /)]);
  });

  it("a budget raised in the key's record applies once the isolate reads it again", async () => {
    const t = await fixedCostToken();
    const e = keyedEnv(new D1Meter(env.SPEND!), { MONTHLY_BUDGET_USD: "" });
    const key = await putKey(e.PRODUCT, "grow", { monthly_budget_usd: CALL_USD });
    expect((await call(worker, postJson("/jobs", { input: `g0 ${t}` }, bearer(key)), e)).status).toBe(202);
    await expectError(await call(worker, postJson("/jobs", { input: `g1 ${t}` }, bearer(key)), e), 429, "budget_exhausted");
    // zerocost keys create --customer grow --monthly-budget-usd rewrites the customer's live records.
    const hash = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const rec = (await env.KEYS!.get(`k:${hash}`, "json")) as Record<string, unknown>;
    await env.KEYS!.put(`k:${hash}`, JSON.stringify({ ...rec, monthly_budget_usd: 1 }));
    clearKeyCache(); // the isolate's 60 s cache, past
    expect((await call(worker, postJson("/jobs", { input: `g2 ${t}` }, bearer(key)), e)).status).toBe(202);
    expect(await row(e.PRODUCT, "grow")).toMatchObject({ calls: 2, nanos: 2 * CALL_NANOS });
  });

  it("a public product's calls write no customer row", async () => {
    const t = await fixedCostToken();
    const m = new D1Meter(env.SPEND!);
    const e = guarded(m, { ACCESS: "public" });
    expect((await call(worker, postJson("/jobs", { input: `pub ${t}` }), e)).status).toBe(202);
    expect(m.trips.some((tr) => tr.sql.some((s) => s.includes("customer_spend") && !s.startsWith("CREATE")))).toBe(false);
  });

  it("edge-cache: a miss of a customer over its budget is 429 scope customer; the other customer's miss is answered and recorded", async () => {
    const ec = edgeCache({});
    const t = await fixedCostToken();
    const e = keyedEnv(new D1Meter(env.SPEND!), { MONTHLY_BUDGET_USD: "", CACHE_TTL_SECONDS: "60" });
    const small = await putKey(e.PRODUCT, "small", { monthly_budget_usd: CALL_USD });
    const other = await putKey(e.PRODUCT, "other", { monthly_budget_usd: 1 });
    expect((await call(ec, postJson("/ask", { input: `q0 ${t}` }, bearer(small)), e)).status).toBe(200);
    const refused = await call(ec, postJson("/ask", { input: `q1 ${t}` }, bearer(small)), e);
    expect(((await refused.clone().json()) as { error: Record<string, unknown> }).error).toMatchObject({ code: "budget_exhausted", scope: "customer" });
    expect(refused.status).toBe(429);
    expect((await call(ec, postJson("/ask", { input: `q1 ${t}` }, bearer(other)), e)).status).toBe(200);
    expect(await row(e.PRODUCT, "small")).toEqual({ nanos: CALL_NANOS, calls: 1, input_tokens: USAGE.input_tokens, output_tokens: USAGE.output_tokens });
    expect(await row(e.PRODUCT, "other")).toEqual({ nanos: CALL_NANOS, calls: 1, input_tokens: USAGE.input_tokens, output_tokens: USAGE.output_tokens });
  });
});
