// Batch mode (test/batch/harness.ts): one poll run stays within Workers
// Free's 50 D1 queries per invocation (lib/invocation.ts), which Miniflare
// does not enforce, so the test counts the SPEND binding's round trips
// (test/d1meter.ts). An ended batch's succeeded results record their spend
// in ONE record per payer, the customer or none (lib/batch/settle.ts; the
// upsert, its retry and its alerts' claim: poll.ts D1_PER_PAYER), so a whole
// batch of 100 jobs of a few customers settles in one run (it took 8 runs
// when each result recorded its spend alone: 13 results a run), and a run
// makes at most POLL_RECORDS such records: the jobs of the payers past them
// wait for the next run.
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pollBatches, POLL_RECORDS } from "../../src/lib/batch/poll";
import { readConfig } from "../../src/lib/config";
import { FREE_D1_QUERIES } from "../../src/lib/invocation";
import { clearKeyCache } from "../../src/lib/keys";
import { callCostNanos, parsePrices } from "../../src/lib/prices";
import { monthOf } from "../../src/lib/spend/store";
import { fixedCost, hookPosts, hooksUrl, PRICES, USAGE } from "../budget/harness";
import { D1Meter } from "../d1meter";
import { jobRecord, newToken, type TestEnv } from "../helpers";
import { putKey, sha256hex } from "../keyhelpers";
import { batchEnv, deliver, job, resetBatchMode } from "./harness";

beforeEach(() => clearKeyCache());
afterEach(resetBatchMode);

const prices = parsePrices(PRICES);

/** One poll run; its summary and its D1 round trips. */
async function pollOnce(e: TestEnv, meter: D1Meter) {
  const before = meter.trips.length;
  const sum = await pollBatches(e, readConfig(e), {});
  return { sum, d1: meter.trips.length - before };
}

/** The spend records (a round trip upserting the product's or a customer's row). */
const spendRecords = (meter: D1Meter) => meter.trips.filter((t) => t.sql.some((s) => /^INSERT INTO (customer_)?spend /.test(s))).length;

/** `plan` jobs per customer ("" = none), each customer with a key (of `budgets[customer]` USD), delivered together: one Message Batch. */
async function oneBatch(e: TestEnv, plan: Record<string, number>, input: (customer: string, i: number) => string, budgets: Record<string, number> = {}) {
  const jobs = [];
  for (const [customer, count] of Object.entries(plan)) {
    const key = customer ? await putKey(e.PRODUCT, customer, { monthly_budget_usd: budgets[customer] ?? null }) : "";
    for (let i = 0; i < count; i++) {
      const j = await job(e, input(customer, i));
      if (customer) {
        j.msg.body.customer = customer;
        j.msg.body.key_hash = await sha256hex(key);
      }
      jobs.push(j);
    }
  }
  const r = await deliver(e, jobs.map((j) => j.msg));
  expect(r.explicitAcks).toHaveLength(jobs.length);
  clearKeyCache();
  return jobs.map((j) => ({ id: j.id, customer: (j.msg.body.customer as string | undefined) ?? "" }));
}

/** What one record per settled job would have left: the product's row and each customer's, from the jobs' own usage. */
async function expectedRows(jobs: Array<{ id: string; customer: string }>) {
  const product = { nanos: 0, calls: 0 };
  const customers = new Map<string, { nanos: number; calls: number; input_tokens: number; output_tokens: number }>();
  const costs = new Set<number>();
  for (const j of jobs) {
    const rec = (await jobRecord(j.id))!;
    expect(rec).toMatchObject({ status: "done" });
    const cost = callCostNanos(prices, rec.usage, "batch");
    costs.add(cost);
    product.nanos += cost;
    if (cost > 0) product.calls++;
    if (!j.customer) continue;
    const c = customers.get(j.customer) ?? { nanos: 0, calls: 0, input_tokens: 0, output_tokens: 0 };
    c.nanos += cost;
    c.calls++;
    c.input_tokens += rec.usage.input_tokens;
    c.output_tokens += rec.usage.output_tokens;
    customers.set(j.customer, c);
  }
  return { product, customers, costs };
}

async function productRow(product: string) {
  return env.SPEND!.prepare("SELECT nanos, calls FROM spend WHERE month = ?1 AND product = ?2").bind(monthOf(), product).first();
}
async function customerRow(product: string, customer: string) {
  return env.SPEND!.prepare("SELECT nanos, calls, input_tokens, output_tokens FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = ?3")
    .bind(monthOf(), product, customer)
    .first();
}

