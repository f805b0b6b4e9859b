// Batch mode's customer budget alerts (lib/batch/payers.ts): the poller
// records a settled job's spend on its customer's payer with the budget its
// key's record gives now, so a customer with a budget gets the product's
// alerts through the product's webhook (the receiver of
// test/node/global-setup.ts), once per threshold a month, as on the realtime
// paths; one KV read per customer per poll run. Calls cost a fixed
// $0.002 at the realtime price (test/budget/harness.ts), half in batch mode.
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { POLL_MAX_BINDING_OPS, pollBatches } from "../../src/lib/batch/poll";
import { batchKey } from "../../src/lib/batch/record";
import { readConfig } from "../../src/lib/config";
import { clearKeyCache } from "../../src/lib/keys";
import { callCostNanos, parsePrices } from "../../src/lib/prices";
import { monthOf } from "../../src/lib/spend/store";
import { fixedCost, hookPosts, hooksUrl, PRICES, USAGE } from "../budget/harness";
import { jobRecord, newToken, type TestEnv } from "../helpers";
import { putKey, sha256hex } from "../keyhelpers";
import { batchEnv, deliver, job, poll, resetBatchMode } from "./harness";

const BATCH_NANOS = callCostNanos(parsePrices(PRICES), USAGE, "batch");
const BATCH_USD = BATCH_NANOS / 1e9;

beforeEach(() => clearKeyCache());
afterEach(resetBatchMode);

/** The project's KEYS, counting its reads. */
function countingKeys() {
  const counts = { get: 0 };
  const kv = env.KEYS!;
  const binding = { get: (...args: Parameters<KVNamespace["get"]>) => (counts.get++, kv.get(...args)) };
  return { counts, binding: binding as unknown as KVNamespace };
}

/** A batch-mode product with keys, no budget of its own, alerting at 50% and 100% to a webhook of its own. */
function alerting(keys: KVNamespace) {
  const hook = `b${crypto.randomUUID().slice(0, 8)}`;
  const e = batchEnv({
    MODEL_PRICES: PRICES,
    MONTHLY_BUDGET_USD: "",
    STACK_BUDGET_USD: "",
    BUDGET_ALERT_THRESHOLDS: "50,100",
    BUDGET_ALERT_WEBHOOK: hooksUrl(hook),
    KEYS: keys,
  });
  return { e, hook };
}

/** `count` jobs of the customer with the key, their inputs carrying the token (so each costs BATCH_NANOS). */
async function jobsOf(e: TestEnv, token: string, customer: string, key: string, count: number) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const j = await job(e, `${customer}${i} ${token} ${crypto.randomUUID()}`);
    j.msg.body.customer = customer;
    j.msg.body.key_hash = await sha256hex(key);
    out.push(j);
  }
  return out;
}

/**
 * Submits the jobs as one Message Batch, then runs the poller once (one
 * apply pass) with `pollEnv`; `reads` counts the poller's KV reads alone.
 */
async function pass(e: TestEnv, jobs: Array<Awaited<ReturnType<typeof job>>>, pollEnv: TestEnv = e, reads?: { get: number }): Promise<void> {
  const r = await deliver(e, jobs.map((j) => j.msg));
  expect(r.explicitAcks.sort()).toEqual(jobs.map((j) => j.msg.id).sort());
  clearKeyCache(); // the consumer's check read the keys and cached them: the poller starts with none cached
  if (reads) reads.get = 0;
  await poll(pollEnv);
  for (const j of jobs) expect(await jobRecord(j.id)).toMatchObject({ status: "done" });
}

/** The customer's row this month (null: none). */
async function row(product: string, customer: string): Promise<Record<string, unknown> | null> {
  return env.SPEND!.prepare("SELECT nanos, calls FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = ?3")
    .bind(monthOf(), product, customer)
    .first();
}

const texts = async (hook: string) => (await hookPosts(hook)).map((p) => p.body.text);

