// The ops each event of async-pipeline costs, measured in workerd: every
// binding wrapped and counted (test/ops.ts), each event run for real, and the
// counts (every op, zeros included) must equal OPS_PER_EVENT, the table the Go
// cost model prices (internal/contract/ops.go). Runs in the async-pipeline
// project (test/ops/<pattern>.test.ts: one file per pattern). Also: what the
// pattern does when an op fails as Cloudflare fails one whose daily limit ran
// out.
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { OPS_PER_EVENT } from "../../src/contract.gen";
import type { JobMessage, QueueBody } from "../../src/env";
import { newJobId } from "../../src/lib/jobid";
import { jobsOf } from "../../src/lib/pack";
import { createWorker as asyncPipeline } from "../../src/patterns/async-pipeline";
import { eventually, expectError, get, newToken, postJson, replyTo, standin } from "../helpers";
import { expected } from "../ops";
import { budgeted, meter, record, restoreMeters, steadyProduct } from "./harness";

afterEach(restoreMeters);

describe("async-pipeline ops per event", () => {
  const worker = asyncPipeline({});
  const ops = OPS_PER_EVENT["async-pipeline"];
  const QUEUE = "ap-test-workers-test-jobs";
  const DLQ = "ap-test-workers-test-jobs-dlq";
  /** A JOB_QUEUE under the wrapper that keeps what is sent (nothing is delivered). */
  const sink = () => ({ send: async () => {}, sendBatch: async () => {} });
  const message = (job_id: string, input: string, attempts = 1) => ({
    id: `msg-${crypto.randomUUID()}`,
    timestamp: new Date(),
    attempts,
    body: { job_id, input } as JobMessage,
  });

  it("post: one message, nothing written", async () => {
    const m = meter({ JOB_QUEUE: sink() });
    const t = newToken();
    const res = await m.invoke(worker, postJson("/jobs", { input: `ops ${t}` }));
    expect(res.status).toBe(202);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.post));
  });

  it("delivery, then redelivery of the done job", async () => {
    const t = newToken();
    const m = meter();
    const id = await newJobId(m.env);
    const msg = message(id, `ops ${t}`);
    const result = await m.deliver(worker, QUEUE, [msg]);
    expect(result.explicitAcks).toEqual([msg.id]);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.consumer_batch, ops.delivery));
    expect(await record(id)).toMatchObject({ status: "done", result: await replyTo(`ops ${t}`) });

    const again = meter({ PRODUCT: m.env.PRODUCT });
    await again.deliver(worker, QUEUE, [message(id, `ops ${t}`, 2)]);
    await again.countModel(newToken()); // no call
    expect(again.counts).toEqual(expected(ops.consumer_batch, ops.redelivery));
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("attempt_failed: the record keeps the error, the message is retried", async () => {
    const t = newToken();
    // A retryable error whose retry-after (10 s) is past the Worker's 5 s: one call, then the queue's retry.
    await standin.script(t, [{ status: 503, retryAfter: "10", times: -1 }]);
    const m = meter();
    const id = await newJobId(m.env);
    const msg = message(id, `ops ${t}`);
    const result = await m.deliver(worker, QUEUE, [msg]);
    expect(result.retryMessages.map((r) => r.msgId)).toEqual([msg.id]);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.consumer_batch, ops.attempt_failed));
    expect(await record(id)).toMatchObject({ status: "queued", attempts: 1, error: expect.stringContaining("503") });
  });

  it("deferral: the limiter says wait, the job is sent again and this delivery acked", async () => {
    const t = newToken();
    const sent: unknown[] = [];
    const m = meter({
      RATE_LIMITER: { limit: async () => ({ success: false }) },
      JOB_QUEUE: { send: async (b: unknown) => void sent.push(b), sendBatch: async () => {} },
    });
    const id = await newJobId(m.env);
    const msg = message(id, `ops ${t}`);
    const result = await m.deliver(worker, QUEUE, [msg]);
    expect(result.explicitAcks).toEqual([msg.id]);
    expect(sent).toEqual([{ job_id: id, input: `ops ${t}`, deferrals: 1 }]);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.consumer_batch, ops.deferral));
    expect(await record(id)).toBeNull();
  });

  it("dead_letter: the DLQ consumer writes the dead record with its input", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 503, retryAfter: "10", times: -1 }]);
    const first = meter();
    const id = await newJobId(first.env);
    await first.deliver(worker, QUEUE, [message(id, `ops ${t}`)]); // the failed attempt before

    const before = (await standin.calls(t)).length;
    const m = meter({ PRODUCT: first.env.PRODUCT });
    const msg = message(id, `ops ${t}`, 2);
    const result = await m.deliver(worker, DLQ, [msg]);
    expect(result.explicitAcks).toEqual([msg.id]);
    // The platform's move of the message to the DLQ is a queue write; the
    // next test sees a message make that move for real.
    m.counts["queue.write"]++;
    await m.countModel(t, before);
    expect(m.counts).toEqual(expected(ops.consumer_batch, ops.dead_letter));
    expect(await record(id)).toMatchObject({ status: "dead", input: `ops ${t}`, attempts: 1, error: expect.stringContaining("503") });
  });

  it("dead_letter for real: a message retried out reaches the DLQ consumer", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 500, times: -1 }]);
    const res = await exports.default.fetch("https://worker.test/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: `ops dlq ${t}` }),
    });
    const { job_id } = (await res.json()) as { job_id: string };
    const dead = await eventually(async () => {
      const r = await record(job_id);
      return r?.status === "dead" ? r : undefined;
    }, 15_000);
    expect(dead).toMatchObject({ input: `ops dlq ${t}`, error: expect.stringContaining("500") });
  });

  it("poll: one read, with a record and without one", async () => {
    const m0 = meter();
    const id = await newJobId(m0.env);
    await m0.deliver(worker, QUEUE, [message(id, `ops ${newToken()}`)]);
    const m = meter({ PRODUCT: m0.env.PRODUCT });
    expect(await (await m.invoke(worker, get(`/jobs/${id}`))).json()).toMatchObject({ status: "done" });
    expect(m.counts).toEqual(expected(ops.poll));
    const m2 = meter({ PRODUCT: m0.env.PRODUCT });
    const fresh = await newJobId(m0.env);
    expect(await (await m2.invoke(worker, get(`/jobs/${fresh}`))).json()).toEqual({ job_id: fresh, status: "queued" });
    expect(m2.counts).toEqual(expected(ops.poll));
  });

  describe("batch mode (MODEL_MODE = batch)", () => {
    // Vars the generated Env may not have yet; RETRY_DELAY_SECONDS 0 keeps re-sent jobs immediate.
    const batch = (extra: Record<string, unknown> = {}) =>
      ({ MODEL_MODE: "batch", MAX_RETRIES: "1", RETRY_DELAY_SECONDS: "0", ...extra }) as Parameters<typeof meter>[0];
    async function knobs(k: Record<string, unknown> = {}) {
      const res = await fetch(`${env.ANTHROPIC_BASE_URL}/_stand-in/batch-options`, { method: "POST", body: JSON.stringify(k) });
      expect(res.status).toBe(200);
    }
    /** The open batch records are the poller's input: each test leaves none. */
    afterEach(async () => {
      await knobs();
      const open = await env.OUTPUTS.list({ prefix: "batches/" });
      if (open.objects.length) await env.OUTPUTS.delete(open.objects.map((o) => o.key));
    });

    it("batch_submit and batch_delivery: one Message Batch per delivery; a redelivery is a redelivery", async () => {
      const m = meter(batch());
      const ids = [await newJobId(m.env), await newJobId(m.env)];
      const msgs = ids.map((id) => message(id, `ops batch ${newToken()}`));
      const result = await m.deliver(worker, QUEUE, msgs);
      expect(result.explicitAcks.sort()).toEqual(msgs.map((x) => x.id).sort());
      expect(m.counts).toEqual(expected(ops.consumer_batch, ops.batch_submit, ops.batch_delivery, ops.batch_delivery));
      expect(await record(ids[0]!)).toMatchObject({ status: "submitted", batch_id: expect.stringMatching(/^msgbatch_/) });

      const again = meter(batch({ PRODUCT: m.env.PRODUCT }));
      await again.deliver(worker, QUEUE, [{ ...msgs[0]!, attempts: 2 }]);
      expect(again.counts).toEqual(expected(ops.consumer_batch, ops.redelivery));
    });

    it("batch_poll, batch_ended, batch_result; batch_open; a run with nothing open", async () => {
      const m0 = meter(batch());
      const ids = [await newJobId(m0.env), await newJobId(m0.env)];
      await m0.deliver(worker, QUEUE, ids.map((id) => message(id, `ops batch ${newToken()}`)));
      const m = meter(batch({ PRODUCT: m0.env.PRODUCT }));
      await m.schedule(worker);
      expect(m.counts).toEqual(expected(ops.batch_poll, ops.batch_ended, ops.batch_result, ops.batch_result));
      for (const id of ids) expect(await record(id)).toMatchObject({ status: "done" });

      const idle = meter(batch({ PRODUCT: m0.env.PRODUCT }));
      await idle.schedule(worker);
      expect(idle.counts).toEqual(expected(ops.batch_poll));

      await knobs({ delayMs: 600_000 });
      const m1 = meter(batch({ PRODUCT: m0.env.PRODUCT }));
      await m1.deliver(worker, QUEUE, [message(await newJobId(m0.env), `ops batch ${newToken()}`)]);
      const open = meter(batch({ PRODUCT: m0.env.PRODUCT }));
      await open.schedule(worker);
      expect(open.counts).toEqual(expected(ops.batch_poll, ops.batch_open));
    });

    it("batch_retry, then batch_dead past MAX_RETRIES", async () => {
      const m0 = meter(batch({ JOB_QUEUE: sink() }));
      const id = await newJobId(m0.env);
      await knobs({ errors: { match: id } });
      await m0.deliver(worker, QUEUE, [message(id, `ops batch ${newToken()}`)]);
      const m = meter(batch({ PRODUCT: m0.env.PRODUCT, JOB_QUEUE: sink() }));
      await m.schedule(worker);
      expect(m.counts).toEqual(expected(ops.batch_poll, ops.batch_ended, ops.batch_retry));
      expect(await record(id)).toMatchObject({ status: "queued", attempts: 1 });

      const again = { ...message(id, "x"), body: { job_id: id, input: "x", batch_attempts: 1 } as JobMessage };
      await m0.deliver(worker, QUEUE, [again]);
      const d = meter(batch({ PRODUCT: m0.env.PRODUCT, JOB_QUEUE: sink() }));
      await d.schedule(worker);
      expect(d.counts).toEqual(expected(ops.batch_poll, ops.batch_ended, ops.batch_dead));
      expect(await record(id)).toMatchObject({ status: "dead", attempts: 2, input: "x" });
    });
  });

  it("degrades: a job that cannot be queued is a 503 with retry-after, and nothing is written", async () => {
    const m = meter({ JOB_QUEUE: sink() });
    m.fail.add("queue.write");
    const res = await m.invoke(worker, postJson("/jobs", { input: `ops ${newToken()}` }));
    expect(res.headers.get("retry-after")).toBe("5");
    await expectError(res, 503, "unavailable");
    expect(m.counts).toEqual(expected(ops.post));
  });
});

