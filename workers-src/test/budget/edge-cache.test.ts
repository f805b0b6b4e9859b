// The spend guard (lib/spend/) in edge-cache, in workerd against the project's
// D1 (SPEND, from the test config) wrapped by D1Meter (every round trip and
// the rows D1 counts). Model calls cost a fixed $0.002 here: the stand-in
// answers a scripted body with 1,000 input and 200 output tokens
// (claude-haiku-4-5 at $1/$5 per million). Budgets are small per-test vars.
// Alerts go to the local receiver of test/node/global-setup.ts. Runs in the
// edge-cache project (test/budget/<pattern>.test.ts: one file per pattern; the
// shared helpers are in test/budget/harness.ts).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { budgetStatus, recordSpend } from "../../src/lib/spend/guard";
import { readConfig } from "../../src/lib/config";
import { createWorker as edgeCache } from "../../src/patterns/edge-cache";
import { D1Meter } from "../d1meter";
import { call, expectError, standin, type TestEnv } from "../helpers";
import { CALL_USD, expectExhausted, fixedCostToken, guarded, hookPosts, hooksUrl, post, stackSpent, USAGE } from "./harness";

describe("edge-cache", () => {
  const worker = edgeCache({});

  async function ask(input: string, e: TestEnv) {
    const res = await call(worker, post("/ask", { input }), e);
    return { res, cache: res.headers.get("x-cache") };
  }

  it("misses refuse once spent (429); hits still answer, even with D1 down, and never touch it", async () => {
    const t = await fixedCostToken();
    const m = new D1Meter(env.SPEND!);
    const e = guarded(m, { MONTHLY_BUDGET_USD: String(CALL_USD) });
    const first = await ask(`q1 ${t}`, e);
    expect([first.res.status, first.cache]).toEqual([200, "MISS"]);
    m.reset();
    await expectExhausted((await ask(`q2 ${t}`, e)).res, "product");
    expect(m.totals().trips).toBe(1);
    m.reset();
    m.fail = true;
    const hit = await ask(`q1 ${t}`, e);
    expect([hit.res.status, hit.cache]).toEqual([200, "HIT"]);
    expect(m.trips).toHaveLength(0);
    const miss = await ask(`q3 ${t}`, e);
    await expectError(miss.res, 503, "unavailable");
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("stack scope", async () => {
    const t = await fixedCostToken();
    const e = guarded(new D1Meter(env.SPEND!), { MONTHLY_BUDGET_USD: "", STACK_BUDGET_USD: (await stackSpent()).toFixed(9) });
    await expectExhausted((await ask(`s ${t}`, e)).res, "stack");
    expect(await standin.calls(t)).toHaveLength(0);
  });

  /**
   * 200 calls against a budget worth 50 (`warm`: the first of them alone, so
   * the month has a recorded call and an average cost; the other 199 at
   * once). Returns the calls that ran, and checks the bound: every check
   * that let a call through was answered before the record that reached the
   * budget landed, so the calls over the budget are at most those in flight
   * then.
   */
  async function burst(warm: boolean, webhook = "") {
    const t = await fixedCostToken(50);
    const m = new D1Meter(env.SPEND!);
    const budgetUsd = 50 * CALL_USD;
    const e = guarded(m, { MONTHLY_BUDGET_USD: String(budgetUsd), BUDGET_ALERT_WEBHOOK: webhook });
    const first = warm ? [await ask(`c0 ${t}`, e)] : [];
    const rest = await Promise.all(Array.from({ length: 200 - first.length }, (_, i) => ask(`c${i + first.length} ${t}`, e)));
    const statuses = [...first, ...rest].map((r) => r.res.status);
    const ok = statuses.filter((s) => s === 200).length;
    const refused = statuses.filter((s) => s === 429).length;
    expect(ok + refused).toBe(200);
    const calls = (await standin.calls(t)).length;
    expect(calls).toBe(ok);

    // The order D1 answered in: checks (SELECT) and records (the upsert).
    const budget = budgetUsd * 1e9;
    const checks = m.trips.filter((x) => x.sql.at(-1)!.startsWith("SELECT"));
    const records = m.trips.filter((x) => x.sql.at(-1)!.startsWith("INSERT INTO spend"));
    expect(checks).toHaveLength(200);
    expect(records).toHaveLength(calls);
    const under = checks.filter((c) => Number(c.results.at(-1)![0]?.product ?? 0) < budget);
    expect(calls).toBeLessThanOrEqual(under.length);
    const exhausting = records.find((r) => Number(r.results.at(-1)![0]!.product) >= budget);
    let inFlight = 0;
    if (exhausting) {
      // No check answered after the exhausting record let a call through.
      expect(under.filter((c) => c.seq > exhausting.seq)).toHaveLength(0);
      inFlight = under.length - records.filter((r) => r.seq < exhausting.seq).length - 1;
      expect(calls - 50).toBeLessThanOrEqual(inFlight);
    } else {
      expect(calls).toBeLessThanOrEqual(50);
    }
    const spent = (await budgetStatus(e, readConfig(e))).spent_usd;
    expect(spent).toBeCloseTo(calls * CALL_USD, 9);
    console.log(
      `overspend (${warm ? "warm: 1 call, then 199 at once" : "cold: 200 at once, the month's first calls, counted at their worst case"}): ` +
        `${calls} of 200 calls ran against a budget of 50 (${refused} refused); ` +
        `checks that read the spend under the budget: ${under.length}; spent $${spent} of $${budgetUsd}`,
    );
    return { calls, e };
  }

  it("200 simultaneous misses against a budget worth 50 calls: overspend at most the calls in flight; alerts exactly once", async () => {
    const key = `c${crypto.randomUUID().slice(0, 8)}`;
    const { calls, e } = await burst(false, hooksUrl(key));
    // Cold, a call in flight counts at its worst case (200 input characters
    // as tokens, 256 output tokens: $0.00148), less than these calls' $0.002.
    expect(calls).toBeGreaterThanOrEqual(50);
    expect(calls).toBeLessThanOrEqual(Math.ceil(0.1 / 0.00148));
    // One alert per threshold, though many calls found each one reached.
    const posts = await hookPosts(key);
    expect(posts.map((p) => p.body.text.match(/\((\d+)%\)/)![1]).sort()).toEqual(["100", "50", "80"]);
    expect(posts.every((p) => p.status === 204)).toBe(true);
    // Later records send nothing more.
    await recordSpend(e, readConfig(e), USAGE);
    expect(await hookPosts(key)).toHaveLength(3);
  });

  it("the same burst once the month has a recorded call: this isolate's calls in flight count, the spend stops at the budget", async () => {
    const { calls } = await burst(true);
    expect(calls).toBeGreaterThanOrEqual(49);
    expect(calls).toBeLessThanOrEqual(50);
  });
});
