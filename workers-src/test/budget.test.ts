// The spend guard (lib/budget.ts) in each pattern, in workerd against the
// project's D1 (SPEND, from the test config) wrapped by D1Meter (every round
// trip and the rows D1 counts). Model calls cost a fixed $0.002 here: the
// stand-in answers a scripted body with 1,000 input and 200 output tokens
// (claude-haiku-4-5 at $1/$5 per million). Budgets are small per-test vars.
// Alerts go to the local receiver of test/node/global-setup.ts.
import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import type { JobMessage } from "../src/env";
import { budgetStatus, monthOf, recordSpend, resetsAt, RESUME_MAX } from "../src/lib/budget";
import { readConfig } from "../src/lib/config";
import { newJobId } from "../src/lib/jobid";
import { callCostNanos, parsePrices } from "../src/lib/prices";
import { createWorker as asyncPipeline } from "../src/patterns/async-pipeline";
import { createWorker as edgeCache } from "../src/patterns/edge-cache";
import { createWorker as eventAgent } from "../src/patterns/event-agent";
import { D1Meter } from "./d1meter";
import { call, expectError, get, jobRecord, newToken, postJson, standin, testEnv, type TestEnv } from "./helpers";

const pattern = env.PATTERN;
const CALL_USD = 0.002;
const USAGE = { input_tokens: 1000, output_tokens: 200 };
const PRICES = '{"model":"claude-haiku-4-5","prices":"2026-11","input":1,"output":5,"cache_read":0.1,"cache_write":1.25,"batch_discount":0.5}';

/** Every call with this token costs CALL_USD. */
async function fixedCost(token: string, delayMs = 0): Promise<void> {
  const body = {
    id: "msg_fixed",
    type: "message",
    role: "assistant",
    model: "claude-haiku-4-5",
    content: [{ type: "text", text: "fixed answer" }],
    stop_reason: "end_turn",
    usage: USAGE,
  };
  await standin.script(token, [{ rawBody: JSON.stringify(body), delayMs: delayMs || undefined, times: -1 }]);
}

/** A fresh product whose SPEND is metered, with a product budget of `usd` (and no stack budget unless given). */
function guarded(meter: D1Meter, over: Partial<Record<keyof TestEnv, unknown>> = {}): TestEnv {
  return testEnv({
    SPEND: meter.binding,
    MODEL_PRICES: PRICES,
    MONTHLY_BUDGET_USD: "1",
    STACK_BUDGET_USD: "",
    BUDGET_ALERT_THRESHOLDS: "50,80,100",
    BUDGET_ALERT_WEBHOOK: "",
    AUTH_TOKEN: "admin-token",
    ...over,
  });
}
const bearer = { authorization: "Bearer admin-token" };
const post = (path: string, body: unknown) => postJson(path, body, bearer);

/** The stack's spend so far this month (other tests' products included). */
async function stackSpent(): Promise<number> {
  return (await budgetStatus(testEnv(), readConfig(testEnv()))).stack_spent_usd;
}

async function expectExhausted(res: Response, scope: "product" | "stack"): Promise<void> {
  const body = (await res.clone().json()) as { error: Record<string, unknown> };
  await expectError(res, 429, "budget_exhausted");
  const reset = resetsAt();
  expect(body.error).toMatchObject({ code: "budget_exhausted", scope, resets_at: reset });
  expect(reset).toMatch(/^\d{4}-\d{2}-01T00:00:00Z$/);
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(Math.abs(retryAfter - (Date.parse(reset) - Date.now()) / 1000)).toBeLessThan(5);
}

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

const hooksUrl = (key: string) => `${inject("webhookUrl")}/hooks/${key}`;
async function hookPosts(key: string): Promise<Array<{ status: number; body: { text: string; content: string }; at: number }>> {
  return ((await (await fetch(hooksUrl(key))).json()) as { posts: any[] }).posts;
}

// ---------------------------------------------------------------------------

