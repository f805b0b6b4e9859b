// The spend guard (lib/spend/) in event-agent, in workerd against the project's
// D1 (SPEND, from the test config) wrapped by D1Meter (every round trip and
// the rows D1 counts). Model calls cost a fixed $0.002 here: the stand-in
// answers a scripted body with 1,000 input and 200 output tokens
// (claude-haiku-4-5 at $1/$5 per million). Budgets are small per-test vars.
// Alerts go to the local receiver of test/node/global-setup.ts. Runs in the
// event-agent project (test/budget/<pattern>.test.ts: one file per pattern; the
// shared helpers are in test/budget/harness.ts).
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { budgetStatus, recordSpend } from "../../src/lib/spend/guard";
import { monthOf, resetsAt } from "../../src/lib/spend/store";
import { readConfig } from "../../src/lib/config";
import { callCostNanos, parsePrices } from "../../src/lib/prices";
import { createWorker as eventAgent } from "../../src/patterns/event-agent";
import { D1Meter } from "../d1meter";
import { call, expectError, get, jobRecord, newToken, standin, type TestEnv } from "../helpers";
import { bearer, CALL_USD, expectExhausted, fixedCostToken, guarded, hookPosts, hooksUrl, post, PRICES, stackSpent, USAGE } from "./harness";

const spies: Array<{ mockRestore(): void }> = [];
afterEach(() => {
  for (const s of spies.splice(0)) s.mockRestore();
});
/** Everything written to the console from now on. */
function captureLogs(): () => string {
  const lines: string[] = [];
  for (const k of ["log", "warn", "error", "info", "debug"] as const) {
    spies.push(vi.spyOn(console, k).mockImplementation((...a: unknown[]) => void lines.push(a.map((x) => (x instanceof Error ? `${x.name}: ${x.message} ${x.stack}` : String(x))).join(" "))));
  }
  return () => lines.join("\n");
}

// ---------------------------------------------------------------------------

describe("prices and the spend store", () => {
  it("prices a call from its four token counts, batch at the discount", () => {
    const p = parsePrices(PRICES);
    expect(callCostNanos(p, USAGE)).toBe(2_000_000);
    expect(callCostNanos(p, { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 10, cache_creation_input_tokens: 4 })).toBe(
      1000 + 5000 + 1000 + 5000,
    );
    expect(callCostNanos(p, USAGE, "batch")).toBe(1_000_000);
    expect(() => parsePrices("{")).toThrow(/not valid JSON/);
    expect(() => parsePrices('{"model":"m","input":-1,"output":1}')).toThrow(/input/);
  });

  it("months are UTC calendar months; the reset is 00:00 UTC on the 1st", () => {
    const t = Date.parse("2026-12-31T23:59:59.500Z");
    expect(monthOf(t)).toBe("2026-12");
    expect(resetsAt(t)).toBe("2027-01-01T00:00:00Z");
    expect(monthOf(t + 1000)).toBe("2027-01");
  });

  it("per call: the check is one round trip, the record one statement writing one row", async () => {
    const m = new D1Meter(env.SPEND!);
    const e = guarded(m);
    const cfg = readConfig(e);
    await budgetStatus(e, cfg); // the tables exist
    for (const stack of ["", "1000"]) {
      const e2 = { ...e, STACK_BUDGET_USD: stack } as TestEnv;
      m.reset();
      await import("../../src/lib/spend/guard").then((b) => b.checkBudget(e2, cfg));
      const check = m.totals();
      m.reset();
      await recordSpend(e2, cfg, USAGE);
      const rec = m.totals();
      console.log(`D1 per call (stack budget ${stack || "none"}): check ${JSON.stringify(check)}, record ${JSON.stringify(rec)}`);
      expect(check.trips).toBe(1);
      expect(rec.trips).toBe(1);
      expect(rec.rows_written).toBe(1);
    }
  });

  it("fails closed without prices: 503, no model call", async () => {
    const t = newToken();
    const res = await call(eventAgent({}), post("/jobs", { input: `np ${t}` }), guarded(new D1Meter(env.SPEND!), { MODEL_PRICES: "" }));
    expect(res.headers.get("retry-after")).toBe("60");
    expect(await expectError(res, 503, "unavailable")).toMatch(/cannot price/);
    expect(await standin.calls(t)).toHaveLength(0);
  });
});

