// async-pipeline in batch mode (MODEL_MODE = "batch", lib/batch/): the
// consumer submits one Message Batch per delivery, the cron poller applies
// the results; against the stand-in's Message Batches API (its knobs set per
// test through POST /_stand-in/batch-options). Runs in its own vitest project
// (async-pipeline-batch) with its own stand-in, so the knobs touch no other
// test.
import { createExecutionContext, createMessageBatch, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { JobMessage } from "../src/env";
import type { BatchBudget } from "../src/lib/batch/guard";
import { POLL_MAX_FETCHES, type PollSummary } from "../src/lib/batch/poll";
import { batchKey, type BatchRecord } from "../src/lib/batch/record";
import { BATCH_MAX_JOBS } from "../src/lib/batch/submit";
import { newJobId } from "../src/lib/jobid";
import { createWorker } from "../src/patterns/async-pipeline";
import { call, eventually, get, jobRecord, newToken, replyTo, keepingQueue, runQueue, testEnv, type TestEnv } from "./helpers";

const worker = createWorker({});
const QUEUE = "ap-test-workers-test-jobs";

/** The knobs of the stand-in's Message Batches API (a POST replaces them all). */
interface Knobs {
  delayMs?: number;
  cancelDelayMs?: number;
  expiryMs?: number;
  errors?: { rate?: number; every?: number; match?: string };
  errorType?: string;
  expire?: { rate?: number; every?: number; match?: string };
}
async function knobs(k: Knobs = {}): Promise<void> {
  const res = await fetch(`${env.ANTHROPIC_BASE_URL}/_stand-in/batch-options`, { method: "POST", body: JSON.stringify(k) });
  expect(res.status, await res.text()).toBe(200);
}
// The poller reads every batch record in the bucket: each test starts with none.
afterEach(async () => {
  await knobs();
  restoreFetch?.();
  restoreFetch = undefined;
  const open = await env.OUTPUTS.list({ prefix: "batches/" });
  if (open.objects.length) await env.OUTPUTS.delete(open.objects.map((o) => o.key));
});

/** A batch-mode env (fresh PRODUCT) with overrides. */
// MODEL_MODE and MAX_RETRIES are not in the generated Env until the Go side renders them.
const batchEnv = (overrides: Record<string, unknown> = {}) =>
  testEnv({ MODEL_MODE: "batch", MAX_RETRIES: "1", RETRY_DELAY_SECONDS: "0", ...overrides } as Partial<Record<keyof TestEnv, unknown>>);

/** A job as POST /jobs makes it and its queue message. */
async function job(e: TestEnv, input = `batch ${newToken()}`, batchAttempts?: number) {
  const id = await newJobId(e);
  const body: JobMessage = { job_id: id, input };
  if (batchAttempts !== undefined) body.batch_attempts = batchAttempts;
  return { id, input, msg: { id: `msg-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body } };
}

/** Runs the queue handler on a batch; returns the ack/retry result, with each retry's delay. */
const deliver = (e: TestEnv, messages: ServiceBindingQueueMessage<unknown>[]) => runQueue(worker, QUEUE, messages, e);

/** Runs the scheduled handler (the poller) once. */
async function poll(e: TestEnv): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), e, ctx);
  await waitOnExecutionContext(ctx);
}

/** A JOB_QUEUE that keeps what is sent. */
const recordingQueue = () => keepingQueue<JobMessage>();

/** An R2 bucket over the project's that counts calls and can fail some. */
function countingBucket(failPut?: (key: string) => boolean, failDelete = false) {
  const counts = { put: 0, get: 0, list: 0, delete: 0 };
  const r2 = env.OUTPUTS;
  return {
    counts,
    bucket: {
      put: async (key: string, v: any, o?: R2PutOptions) => {
        counts.put++;
        if (failPut?.(key)) throw new Error(`put ${key}: injected failure`);
        return r2.put(key, v, o);
      },
      get: async (key: string, o?: R2GetOptions) => (counts.get++, r2.get(key, o)),
      head: async (key: string) => r2.head(key),
      list: async (o?: R2ListOptions) => (counts.list++, r2.list(o)),
      delete: async (key: string) => {
        counts.delete++;
        if (failDelete) throw new Error(`delete ${key}: injected failure`);
        return r2.delete(key);
      },
    },
  };
}

/** The Message Batches API calls made while it is installed, by route; `fail` can answer some itself. */
let restoreFetch: (() => void) | undefined;
function watchBatchCalls(fail?: (method: string, path: string) => Response | undefined) {
  const calls: string[] = [];
  const real = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const path = new URL(req.url).pathname;
    if (path.startsWith("/v1/messages/batches")) {
      const route = req.method === "POST" && path === "/v1/messages/batches" ? "create" : path.endsWith("/results") ? "results" : path.endsWith("/cancel") ? "cancel" : "retrieve";
      calls.push(route);
      const canned = fail?.(req.method, path);
      if (canned) return canned;
    }
    return real(input, init);
  }) as typeof fetch;
  restoreFetch = () => (globalThis.fetch = real);
  return calls;
}

async function batchRecord(id: string): Promise<BatchRecord | null> {
  const o = await env.OUTPUTS.get(batchKey(id));
  return o ? ((await o.json()) as BatchRecord) : null;
}

async function retrieve(id: string): Promise<Record<string, any>> {
  const res = await fetch(`${env.ANTHROPIC_BASE_URL}/v1/messages/batches/${id}`, { headers: { "x-api-key": "k", "anthropic-version": "2023-06-01" } });
  return (await res.json()) as Record<string, any>;
}

/** Polls until the job's record is in one of the states. */
async function pollUntil(e: TestEnv, id: string, states: string[], timeoutMs = 10_000): Promise<Record<string, any>> {
  return eventually(async () => {
    await poll(e);
    const r = await jobRecord(id);
    return r && states.includes(r.status) ? r : undefined;
  }, timeoutMs);
}

describe("batch mode: the consumer", () => {
  it("submits one Message Batch per delivery; each job reads submitted with the batch id", async () => {
    const e = batchEnv();
    const jobs = await Promise.all([job(e), job(e), job(e)]);
    const calls = watchBatchCalls();
    const result = await deliver(e, jobs.map((j) => j.msg));
    expect(result.explicitAcks.sort()).toEqual(jobs.map((j) => j.msg.id).sort());
    expect(calls).toEqual(["create"]);
    const recs = await Promise.all(jobs.map((j) => jobRecord(j.id)));
    const batchId = recs[0]!.batch_id as string;
    expect(batchId).toMatch(/^msgbatch_/);
    for (const [i, r] of recs.entries()) expect(r).toMatchObject({ job_id: jobs[i]!.id, status: "submitted", batch_id: batchId, attempts: 1 });
    expect(await batchRecord(batchId)).toMatchObject({
      batch_id: batchId,
      product: e.PRODUCT,
      jobs: jobs.map((j) => ({ job_id: j.id, input: j.input, attempt: 1 })),
    });
    const v = await call(worker, get(`/jobs/${jobs[0]!.id}`), e);
    expect(await v.json()).toEqual({ job_id: jobs[0]!.id, status: "submitted", batch_id: batchId });
    // The batch holds one request per job, custom_id = job id, with the product's request.
    const b = await retrieve(batchId);
    expect(b.request_counts.processing + b.request_counts.succeeded).toBe(3);
  });

  it("a redelivery submits nothing again; a job twice in one delivery is submitted once", async () => {
    const e = batchEnv();
    const a = await job(e);
    const calls = watchBatchCalls();
    const dup = { ...a.msg, id: `msg-${crypto.randomUUID()}` };
    const first = await deliver(e, [a.msg, dup]);
    expect(first.explicitAcks.sort()).toEqual([a.msg.id, dup.id].sort());
    expect(calls).toEqual(["create"]);
    const again = await deliver(e, [{ ...a.msg, attempts: 2 }]);
    expect(again.explicitAcks).toEqual([a.msg.id]);
    expect(calls).toEqual(["create"]);
    // Done too: still nothing.
    await pollUntil(e, a.id, ["done"]);
    await deliver(e, [{ ...a.msg, attempts: 3 }]);
    expect(calls.filter((c) => c === "create")).toHaveLength(1);
  });

  it("a packed message (lib/pack.ts): its jobs go into the delivery's one batch, the message acked; a failed create retries it whole, a redelivery submits nothing again", async () => {
    const e = batchEnv({ RETRY_DELAY_SECONDS: "9" });
    const jobs = await Promise.all([job(e), job(e), job(e)]);
    const packed = { id: `msg-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body: { jobs: jobs.slice(0, 2).map((j) => j.msg.body) } };
    const busy = watchBatchCalls((method) => (method === "POST" ? new Response("{}", { status: 529 }) : undefined));
    const r0 = await deliver(e, [packed, jobs[2]!.msg]);
    expect(r0.retryMessages.map((m) => m.msgId).sort()).toEqual([packed.id, jobs[2]!.msg.id].sort());
    expect(r0.delays[packed.id]).toBe(9);
    expect(busy).toEqual(["create"]);
    restoreFetch!();
    const calls = watchBatchCalls();
    const r1 = await deliver(e, [{ ...packed, attempts: 2 }, jobs[2]!.msg]);
    expect(r1.explicitAcks.sort()).toEqual([packed.id, jobs[2]!.msg.id].sort());
    expect(calls).toEqual(["create"]);
    const recs = await Promise.all(jobs.map((j) => jobRecord(j.id)));
    for (const r of recs) expect(r).toMatchObject({ status: "submitted", batch_id: recs[0]!.batch_id });
    const again = await deliver(e, [{ ...packed, attempts: 3 }]);
    expect(again.explicitAcks).toEqual([packed.id]);
    expect(calls).toEqual(["create"]);
  });

  it("a delivery of packs holding more than BATCH_MAX_JOBS jobs goes into Message Batches of at most that many (the poller applies each)", async () => {
    const e = batchEnv();
    const jobs = await Promise.all(Array.from({ length: BATCH_MAX_JOBS + 10 }, () => job(e)));
    const packs = Array.from({ length: jobs.length / 10 }, (_, i) => ({
      id: `msg-${crypto.randomUUID()}`,
      timestamp: new Date(),
      attempts: 1,
      body: { jobs: jobs.slice(10 * i, 10 * i + 10).map((j) => j.msg.body) },
    }));
    const calls = watchBatchCalls();
    const r = await deliver(e, packs);
    expect(r.explicitAcks.sort()).toEqual(packs.map((p) => p.id).sort());
    expect(calls).toEqual(["create", "create"]);
    const recs = await Promise.all(jobs.map((j) => jobRecord(j.id)));
    const sizes = new Map<string, number>();
    for (const rec of recs) sizes.set(rec!.batch_id, (sizes.get(rec!.batch_id) ?? 0) + 1);
    expect([...sizes.values()].sort((a, b) => a - b)).toEqual([10, BATCH_MAX_JOBS]);
  });

  it("a job whose submitted record could not be written is still acked (the batch record holds it) and ends done", async () => {
    const e0 = batchEnv();
    const a = await job(e0);
    const r2 = countingBucket((key) => key.startsWith("jobs/"));
    const e = { ...e0, OUTPUTS: r2.bucket } as unknown as TestEnv;
    const result = await deliver(e, [a.msg]);
    expect(result.explicitAcks).toEqual([a.msg.id]);
    expect(r2.counts.put).toBe(1 + 3); // the batch record, then the job's record three times
    expect(await jobRecord(a.id)).toBeNull();
    const done = await pollUntil(e0, a.id, ["done"]);
    expect(done).toMatchObject({ status: "done", result: await replyTo(a.input), attempts: 1 });
  });

  it("a create that fails (5xx, 429, network) retries the messages with the delay, and writes nothing", async () => {
    const e = batchEnv({ RETRY_DELAY_SECONDS: "9" });
    const jobs = await Promise.all([job(e), job(e)]);
    watchBatchCalls((method) => (method === "POST" ? new Response('{"type":"error","error":{"type":"overloaded_error","message":"busy"}}', { status: 529 }) : undefined));
    const r1 = await deliver(e, jobs.map((j) => j.msg));
    expect(r1.retryMessages.map((m) => m.msgId).sort()).toEqual(jobs.map((j) => j.msg.id).sort());
    expect(Object.values(r1.delays)).toEqual([9, 9]);
    restoreFetch!();
    watchBatchCalls((method) => (method === "POST" ? new Response("{}", { status: 429, headers: { "retry-after": "17" } }) : undefined));
    const r2 = await deliver(e, [jobs[0]!.msg]);
    expect(r2.delays).toEqual({ [jobs[0]!.msg.id]: 17 });
    const r3 = await deliver(batchEnv({ ANTHROPIC_BASE_URL: "http://127.0.0.1:9" }), [jobs[1]!.msg]);
    expect(r3.retryMessages).toEqual([{ msgId: jobs[1]!.msg.id }]);
    for (const j of jobs) expect(await jobRecord(j.id)).toBeNull();
    // A later delivery goes through.
    restoreFetch!();
    restoreFetch = undefined;
    const ok = await deliver(e, jobs.map((j) => j.msg));
    expect(ok.explicitAcks).toHaveLength(2);
  });

  it("a create the API refuses (4xx) fails the jobs", async () => {
    const e = batchEnv({ ANTHROPIC_API_KEY: "" });
    const a = await job(e);
    const result = await deliver(e, [a.msg]);
    expect(result.explicitAcks).toEqual([a.msg.id]);
    expect(await jobRecord(a.id)).toMatchObject({ status: "failed", error: expect.stringContaining("401") });
  });

  it("a batch whose record cannot be written is canceled and its messages retried", async () => {
    await knobs({ delayMs: 60_000 });
    const e0 = batchEnv();
    const a = await job(e0);
    const r2 = countingBucket((key) => key.startsWith("batches/"));
    const calls = watchBatchCalls();
    const result = await deliver({ ...e0, OUTPUTS: r2.bucket } as unknown as TestEnv, [a.msg]);
    expect(result.retryMessages).toEqual([{ msgId: a.msg.id }]);
    expect(calls).toEqual(["create", "cancel"]);
    expect(r2.counts.put).toBe(3);
    expect(await jobRecord(a.id)).toBeNull();
  });

  it("with the budget spent, parks the jobs instead of submitting them", async () => {
    const { submitDelivery } = await import("../src/lib/batch/submit");
    const { readConfig } = await import("../src/lib/config");
    const e = batchEnv();
    const a = await job(e);
    const parked: string[] = [];
    const budget: BatchBudget = {
      check: async () => {
        throw new Error("spent");
      },
      exhausted: () => true,
      park: async (_e, _c, jobs) => void parked.push(...jobs.map((j) => j.job_id)),
      recordSpend: async () => {},
    };
    const calls = watchBatchCalls();
    const batch = createMessageBatch(QUEUE, [a.msg]);
    await submitDelivery(batch.messages, e as any, readConfig(e), {}, { budget });
    expect(parked).toEqual([a.id]);
    expect(calls).toEqual([]);
  });
});

