// Batch mode (test/batch/harness.ts): the cron poller, which applies the
// results of the Message Batches.
import { createExecutionContext, createMessageBatch, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { POLL_MAX_FETCHES } from "../../src/lib/batch/poll";
import { createWorker } from "../../src/patterns/async-pipeline";
import { call, get, jobRecord, replyTo, type TestEnv } from "../helpers";
import { batchEnv, batchRecord, countingBucket, deliver, job, knobs, poll, pollUntil, QUEUE, recordingQueue, resetBatchMode, restoreFetch, watchBatchCalls, worker } from "./harness";

afterEach(resetBatchMode);

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
    restoreFetch();
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