describe.runIf(pattern === "event-agent")("prices and the spend store", () => {
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
      await import("../src/lib/budget").then((b) => b.checkBudget(e2, cfg));
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

describe.runIf(pattern === "event-agent")("event-agent", () => {
  const worker = eventAgent({});

  it("refuses before accepting once the product budget is spent (429, no job)", async () => {
    const t = newToken();
    await fixedCost(t);
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
    const t = newToken();
    await fixedCost(t);
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
    const t = newToken();
    await fixedCost(t);
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

// ---------------------------------------------------------------------------

describe.runIf(pattern === "edge-cache")("edge-cache", () => {
  const worker = edgeCache({});

  async function ask(input: string, e: TestEnv) {
    const res = await call(worker, post("/ask", { input }), e);
    return { res, cache: res.headers.get("x-cache") };
  }

  it("misses refuse once spent (429); hits still answer, even with D1 down, and never touch it", async () => {
    const t = newToken();
    await fixedCost(t);
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
    const t = newToken();
    await fixedCost(t);
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
    const t = newToken();
    await fixedCost(t, 50);
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

// ---------------------------------------------------------------------------

describe.runIf(pattern === "async-pipeline")("async-pipeline", () => {
  const worker = asyncPipeline({});
  const QUEUE = "ap-test-workers-test-jobs";
  const message = (job_id: string, input: string, extra: Partial<JobMessage> = {}, attempts = 1) => ({
    id: `msg-${crypto.randomUUID()}`,
    timestamp: new Date(),
    attempts,
    body: { job_id, input, ...extra } as JobMessage,
  });
  async function deliver(e: TestEnv, messages: ServiceBindingQueueMessage<unknown>[]) {
    const batch = createMessageBatch(QUEUE, messages);
    const ctx = createExecutionContext();
    await worker.queue!(batch, e, ctx);
    return getQueueResult(batch, ctx);
  }
  /** A JOB_QUEUE that keeps what is sent. */
  function sink() {
    const sent: JobMessage[] = [];
    return {
      sent,
      queue: {
        send: async (b: JobMessage) => void sent.push(b),
        sendBatch: async (msgs: Iterable<MessageSendRequest<JobMessage>>) => {
          for (const m of msgs) sent.push(m.body);
        },
      },
    };
  }

  it("parks jobs once spent (input kept, acked: nothing dead or left queued), lists them, resumes after a raise, all end done", async () => {
    const t = newToken();
    await fixedCost(t);
    const m = new D1Meter(env.SPEND!);
    const q = sink();
    const e = guarded(m, { MONTHLY_BUDGET_USD: String(2 * CALL_USD), JOB_QUEUE: q.queue });
    const ids = await Promise.all(Array.from({ length: 6 }, () => newJobId(e)));
    const msgs = ids.map((id, i) => message(id, `p${i} ${t}`));
    // Two jobs fit the budget; the other four are parked.
    const first = await deliver(e, msgs.slice(0, 2));
    expect(first.explicitAcks).toHaveLength(2);
    const parkedRun = await deliver(e, msgs.slice(2));
    expect(parkedRun.explicitAcks.sort()).toEqual(msgs.slice(2).map((x) => x.id).sort());
    expect(parkedRun.retryMessages).toEqual([]);
    expect(q.sent).toEqual([]);
    expect(await standin.calls(t)).toHaveLength(2);
    for (const [i, id] of ids.entries()) {
      const rec = await jobRecord(id);
      if (i < 2) expect(rec).toMatchObject({ status: "done" });
      else {
        expect(rec).toMatchObject({ status: "budget_exhausted", error: expect.stringMatching(/budget/) });
        expect((await (await call(worker, get(`/jobs/${id}`, bearer), e)).json()) as object).toMatchObject({ job_id: id, status: "budget_exhausted" });
      }
    }
    // A parked job delivered again (at least once) is parked once.
    await deliver(e, [message(ids[2]!, `p2 ${t}`, {}, 2)]);

    // The list, two pages.
    const page1 = (await (await call(worker, get("/admin/jobs?status=budget_exhausted&limit=3", bearer), e)).json()) as any;
    expect(page1.jobs).toHaveLength(3);
    expect(page1.cursor).toBe(page1.jobs[2].job_id);
    const page2 = (await (await call(worker, get(`/admin/jobs?status=budget_exhausted&limit=3&cursor=${page1.cursor}`, bearer), e)).json()) as any;
    expect(page2).toMatchObject({ cursor: null });
    const listed = [...page1.jobs, ...page2.jobs];
    expect(listed.map((j: any) => j.job_id).sort()).toEqual(ids.slice(2).sort());
    for (const j of listed) {
      expect(j).toMatchObject({ status: "budget_exhausted", input_chars: `p2 ${t}`.length, error: expect.stringMatching(/budget/) });
      expect(Date.parse(j.parked_at)).toBeGreaterThan(0);
    }
    await expectError(await call(worker, get("/admin/jobs?status=done", bearer), e), 400, "invalid_input");

    // Still spent: resume refuses.
    await expectExhausted(await call(worker, postJson("/admin/jobs/resume", {}, bearer), e), "product");
    expect(q.sent).toEqual([]);

    // The budget raised (a new var value): resume two, then the rest.
    const raised = { ...e, MONTHLY_BUDGET_USD: "1" } as TestEnv;
    const r1 = await call(worker, postJson("/admin/jobs/resume", { limit: 2 }, bearer), raised);
    expect(await r1.json()).toEqual({ resumed: 2, remaining: 2 });
    const r2 = await call(worker, new Request("https://worker.test/admin/jobs/resume", { method: "POST", headers: bearer }), raised);
    expect(await r2.json()).toEqual({ resumed: 2, remaining: 0 });
    expect(q.sent.map((s) => s.job_id).sort()).toEqual(ids.slice(2).sort());
    for (const s of q.sent) {
      expect(s.input).toBe(`p${ids.indexOf(s.job_id)} ${t}`);
      expect(await jobRecord(s.job_id)).toMatchObject({ status: "queued" });
    }
    const list = (await (await call(worker, get("/admin/jobs", bearer), raised)).json()) as any;
    expect(list).toEqual({ jobs: [], cursor: null });
    // The consumer runs them: all done.
    const done = await deliver(raised, q.sent.map((b) => message(b.job_id, b.input, { resumed_at: b.resumed_at })));
    expect(done.explicitAcks).toHaveLength(4);
    for (const id of ids) expect(await jobRecord(id)).toMatchObject({ status: "done" });
    expect(await standin.calls(t)).toHaveLength(6);
  });

  it("D1 failing at the check: the job waits (sent again with a delay), not dead, not parked", async () => {
    const t = newToken();
    const m = new D1Meter(env.SPEND!);
    m.fail = true;
    const q = sink();
    const e = guarded(m, { JOB_QUEUE: q.queue });
    const id = await newJobId(e);
    const msg = message(id, `u ${t}`);
    const res = await deliver(e, [msg]);
    expect(res.explicitAcks).toEqual([msg.id]);
    expect(q.sent).toEqual([{ job_id: id, input: `u ${t}`, deferrals: 1 }]);
    expect(await standin.calls(t)).toHaveLength(0);
    expect(await jobRecord(id)).toBeNull();
  });

  it("resume caps a call at RESUME_MAX and refuses bad limits", async () => {
    const e = guarded(new D1Meter(env.SPEND!));
    expect(RESUME_MAX).toBeGreaterThanOrEqual(100);
    await expectError(await call(worker, postJson("/admin/jobs/resume", { limit: 0 }, bearer), e), 400, "invalid_input");
    await expectError(await call(worker, postJson("/admin/jobs/resume", "{", bearer), e), 400, "invalid_json");
    expect(await (await call(worker, postJson("/admin/jobs/resume", {}, bearer), e)).json()).toEqual({ resumed: 0, remaining: 0 });
    await expectError(await call(worker, postJson("/admin/jobs/resume", {}), guarded(new D1Meter(env.SPEND!), { AUTH_TOKEN: undefined })), 403, "forbidden");
  });
});