describe("batch mode: the poller", () => {
  it("writes done with the result and usage, the data point with mode batch, deletes the batch record; a second run writes nothing", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const e = batchEnv({ MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => void points.push(p) } });
    const jobs = await Promise.all([job(e), job(e)]);
    await deliver(e, jobs.map((j) => j.msg));
    const batchId = (await jobRecord(jobs[0]!.id))!.batch_id as string;
    await poll(e);
    for (const j of jobs) {
      const r = await jobRecord(j.id);
      expect(r).toMatchObject({ status: "done", result: await replyTo(j.input), batch_id: batchId, attempts: 1, model: "claude-haiku-4-5" });
      expect(r!.usage.input_tokens).toBeGreaterThan(0);
      expect(await (await call(worker, get(`/jobs/${j.id}`), e)).json()).toEqual({ job_id: j.id, status: "done", result: await replyTo(j.input) });
    }
    expect(await batchRecord(batchId)).toBeNull();
    expect(points).toHaveLength(2);
    for (const p of points) expect(p.blobs).toEqual([e.PRODUCT, "claude-haiku-4-5", "async-pipeline", "batch", ""]);

    const r2 = countingBucket();
    await poll({ ...e, OUTPUTS: r2.bucket } as unknown as TestEnv);
    expect(r2.counts).toEqual({ put: 0, get: 0, list: 1, delete: 0 });
    expect(points).toHaveLength(2);
  });

  it("is idempotent when a run dies before deleting the batch record: the next run writes no job again", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const e = batchEnv({ MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => void points.push(p) } });
    const a = await job(e);
    await deliver(e, [a.msg]);
    const batchId = (await jobRecord(a.id))!.batch_id as string;
    const r2a = countingBucket(undefined, true);
    await poll({ ...e, OUTPUTS: r2a.bucket } as unknown as TestEnv);
    expect(r2a.counts.put).toBe(1);
    const first = await jobRecord(a.id);
    expect(first).toMatchObject({ status: "done" });
    expect(await batchRecord(batchId)).not.toBeNull();

    const r2b = countingBucket();
    await poll({ ...e, OUTPUTS: r2b.bucket } as unknown as TestEnv);
    expect(r2b.counts.put).toBe(0);
    expect(r2b.counts.delete).toBe(1);
    expect(await jobRecord(a.id)).toEqual(first);
    expect(await batchRecord(batchId)).toBeNull();
    expect(points).toHaveLength(1);
  });

  it("an errored request is sent again with its attempt count; past MAX_RETRIES the job is dead with its input", async () => {
    const q = recordingQueue();
    const e = batchEnv({ JOB_QUEUE: q.queue, MAX_RETRIES: "1" });
    const a = await job(e);
    const ok = await job(e);
    await knobs({ errors: { match: a.id } });
    await deliver(e, [a.msg, ok.msg]);
    const b1 = (await jobRecord(a.id))!.batch_id as string;
    await poll(e);
    expect(await jobRecord(ok.id)).toMatchObject({ status: "done" });
    expect(q.sent).toEqual([{ body: { job_id: a.id, input: a.input, batch_attempts: 1 }, delaySeconds: 0 }]);
    expect(await jobRecord(a.id)).toMatchObject({ status: "queued", attempts: 1, batch_id: b1, error: expect.stringContaining("api_error") });
    expect(await (await call(worker, get(`/jobs/${a.id}`), e)).json()).toMatchObject({ status: "queued", error: expect.any(String) });

    // A stale duplicate of the first message is acked, not submitted.
    const calls = watchBatchCalls();
    const stale = await deliver(e, [{ ...a.msg, attempts: 2 }]);
    expect(stale.explicitAcks).toEqual([a.msg.id]);
    expect(calls).toEqual([]);

    // The message sent again: the second submission, in a new batch.
    const resent = { id: "resent", timestamp: new Date(), attempts: 1, body: q.sent[0]!.body };
    expect((await deliver(e, [resent])).explicitAcks).toEqual(["resent"]);
    const second = await jobRecord(a.id);
    expect(second).toMatchObject({ status: "submitted", attempts: 2 });
    expect(second!.batch_id).not.toBe(b1);
    expect((await batchRecord(second!.batch_id))!.jobs).toEqual([{ job_id: a.id, input: a.input, attempt: 2 }]);
    restoreFetch!();
    restoreFetch = undefined;
    await poll(e);
    expect(await jobRecord(a.id)).toMatchObject({ status: "dead", attempts: 2, input: a.input, error: expect.stringContaining("errored") });
    expect(q.sent).toHaveLength(1);
    expect(await (await call(worker, get(`/jobs/${a.id}`), e)).json()).toMatchObject({ status: "dead" });
  });

  it("expired and canceled requests are retried like errored ones", async () => {
    const q = recordingQueue();
    const e = batchEnv({ JOB_QUEUE: q.queue, MAX_RETRIES: "3" });
    const exp = await job(e);
    const can = await job(e);
    await knobs({ expiryMs: 300, expire: { match: `${exp.id}|${can.id}` } });
    await deliver(e, [exp.msg]);
    await knobs({ expire: { match: can.id } }); // default expiry: only a cancel ends it
    await deliver(e, [can.msg]);
    const canBatch = (await jobRecord(can.id))!.batch_id as string;
    const res = await fetch(`${env.ANTHROPIC_BASE_URL}/v1/messages/batches/${canBatch}/cancel`, {
      method: "POST",
      headers: { "x-api-key": "k", "anthropic-version": "2023-06-01" },
    });
    expect(res.status).toBe(200);
    expect(await pollUntil(e, exp.id, ["queued"])).toMatchObject({ attempts: 1, error: expect.stringContaining("expired") });
    expect(await pollUntil(e, can.id, ["queued"])).toMatchObject({ attempts: 1, error: expect.stringContaining("canceled") });
    expect(q.sent.map((s) => s.body).sort((x, y) => x.job_id.localeCompare(y.job_id))).toEqual(
      [
        { job_id: exp.id, input: exp.input, batch_attempts: 1 },
        { job_id: can.id, input: can.input, batch_attempts: 1 },
      ].sort((x, y) => x.job_id.localeCompare(y.job_id)),
    );
  });

  it("a request the API refuses as invalid fails at once", async () => {
    const q = recordingQueue();
    const e = batchEnv({ JOB_QUEUE: q.queue });
    const a = await job(e);
    await knobs({ errors: { match: a.id }, errorType: "invalid_request_error" });
    await deliver(e, [a.msg]);
    await poll(e);
    expect(await jobRecord(a.id)).toMatchObject({ status: "failed", error: expect.stringContaining("invalid_request_error") });
    expect(q.sent).toEqual([]);
  });

  it("a shapeResult hook that throws on a paid answer leaves the job dead with its input (not paid again), usage recorded", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const w = createWorker({
      shapeResult: () => {
        throw new Error("hook bug");
      },
    });
    const e = batchEnv({ MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => void points.push(p) } });
    const a = await job(e);
    const batch = createMessageBatch(QUEUE, [a.msg]);
    await w.queue!(batch, e, createExecutionContext());
    const ctx = createExecutionContext();
    await w.scheduled!(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), e, ctx);
    expect(await jobRecord(a.id)).toMatchObject({ status: "dead", input: a.input, error: expect.stringContaining("hook bug") });
    expect(points).toHaveLength(1);
    expect(await env.OUTPUTS.list({ prefix: "batches/" })).toMatchObject({ objects: [] });
  });

  it("skips a result whose job's record no longer names the batch", async () => {
    const e = batchEnv();
    const a = await job(e);
    await deliver(e, [a.msg]);
    const rec = (await jobRecord(a.id))!;
    const newer = { ...rec, status: "submitted", batch_id: "msgbatch_newer", updated_at: new Date().toISOString() };
    await env.OUTPUTS.put(`jobs/${a.id}.json`, JSON.stringify(newer));
    await poll(e);
    expect(await jobRecord(a.id)).toEqual(newer);
    expect(await batchRecord(rec.batch_id)).toBeNull();
  });

  it("leaves batches in progress for the next run, and bounds the fetches of one run", async () => {
    await knobs({ delayMs: 60_000 });
    const e = batchEnv();
    const jobs = await Promise.all(Array.from({ length: POLL_MAX_FETCHES + 3 }, () => job(e)));
    // One delivery each: as many open batches.
    for (const j of jobs) await deliver(e, [j.msg]);
    const calls = watchBatchCalls();
    await poll(e);
    expect(calls.length).toBeLessThanOrEqual(POLL_MAX_FETCHES);
    expect(calls.every((c) => c === "retrieve")).toBe(true);
    for (const j of jobs.slice(0, 3)) expect(await jobRecord(j.id)).toMatchObject({ status: "submitted" });
  });

  it("runs the product's own cron hook beside the poller", async () => {
    const seen: string[] = [];
    const w = createWorker({ scheduled: (_e, c) => void seen.push(c.cron) });
    const e = batchEnv();
    const a = await job(e);
    await deliver(e, [a.msg]);
    const ctx = createExecutionContext();
    await w.scheduled!(createScheduledController({ cron: "0 * * * *", scheduledTime: Date.now() }), e, ctx);
    expect(seen).toEqual(["0 * * * *"]);
    expect(await jobRecord(a.id)).toMatchObject({ status: "done" });
  });
});

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
  const PRICES = '{"model":"claude-haiku-4-5","prices":"2026-11","input":1,"output":5,"cache_read":0.1,"cache_write":1.25,"batch_discount":0.5}';
  const guarded = (over: Record<string, unknown> = {}) =>
    batchEnv({ MODEL_PRICES: PRICES, MONTHLY_BUDGET_USD: "1", STACK_BUDGET_USD: "", BUDGET_ALERT_THRESHOLDS: "50,80,100", BUDGET_ALERT_WEBHOOK: "", ...over });

  it("records each succeeded result at the batch price; once spent, parks a delivery without creating a batch", async () => {
    const { budgetStatus } = await import("../src/lib/spend/guard");
    const { readConfig } = await import("../src/lib/config");
    const { callCostNanos, parsePrices } = await import("../src/lib/prices");
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

  it("customers: the batch record carries each job's customer; a customer over its budget is parked, the other's job submitted; settled spend lands on the customer's row", async () => {
    const { putKey, sha256hex } = await import("./keyhelpers");
    const { callCostNanos, parsePrices } = await import("../src/lib/prices");
    const { monthOf } = await import("../src/lib/spend/store");
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

describe("batch mode end to end through the real queue", () => {
  it("POST /jobs -> consumer -> submitted -> cron -> done", async () => {
    expect((env as unknown as Record<string, unknown>).MODEL_MODE).toBe("batch");
    const t = newToken();
    const res = await exports.default.fetch("https://worker.test/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inputs: [`e2e 1 ${t}`, `e2e 2 ${t}`] }),
    });
    expect(res.status).toBe(202);
    const { job_ids } = (await res.json()) as { job_ids: string[] };
    for (const id of job_ids) {
      const v = await eventually(async () => {
        const r = (await (await exports.default.fetch(`https://worker.test/jobs/${id}`)).json()) as Record<string, any>;
        return r.status === "queued" ? undefined : r;
      });
      expect(v).toEqual({ job_id: id, status: "submitted", batch_id: expect.stringMatching(/^msgbatch_/) });
    }
    await poll(env as TestEnv);
    for (const [i, id] of job_ids.entries()) {
      const v = await (await exports.default.fetch(`https://worker.test/jobs/${id}`)).json();
      expect(v).toEqual({ job_id: id, status: "done", result: await replyTo(`e2e ${i + 1} ${t}`) });
    }
  });
});