// ---------------------------------------------------------------------------
// The spend guard's events (a budgeted product): on top of the events above.
// Measured in the steady state (the product's spend row for the month exists:
// the month's first check reads no row). A product budget alone; with a stack
// budget the check and the record read one row per product with spend.
// (budgeted(), steadyProduct(): test/ops/harness.ts.)

describe("async-pipeline: the spend guard's ops", () => {
  const worker = asyncPipeline({});
  const ops = OPS_PER_EVENT["async-pipeline"];
  const QUEUE = "ap-test-workers-test-jobs";
  const message = (job_id: string, input: string) => ({
    id: `msg-${crypto.randomUUID()}`,
    timestamp: new Date(),
    attempts: 1,
    body: { job_id, input } as JobMessage,
  });

  it("delivery of a budgeted product, park, resume", async () => {
    const product = await steadyProduct(async (warm) => warm.deliver(worker, QUEUE, [message(await newJobId(warm.env), `warm ${newToken()}`)]));

    const t = newToken();
    const m = meter(budgeted(product));
    const id = await newJobId(m.env);
    await m.deliver(worker, QUEUE, [message(id, `ops ${t}`)]);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.consumer_batch, ops.delivery, ops.budget_check, ops.budget_record));

    const spent = budgeted(product, { MONTHLY_BUDGET_USD: "0.000000001", AUTH_TOKEN: "tok" });
    const parked: string[] = [];
    for (const i of [1, 2]) {
      const p = meter(spent);
      const pid = await newJobId(p.env);
      parked.push(pid);
      const result = await p.deliver(worker, QUEUE, [message(pid, `park${i} ${newToken()}`)]);
      expect(result.explicitAcks).toHaveLength(1);
      expect(p.counts).toEqual(expected(ops.consumer_batch, ops.park));
    }

    const sent: QueueBody[] = [];
    const keep = { send: async (b: QueueBody) => void sent.push(b), sendBatch: async (ms: Iterable<MessageSendRequest<QueueBody>>) => void sent.push(...[...ms].map((m) => m.body)) };
    const r = meter({ ...budgeted(product, { AUTH_TOKEN: "tok" }), JOB_QUEUE: keep });
    const res = await r.invoke(worker, postJson("/admin/jobs/resume", {}, { authorization: "Bearer tok" }));
    expect(await res.json()).toEqual({ resumed: 2, remaining: 0 });
    // The two jobs travel in one pack (lib/pack.ts): its write is the resume's,
    // its read and delete its delivery's (test/ops/pack.test.ts measures those).
    expect(sent).toHaveLength(1);
    expect(jobsOf(sent[0]).map((j) => j.job_id).sort()).toEqual([...parked].sort());
    expect(expected(r.counts, { "queue.read": 1, "queue.delete": 1 })).toEqual(expected(ops.resume, ops.resume_job, ops.resume_job, ops.pack_message));
  });
});
