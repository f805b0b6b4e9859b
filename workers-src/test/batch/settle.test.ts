// Batch mode's one spend record per payer (lib/batch/settle.ts): only the
// jobs whose done write landed are in it, so a job's spend is recorded at
// most once; a record that fails is logged with the jobs' ids, the jobs stay
// done and no later run records them again (their records keep the usage).
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { pollBatches } from "../../src/lib/batch/poll";
import { readConfig } from "../../src/lib/config";
import { clearKeyCache } from "../../src/lib/keys";
import { callCostNanos, parsePrices } from "../../src/lib/prices";
import { monthOf } from "../../src/lib/spend/store";
import { PRICES } from "../budget/harness";
import { D1Meter } from "../d1meter";
import { jobRecord, newToken, type TestEnv } from "../helpers";
import { putKey, sha256hex } from "../keyhelpers";
import { batchEnv, deliver, job, resetBatchMode } from "./harness";

beforeEach(() => clearKeyCache());
afterEach(() => {
  vi.restoreAllMocks();
  return resetBatchMode();
});

const prices = parsePrices(PRICES);

/** `n` jobs of acme (with a key) and `none` of no customer, delivered together: one Message Batch. */
async function submitted(e: TestEnv, n: number, none = 0): Promise<string[]> {
  const key = await putKey(e.PRODUCT, "acme", { monthly_budget_usd: null });
  const jobs = [];
  for (let i = 0; i < n + none; i++) {
    const j = await job(e, `settle ${"word ".repeat(i)}${newToken()}`);
    if (i < n) {
      j.msg.body.customer = "acme";
      j.msg.body.key_hash = await sha256hex(key);
    }
    jobs.push(j);
  }
  expect((await deliver(e, jobs.map((j) => j.msg))).explicitAcks).toHaveLength(jobs.length);
  clearKeyCache();
  return jobs.map((j) => j.id);
}

const acmeRow = (product: string) =>
  env.SPEND!.prepare("SELECT nanos, calls FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = 'acme'").bind(monthOf(), product).first();
const productRow = (product: string) => env.SPEND!.prepare("SELECT nanos, calls FROM spend WHERE month = ?1 AND product = ?2").bind(monthOf(), product).first();

/** The project's OUTPUTS, whose conditional put of `key` finds the record changed (R2 answers null). */
function changedMeanwhile(key: string): R2Bucket {
  const r2 = env.OUTPUTS;
  return {
    get: (k: string, o?: R2GetOptions) => r2.get(k, o),
    head: (k: string) => r2.head(k),
    list: (o?: R2ListOptions) => r2.list(o),
    delete: (k: string | string[]) => r2.delete(k),
    put: async (k: string, v: any, o?: R2PutOptions) => (k === key && o?.onlyIf ? null : r2.put(k, v, o)),
  } as unknown as R2Bucket;
}

describe("batch mode: a payer's one spend record", () => {
  it("holds only the jobs whose done write landed: a job changed meanwhile is skipped and not paid", async () => {
    const meter = new D1Meter(env.SPEND!);
    const e = batchEnv({ SPEND: meter.binding, BUDGET_ALERT_WEBHOOK: "" });
    const ids = await submitted(e, 5);
    const [victim, ...rest] = ids;
    const sum = await pollBatches({ ...e, OUTPUTS: changedMeanwhile(`jobs/${victim}.json`) } as TestEnv, readConfig(e), {});
    expect(sum).toMatchObject({ done: 4, skipped: 1 });
    expect(await jobRecord(victim!)).toMatchObject({ status: "submitted" });
    let nanos = 0;
    for (const id of rest) nanos += callCostNanos(prices, (await jobRecord(id))!.usage, "batch");
    expect(await acmeRow(e.PRODUCT)).toEqual({ nanos, calls: 4 });
    expect(await productRow(e.PRODUCT)).toEqual({ nanos, calls: 4 });
  });

  it("a record that fails (D1 down) is logged with its jobs' ids; the jobs stay done and no later run records them again", async () => {
    const meter = new D1Meter(env.SPEND!);
    const e = batchEnv({ SPEND: meter.binding, BUDGET_ALERT_WEBHOOK: "" });
    const ids = await submitted(e, 3, 2);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    meter.fail = true;
    expect(await pollBatches(e, readConfig(e), {})).toMatchObject({ done: 5, finished: 1 });
    const logged = errors.mock.calls.map((c) => String(c[0])).filter((m) => /recording the spend of \d+ settled jobs failed/.test(m));
    expect(logged).toHaveLength(2); // acme's record and the one of the jobs of no customer
    expect(logged.find((m) => m.includes("of 3 settled jobs"))).toSatisfy((m: string) => ids.slice(0, 3).every((id) => m.includes(id)));
    expect(logged.find((m) => m.includes("of 2 settled jobs"))).toSatisfy((m: string) => ids.slice(3).every((id) => m.includes(id)));
    meter.fail = false;
    for (const id of ids) expect(await jobRecord(id)).toMatchObject({ status: "done", usage: expect.any(Object) });
    // The batch record went with its jobs: the next run settles and records nothing.
    expect(await pollBatches(e, readConfig(e), {})).toMatchObject({ open: 0, done: 0 });
    expect(await acmeRow(e.PRODUCT)).toBeNull();
    expect(await productRow(e.PRODUCT)).toBeNull();
  });
});
