// The spend guard (lib/spend/) in async-pipeline, in workerd against the project's
// D1 (SPEND, from the test config) wrapped by D1Meter (every round trip and
// the rows D1 counts). Model calls cost a fixed $0.002 here: the stand-in
// answers a scripted body with 1,000 input and 200 output tokens
// (claude-haiku-4-5 at $1/$5 per million). Budgets are small per-test vars.
// Alerts go to the local receiver of test/node/global-setup.ts. Runs in the
// async-pipeline project (test/budget/<pattern>.test.ts: one file per pattern; the
// shared helpers are in test/budget/harness.ts).
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { JobMessage, QueueBody } from "../../src/env";
import { readJobVersion } from "../../src/lib/claim";
import { readConfig } from "../../src/lib/config";
import { parkJob, RESUME_MAX } from "../../src/lib/spend/parked";
import { newJobId } from "../../src/lib/jobid";
import { jobsOf } from "../../src/lib/pack";
import { createWorker as asyncPipeline } from "../../src/patterns/async-pipeline";
import { D1Meter } from "../d1meter";
import { call, expectError, get, jobRecord, newToken, postJson, standin, type TestEnv } from "../helpers";
import { bearer, CALL_USD, expectExhausted, fixedCostToken, guarded } from "./harness";

describe("async-pipeline", () => {
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
  function sink<T = JobMessage>() {
    const sent: T[] = [];
    return {
      sent,
      queue: {
        send: async (b: T) => void sent.push(b),
        sendBatch: async (msgs: Iterable<MessageSendRequest<T>>) => {
          for (const m of msgs) sent.push(m.body);
        },
      },
    };
  }

  it("parks jobs once spent (input kept, acked: nothing dead or left queued), lists them, resumes after a raise, all end done", async () => {
    const t = await fixedCostToken();
    const m = new D1Meter(env.SPEND!);
    const q = sink<QueueBody>();
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
    // Each call's two jobs travel in one message (lib/pack.ts).
    expect(q.sent).toHaveLength(2);
    const resumed = q.sent.flatMap(jobsOf);
    expect(resumed.map((s) => s.job_id).sort()).toEqual(ids.slice(2).sort());
    for (const s of resumed) {
      expect(s.input).toBe(`p${ids.indexOf(s.job_id)} ${t}`);
      expect(await jobRecord(s.job_id)).toMatchObject({ status: "queued" });
    }
    const list = (await (await call(worker, get("/admin/jobs", bearer), raised)).json()) as any;
    expect(list).toEqual({ jobs: [], cursor: null });
    // The consumer runs them: all done.
    const done = await deliver(raised, q.sent.map((body) => ({ id: `msg-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body })));
    expect(done.explicitAcks).toHaveLength(2);
    expect(done.retryMessages).toEqual([]);
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

  it("two deliveries of one job at once pay once: the second finds the claim and waits it out", async () => {
    const t = newToken();
    await standin.script(t, [{ delayMs: 300 }]);
    const q = sink();
    const e = guarded(new D1Meter(env.SPEND!), { JOB_QUEUE: q.queue });
    const id = await newJobId(e);
    const [a, b] = [message(id, `twice ${t}`), message(id, `twice ${t}`)];
    const res = await deliver(e, [a, b]);
    expect(res.explicitAcks.sort()).toEqual([a.id, b.id].sort());
    expect(res.retryMessages).toEqual([]);
    expect(await standin.calls(t)).toHaveLength(1);
    expect(await jobRecord(id)).toMatchObject({ status: "done" });
    // The waiter was sent again; when it comes back the job is done: acked, no call.
    expect(q.sent).toEqual([{ job_id: id, input: `twice ${t}`, deferrals: 1 }]);
    const again = await deliver(e, [message(id, `twice ${t}`, { deferrals: 1 })]);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("a delivery that read the job before another ended it parks nothing over the result", async () => {
    const e = guarded(new D1Meter(env.SPEND!), { MONTHLY_BUDGET_USD: "0.000001" });
    const id = await newJobId(e);
    const stale = await readJobVersion(env.OUTPUTS, id); // no record yet
    await env.OUTPUTS.put(`jobs/${id}.json`, JSON.stringify({ job_id: id, status: "done", result: "paid once", created_at: "", updated_at: "" }));
    const parked = await parkJob(e, readConfig(e), env.OUTPUTS, { job_id: id, input: "x", error: "budget spent" }, stale.rec, 1, stale.etag);
    expect(parked).toBe(false);
    expect(await jobRecord(id)).toMatchObject({ status: "done", result: "paid once" });
    const list = (await (await call(worker, get("/admin/jobs", bearer), e)).json()) as any;
    expect(list.jobs.map((j: any) => j.job_id)).not.toContain(id);
  });

  it("resume sends no job that another delivery claimed or ended since it was parked", async () => {
    const q = sink();
    const e = guarded(new D1Meter(env.SPEND!), { JOB_QUEUE: q.queue });
    const cfg = readConfig(e);
    const [claimed, ended, still] = await Promise.all([1, 2, 3].map(() => newJobId(e)));
    for (const id of [claimed!, ended!, still!]) await parkJob(e, cfg, env.OUTPUTS, { job_id: id, input: `in ${id}`, error: "budget spent" }, null);
    // A message of each of the first two was still in the queue: one claimed its job, one ended it.
    const lease = new Date(Date.now() + 60_000).toISOString();
    await env.OUTPUTS.put(`jobs/${claimed}.json`, JSON.stringify({ job_id: claimed, status: "running", lease_until: lease, created_at: "", updated_at: "" }));
    await env.OUTPUTS.put(`jobs/${ended}.json`, JSON.stringify({ job_id: ended, status: "done", result: "paid once", created_at: "", updated_at: "" }));
    const res = await call(worker, postJson("/admin/jobs/resume", {}, bearer), e);
    expect(await res.json()).toEqual({ resumed: 3, remaining: 0 });
    expect(q.sent.map((m) => m.job_id)).toEqual([still]);
    expect(await jobRecord(claimed!)).toMatchObject({ status: "running", lease_until: lease });
    expect(await jobRecord(ended!)).toMatchObject({ status: "done", result: "paid once" });
    expect(await jobRecord(still!)).toMatchObject({ status: "queued" });
  });

  it("resume whose send fails is a 503: the jobs stay parked, and the next resume sends them in one pack", async () => {
    const q = sink<QueueBody>();
    const down = async () => {
      throw new Error("queue.write: daily limit exceeded (injected by the test)");
    };
    const e = guarded(new D1Meter(env.SPEND!), { JOB_QUEUE: { send: down, sendBatch: down } });
    const cfg = readConfig(e);
    const ids = await Promise.all([1, 2].map(() => newJobId(e)));
    for (const id of ids) await parkJob(e, cfg, env.OUTPUTS, { job_id: id, input: `in ${id}`, error: "budget spent" }, null);
    const res = await call(worker, postJson("/admin/jobs/resume", {}, bearer), e);
    expect(res.headers.get("retry-after")).toBe("5");
    await expectError(res, 503, "unavailable");
    const list = (await (await call(worker, get("/admin/jobs", bearer), e)).json()) as any;
    expect(list.jobs.map((j: any) => j.job_id).sort()).toEqual([...ids].sort());
    // Records first: they say queued already, and the next resume sends them.
    for (const id of ids) expect(await jobRecord(id)).toMatchObject({ status: "queued" });
    const again = guarded(new D1Meter(env.SPEND!), { PRODUCT: e.PRODUCT, JOB_QUEUE: q.queue });
    expect(await (await call(worker, postJson("/admin/jobs/resume", {}, bearer), again)).json()).toEqual({ resumed: 2, remaining: 0 });
    expect(q.sent).toHaveLength(1);
    expect(jobsOf(q.sent[0]).map((j) => j.job_id).sort()).toEqual([...ids].sort());
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