describe("batch mode: customer budget alerts", () => {
  it("a customer's settled spend alerts once per threshold; a second pass in the month sends no second alert; one KV read per customer per pass", async () => {
    const t = newToken();
    await fixedCost(t);
    const kv = countingKeys();
    const { e, hook } = alerting(kv.binding);
    const key = await putKey(e.PRODUCT, "acme", { monthly_budget_usd: 5 * BATCH_USD });

    // Pass 1: three jobs of one customer in one batch, settled concurrently: 60%, the 50% alert.
    await pass(e, await jobsOf(e, t, "acme", key, 3), e, kv.counts);
    expect(kv.counts.get).toBe(1);
    expect(await row(e.PRODUCT, "acme")).toEqual({ nanos: 3 * BATCH_NANOS, calls: 3 });
    expect(await texts(hook)).toEqual([expect.stringMatching(/^zerocost budget alert \(50%\): Customer acme of product \S+ has spent/)]);

    // Pass 2 (80%): no second alert.
    await pass(e, await jobsOf(e, t, "acme", key, 1), e, kv.counts);
    expect(kv.counts.get).toBe(1);
    expect(await row(e.PRODUCT, "acme")).toEqual({ nanos: 4 * BATCH_NANOS, calls: 4 });
    expect(await texts(hook)).toHaveLength(1);

    // Pass 3 (100%): the next threshold's alert, once.
    await pass(e, await jobsOf(e, t, "acme", key, 1));
    const sent = await texts(hook);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatch(/\(100%\): Customer acme .*The budget is spent: its model calls are refused until/);
  });

  it("a customer without a budget gets no alert beside one with a budget in the same batch; both rows exact", async () => {
    const t = newToken();
    await fixedCost(t);
    const kv = countingKeys();
    const { e, hook } = alerting(kv.binding);
    const free = await putKey(e.PRODUCT, "free", { monthly_budget_usd: null });
    const capped = await putKey(e.PRODUCT, "capped", { monthly_budget_usd: 2 * BATCH_USD });
    await pass(e, [...(await jobsOf(e, t, "free", free, 3)), ...(await jobsOf(e, t, "capped", capped, 1))], e, kv.counts);
    expect(kv.counts.get).toBe(2);
    expect(await row(e.PRODUCT, "free")).toEqual({ nanos: 3 * BATCH_NANOS, calls: 3 });
    expect(await row(e.PRODUCT, "capped")).toEqual({ nanos: BATCH_NANOS, calls: 1 });
    expect(await texts(hook)).toEqual([expect.stringMatching(/\(50%\): Customer capped of product /)]);
  });

  it("a key revoked or deleted after its job was sent: the spend still lands on the customer's row, with no alert", async () => {
    const t = newToken();
    await fixedCost(t);
    const { e, hook } = alerting(env.KEYS!);
    // One settled job is 50% of each budget: an alert if the budget were read.
    const revoked = await putKey(e.PRODUCT, "revoked", { monthly_budget_usd: 2 * BATCH_USD });
    const deleted = await putKey(e.PRODUCT, "deleted", { monthly_budget_usd: 2 * BATCH_USD });
    const jobs = [...(await jobsOf(e, t, "revoked", revoked, 1)), ...(await jobsOf(e, t, "deleted", deleted, 1))];
    const r = await deliver(e, jobs.map((j) => j.msg));
    expect(r.explicitAcks).toHaveLength(2);
    // The batch record names its customers' count: the poller's bound on the key reads applying it takes.
    const listed = await env.OUTPUTS.list({ prefix: "batches/", include: ["customMetadata"] });
    expect(listed.objects.map((o) => o.customMetadata)).toEqual([{ jobs: "2", customers: "2" }]);
    // zerocost keys revoke sets revoked_at and keeps the record; a record may also be gone.
    const rk = `k:${await sha256hex(revoked)}`;
    const rec = (await env.KEYS!.get(rk, "json")) as Record<string, unknown>;
    await env.KEYS!.put(rk, JSON.stringify({ ...rec, revoked_at: new Date().toISOString() }));
    await env.KEYS!.delete(`k:${await sha256hex(deleted)}`);
    clearKeyCache();
    await poll(e);
    for (const j of jobs) expect(await jobRecord(j.id)).toMatchObject({ status: "done" });
    expect(await row(e.PRODUCT, "revoked")).toEqual({ nanos: BATCH_NANOS, calls: 1 });
    expect(await row(e.PRODUCT, "deleted")).toEqual({ nanos: BATCH_NANOS, calls: 1 });
    expect(await texts(hook)).toEqual([]);
  });

  it("KV failing when the poller reads the key: the spend still lands on the row, with no alert", async () => {
    const t = newToken();
    await fixedCost(t);
    const { e, hook } = alerting(env.KEYS!);
    const key = await putKey(e.PRODUCT, "kvdown", { monthly_budget_usd: 2 * BATCH_USD });
    const down = { get: async () => Promise.reject(new Error("KV: injected failure")) } as unknown as KVNamespace;
    await pass(e, await jobsOf(e, t, "kvdown", key, 1), { ...e, KEYS: down } as TestEnv);
    expect(await row(e.PRODUCT, "kvdown")).toEqual({ nanos: BATCH_NANOS, calls: 1 });
    expect(await texts(hook)).toEqual([]);
  });

  it("the poller counts a batch's key reads in its binding-call bound: a record with no customers count is taken at one read a job", async () => {
    const e = batchEnv();
    // 200 jobs: 3n + 3 binding calls fit the poll's bound, 3n + 3 plus a key read a job do not.
    const n = 200;
    expect(1 + 3 * n + 3).toBeLessThanOrEqual(POLL_MAX_BINDING_OPS);
    expect(1 + 4 * n + 3).toBeGreaterThan(POLL_MAX_BINDING_OPS);
    // Batches the stand-in does not know (gone: 404), with records of no jobs, so applying one writes nothing.
    const put = (id: string, meta: Record<string, string>) =>
      env.OUTPUTS.put(batchKey(id), JSON.stringify({ batch_id: id, product: e.PRODUCT, created_at: new Date().toISOString(), jobs: [] }), { customMetadata: meta });
    await put("msgbatch_unknown_customers", { jobs: String(n) });
    expect(await pollBatches(e, readConfig(e), {})).toMatchObject({ open: 1, retrieved: 1, finished: 0, deferred: 1 });
    await env.OUTPUTS.delete(batchKey("msgbatch_unknown_customers"));
    await put("msgbatch_no_customers", { jobs: String(n), customers: "0" });
    expect(await pollBatches(e, readConfig(e), {})).toMatchObject({ open: 1, retrieved: 1, finished: 1, deferred: 0 });
  });
});