describe("event-agent", () => {
  const worker = eventAgent({});

  it("refuses before accepting once the product budget is spent (429, no job)", async () => {
    const t = await fixedCostToken();
    const m = new D1Meter(env.SPEND!);
    const e = guarded(m, { MONTHLY_BUDGET_USD: String(2 * CALL_USD) });
    for (const i of [1, 2]) {
      const res = await call(worker, post("/jobs", { input: `b${i} ${t}` }), e);
      expect(res.status).toBe(202);
      const { job_id } = (await res.json()) as { job_id: string };
      expect(await jobRecord(job_id)).toMatchObject({ status: "done" });
    }
    m.reset();
    const res = await call(worker, post("/jobs", { input: `b3 ${t}` }), e);
    await expectExhausted(res, "product");
    expect(m.totals().trips).toBe(1); // the check only
    expect(await standin.calls(t)).toHaveLength(2);
    const status = (await (await call(worker, get("/admin/budget", bearer), e)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ product: e.PRODUCT, month: monthOf(), spent_usd: 2 * CALL_USD, budget_usd: 2 * CALL_USD, stack_budget_usd: null, resets_at: resetsAt() });
  });

  it("the stack's budget caps every product: scope stack", async () => {
    const t = await fixedCostToken();
    const cap = (await stackSpent()) + CALL_USD;
    const e = guarded(new D1Meter(env.SPEND!), { MONTHLY_BUDGET_USD: "", STACK_BUDGET_USD: cap.toFixed(9) });
    expect((await call(worker, post("/jobs", { input: `s1 ${t}` }), e)).status).toBe(202);
    const other = { ...e, PRODUCT: `${e.PRODUCT}-b` } as TestEnv;
    await expectExhausted(await call(worker, post("/jobs", { input: `s2 ${t}` }), other), "stack");
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("D1 failing: model calls refused with 503 and retry-after", async () => {
    const t = newToken();
    const m = new D1Meter(env.SPEND!);
    m.fail = true;
    const res = await call(worker, post("/jobs", { input: `d ${t}` }), guarded(m));
    expect(res.headers.get("retry-after")).toBe("60");
    await expectError(res, 503, "unavailable");
    expect(await standin.calls(t)).toHaveLength(0);
  });

  it("admin routes: 403 without AUTH_TOKEN, 401 without the bearer", async () => {
    const m = new D1Meter(env.SPEND!);
    expect(await expectError(await call(worker, get("/admin/budget"), guarded(m, { AUTH_TOKEN: undefined })), 403, "forbidden")).toMatch(
      /zerocost:authToken/,
    );
    await expectError(await call(worker, get("/admin/budget"), guarded(m)), 401, "unauthorized");
  });

  it("alerts: a failing webhook is retried by a later call, and its URL is never logged", async () => {
    const t = await fixedCostToken();
    const key = `k${crypto.randomUUID().slice(0, 8)}`;
    await fetch(`${inject("webhookUrl")}/fail/${key}?n=1`, { method: "POST" });
    const logs = captureLogs();
    // Two calls' worth; thresholds 50 and 100: the first call reaches 50%, its POST fails.
    const e = guarded(new D1Meter(env.SPEND!), {
      MONTHLY_BUDGET_USD: String(2 * CALL_USD),
      BUDGET_ALERT_THRESHOLDS: "50,100",
      BUDGET_ALERT_WEBHOOK: `${hooksUrl(key)}?token=SECRET-${key}`,
    });
    expect((await call(worker, post("/jobs", { input: `a1 ${t}` }), e)).status).toBe(202);
    expect((await hookPosts(key)).map((p) => p.status)).toEqual([500]);
    // The second call reaches 100% and finds the 50% alert unsent: both go out.
    expect((await call(worker, post("/jobs", { input: `a2 ${t}` }), e)).status).toBe(202);
    const posts = await hookPosts(key);
    expect(posts.map((p) => p.status)).toEqual([500, 204, 204]);
    const texts = posts.slice(1).map((p) => p.body.text).sort();
    expect(texts[0]).toMatch(/\(100%\).*The budget is spent/);
    expect(texts[1]).toMatch(/\(50%\)/);
    for (const p of posts) expect(p.body.content).toBe(p.body.text);
    await expectExhausted(await call(worker, post("/jobs", { input: `a3 ${t}` }), e), "product");
    expect(await hookPosts(key)).toHaveLength(3);
    // An unreachable webhook: logged without its URL.
    const e2 = guarded(new D1Meter(env.SPEND!), {
      MONTHLY_BUDGET_USD: String(CALL_USD),
      BUDGET_ALERT_THRESHOLDS: "100",
      BUDGET_ALERT_WEBHOOK: `http://127.0.0.1:9/hook-SECRET-${key}`,
    });
    expect((await call(worker, post("/jobs", { input: `a4 ${t}` }), e2)).status).toBe(202);
    const out = logs();
    expect(out).toMatch(/budget alert webhook (answered 500|failed)/);
    expect(out).not.toContain(`SECRET-${key}`);
    expect(out).not.toContain(key);
  });
});
