// Batch mode (test/batch/harness.ts): what a job costs, and the spend guard.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { BatchRecord } from "../../src/lib/batch/record";
import { PRICES } from "../budget/harness";
import { jobRecord, newToken, testEnv, type TestEnv } from "../helpers";
import { batchEnv, deliver, job, poll, resetBatchMode, watchBatchCalls } from "./harness";

afterEach(resetBatchMode);

describe("batch mode: cost", () => {
  it("a job costs the same tokens in both modes (so batch mode costs half at the batch price)", async () => {
    const input = `same tokens ${newToken()}`;
    const rt = testEnv({ MODEL_MODE: "realtime" } as Partial<Record<keyof TestEnv, unknown>>);
    const a = await job(rt, input);
    await deliver(rt, [a.msg]);
    const b = batchEnv();
    const c = await job(b, input);
    await deliver(b, [c.msg]);
    await poll(b);
    const [realtime, batch] = [await jobRecord(a.id), await jobRecord(c.id)];
    expect(realtime).toMatchObject({ status: "done" });
    expect(batch).toMatchObject({ status: "done", result: realtime!.result });
    expect(batch!.usage).toEqual(realtime!.usage);
    expect(realtime!.usage.input_tokens).toBeGreaterThan(0);
  });
});

describe("batch mode: the spend guard (lib/spend/, the project's D1 SPEND)", () => {
  const guarded = (over: Record<string, unknown> = {}) =>
    batchEnv({ MODEL_PRICES: PRICES, MONTHLY_BUDGET_USD: "1", STACK_BUDGET_USD: "", BUDGET_ALERT_THRESHOLDS: "50,80,100", BUDGET_ALERT_WEBHOOK: "", ...over });

  it("records each succeeded result at the batch price; once spent, parks a delivery without creating a batch", async () => {
    const { budgetStatus } = await import("../../src/lib/spend/guard");
    const { readConfig } = await import("../../src/lib/config");
    const { callCostNanos, parsePrices } = await import("../../src/lib/prices");
    const e = guarded();
    const a = await job(e);
    await deliver(e, [a.msg]);
    await poll(e);
    const rec = (await jobRecord(a.id))!;
    expect(rec).toMatchObject({ status: "done" });
    const prices = parsePrices(PRICES);
    const batchNanos = callCostNanos(prices, rec.usage, "batch");
    expect(batchNanos).toBe(Math.ceil(callCostNanos(prices, rec.usage, "realtime") / 2));
    const spent = await budgetStatus(e, readConfig(e));
    expect(Math.round(spent.spent_usd * 1e9)).toBe(batchNanos);

    // The budget is now exactly what was spent: the next delivery is parked.
    const e2 = { ...e, MONTHLY_BUDGET_USD: (batchNanos / 1e9).toFixed(9) } as TestEnv;
    const b = await job(e2);
    const calls = watchBatchCalls();
    const r = await deliver(e2, [b.msg]);
    expect(r.explicitAcks).toEqual([b.msg.id]);
    expect(calls).toEqual([]);
    expect(await jobRecord(b.id)).toMatchObject({ status: "budget_exhausted", error: expect.stringMatching(/budget/) });
    // Delivered again: still parked, still nothing created.
    expect((await deliver(e2, [{ ...b.msg, attempts: 2 }])).explicitAcks).toEqual([b.msg.id]);
    expect(calls).toEqual([]);
  });

  it("a spent delivery of 50 jobs parks them all in one D1 round trip, besides the budget check (Workers Free: 50 queries an invocation)", async () => {
    const { D1Meter } = await import("../d1meter");
    const meter = new D1Meter(env.SPEND!);
    // A budget of $0: spent before the first call.
    const e = guarded({ MONTHLY_BUDGET_USD: "0", SPEND: meter.binding });
    const jobs = await Promise.all(Array.from({ length: 50 }, () => job(e)));
    const calls = watchBatchCalls();
    const before = meter.trips.length;
    const r = await deliver(e, jobs.map((j) => j.msg));
    expect(r.explicitAcks).toHaveLength(50);
    expect(calls).toEqual([]);
    for (const j of jobs) expect(await jobRecord(j.id)).toMatchObject({ status: "budget_exhausted" });
    const trips = meter.trips.slice(before);
    // The check, then one round trip holding the 50 jobs' rows.
    expect(trips.length).toBeLessThanOrEqual(2);
    expect(trips.filter((t) => t.sql.some((q) => q.startsWith("INSERT INTO parked_jobs")))).toHaveLength(1);
    const parked = await env.SPEND!.prepare("SELECT COUNT(*) AS n FROM parked_jobs WHERE product = ?1").bind(e.PRODUCT).first<{ n: number }>();
    expect(parked?.n).toBe(50);
  });

  it("customers: the batch record carries each job's customer; a customer over its budget is parked, the other's job submitted; settled spend lands on the customer's row", async () => {
    const { putKey, sha256hex } = await import("../keyhelpers");
    const { callCostNanos, parsePrices } = await import("../../src/lib/prices");
    const { monthOf } = await import("../../src/lib/spend/store");
    const e = guarded({ MONTHLY_BUDGET_USD: "" });
    const capped = await putKey(e.PRODUCT, "capped", { monthly_budget_usd: 0 });
    const paying = await putKey(e.PRODUCT, "paying", { monthly_budget_usd: 1 });
    const [c, p] = [await job(e), await job(e)];
    c.msg.body.customer = "capped";
    c.msg.body.key_hash = await sha256hex(capped);
    p.msg.body.customer = "paying";
    p.msg.body.key_hash = await sha256hex(paying);
    const r = await deliver(e, [c.msg, p.msg]);
    expect(r.explicitAcks.sort()).toEqual([c.msg.id, p.msg.id].sort());
    expect(await jobRecord(c.id)).toMatchObject({ status: "budget_exhausted", error: expect.stringMatching(/your monthly model budget/) });
    expect(await jobRecord(p.id)).toMatchObject({ status: "submitted", customer: "paying" });
    const listed = await env.OUTPUTS.list({ prefix: "batches/" });
    expect(listed.objects).toHaveLength(1);
    const rec = (await (await env.OUTPUTS.get(listed.objects[0]!.key))!.json()) as BatchRecord;
    expect(rec.jobs).toEqual([{ job_id: p.id, input: p.input, attempt: 1, customer: "paying", key_hash: await sha256hex(paying) }]);
    await poll(e);
    const done = (await jobRecord(p.id))!;
    expect(done).toMatchObject({ status: "done", customer: "paying" });
    const row = await env.SPEND!.prepare("SELECT nanos, calls, input_tokens, output_tokens FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = ?3")
      .bind(monthOf(), e.PRODUCT, "paying")
      .first();
    expect(row).toEqual({
      nanos: callCostNanos(parsePrices(PRICES), done.usage, "batch"),
      calls: 1,
      input_tokens: done.usage.input_tokens,
      output_tokens: done.usage.output_tokens,
    });
  });
});