describe("batch mode: the poller's D1 queries", () => {
  it("an ended batch of 100 succeeded jobs of 3 customers (and 10 of none) settles in ONE run within 50 D1 queries: one spend record per payer, every row exact", async () => {
    const meter = new D1Meter(env.SPEND!);
    const e = batchEnv({ SPEND: meter.binding, BUDGET_ALERT_WEBHOOK: "" });
    // Inputs of varied length: the stand-in's usage (and so each job's cost) follows them.
    const jobs = await oneBatch(e, { acme: 40, bolt: 30, core: 20, "": 10 }, (c, i) => `${c || "none"} ${"word ".repeat(i % 17)}${newToken()}`);
    expect(jobs).toHaveLength(100);
    meter.reset();
    const r = await pollOnce(e, meter);
    expect(r.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
    expect(r.sum).toMatchObject({ done: 100, finished: 1, deferred: 0, skipped: 0 });
    expect(spendRecords(meter)).toBe(4);

    const want = await expectedRows(jobs);
    expect(want.costs.size).toBeGreaterThan(5); // the jobs' costs differ: the sums are not a multiple of one cost
    expect(await productRow(e.PRODUCT)).toEqual(want.product);
    for (const c of ["acme", "bolt", "core"]) expect(await customerRow(e.PRODUCT, c)).toEqual(want.customers.get(c));

    // Nothing is recorded twice: the batch record went, a second run settles nothing.
    expect((await pollOnce(e, meter)).sum).toMatchObject({ open: 0, done: 0 });
    expect(spendRecords(meter)).toBe(4);
    expect(await productRow(e.PRODUCT)).toEqual(want.product);
  }, 30_000);

  it("a run makes at most POLL_RECORDS spend records: the payers past them wait for the next run, the batches past them are deferred", async () => {
    const meter = new D1Meter(env.SPEND!);
    const e = batchEnv({ SPEND: meter.binding, BUDGET_ALERT_WEBHOOK: "" });
    // Three batches of 10 jobs, each job its own customer: 30 payers.
    const batches = [];
    for (let b = 0; b < 3; b++) {
      const plan = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`c${b}x${i}`, 1]));
      batches.push(await oneBatch(e, plan, (c) => `${c} ${newToken()}`));
    }
    meter.reset();
    const r = await pollOnce(e, meter);
    expect(r.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
    // The first batch whole, POLL_RECORDS - 10 payers of the second (its record stays), the third deferred.
    expect(r.sum).toMatchObject({ finished: 1, done: POLL_RECORDS, deferred: 1 });
    for (const j of batches[2]!) expect(await jobRecord(j.id)).toMatchObject({ status: "submitted" });
    let done = r.sum.done;
    for (let runs = 0; done < 30; runs++) {
      expect(runs).toBeLessThan(5);
      const next = await pollOnce(e, meter);
      expect(next.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
      expect(next.sum.done).toBe(Math.min(POLL_RECORDS, 30 - done));
      done += next.sum.done;
    }
    expect(spendRecords(meter)).toBe(30);
    // Each job done and paid once, on its customer's row.
    for (const j of batches.flat()) {
      expect(await jobRecord(j.id)).toMatchObject({ status: "done" });
      expect(await customerRow(e.PRODUCT, j.customer)).toMatchObject({ calls: 1 });
    }
    expect(await productRow(e.PRODUCT)).toMatchObject({ calls: 30 });
  }, 30_000);

  it("the summed records still send each budget alert once: the product's and the customers' thresholds crossed in one run, none again later", async () => {
    const t = newToken();
    await fixedCost(t);
    const B = callCostNanos(prices, USAGE, "batch");
    const usd = (n: number) => (n * B) / 1e9;
    const meter = new D1Meter(env.SPEND!);
    const hook = `d${crypto.randomUUID().slice(0, 8)}`;
    // The product's budget is 200 jobs' worth, acme's 60, bolt's 50; core has none.
    const e = batchEnv({ SPEND: meter.binding, MODEL_PRICES: PRICES, MONTHLY_BUDGET_USD: usd(200).toFixed(9), STACK_BUDGET_USD: "", BUDGET_ALERT_THRESHOLDS: "50,80,100", BUDGET_ALERT_WEBHOOK: hooksUrl(hook) });
    const budgets = { acme: usd(60), bolt: usd(50) };
    const input = (c: string, i: number) => `${c}${i} ${t} ${crypto.randomUUID()}`;
    await oneBatch(e, { acme: 50, bolt: 30, core: 20 }, input, budgets);
    meter.reset();
    const r = await pollOnce(e, meter);
    expect(r.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
    expect(r.sum).toMatchObject({ done: 100, finished: 1 });
    const heads = async () => (await hookPosts(hook)).map((p) => p.body.text.split(" has spent ")[0]!.replace(e.PRODUCT, "P")).sort();
    // acme at 83% (50 and 80 crossed by its one record), bolt at 60%, the product at 50%.
    expect(await heads()).toEqual([
      "zerocost budget alert (50%): Customer acme of product P",
      "zerocost budget alert (50%): Customer bolt of product P",
      "zerocost budget alert (50%): Product P",
      "zerocost budget alert (80%): Customer acme of product P",
    ]);
    expect(await customerRow(e.PRODUCT, "acme")).toMatchObject({ nanos: 50 * B, calls: 50 });

    // A second batch: acme reaches 100% and bolt 80%, their one new alert each; the product (60%) none.
    await oneBatch(e, { acme: 10, bolt: 10 }, input, budgets);
    expect((await pollOnce(e, meter)).sum).toMatchObject({ done: 20, finished: 1 });
    expect(await heads()).toEqual([
      "zerocost budget alert (100%): Customer acme of product P",
      "zerocost budget alert (50%): Customer acme of product P",
      "zerocost budget alert (50%): Customer bolt of product P",
      "zerocost budget alert (50%): Product P",
      "zerocost budget alert (80%): Customer acme of product P",
      "zerocost budget alert (80%): Customer bolt of product P",
    ]);
    expect(await productRow(e.PRODUCT)).toEqual({ nanos: 120 * B, calls: 120 });
  }, 30_000);
});
