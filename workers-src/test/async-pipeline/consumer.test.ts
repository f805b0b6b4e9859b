// async-pipeline (test/async-pipeline/harness.ts): the queue consumer.
import { describe, expect, it } from "vitest";
import { deferralDelay, MAX_DEFERRALS } from "../../src/patterns/async-pipeline";
import { call, get, newToken, replyTo, standin, testEnv } from "../helpers";
import { QUEUE, recordingQueue, runBatch, seed, status, worker } from "./harness";

describe("queue consumer", () => {
  it("acks successes and retries failures one by one, with the right delays", async () => {
    const [ok, fail, limited, bad] = [newToken(), newToken(), newToken(), newToken()];
    await standin.script(fail, [{ status: 500, times: -1 }]);
    await standin.script(limited, [{ status: 429, retryAfter: "7", times: -1 }]);
    await standin.script(bad, [{ status: 400, times: -1 }]);
    const jobs = await Promise.all([seed(`ok ${ok}`), seed(`fail ${fail}`), seed(`limited ${limited}`), seed(`bad ${bad}`)]);
    const q = recordingQueue();
    const result = await runBatch(QUEUE, jobs.map((j) => j.msg), testEnv({ RETRY_DELAY_SECONDS: "12", JOB_QUEUE: q.queue }));

    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(false);
    // The rate-limited job is acked and sent again (a deferral), not retried.
    expect(result.explicitAcks.sort()).toEqual([jobs[0]!.msg.id, jobs[2]!.msg.id, jobs[3]!.msg.id].sort());
    expect(result.retryMessages.map((m) => m.msgId)).toEqual([jobs[1]!.msg.id]);
    expect(result.delays).toEqual({ [jobs[1]!.msg.id]: 12 }); // RETRY_DELAY_SECONDS
    expect(q.sent).toEqual([{ body: { job_id: jobs[2]!.id, input: `limited ${limited}`, deferrals: 1 }, delaySeconds: expect.any(Number) }]);
    expect(q.sent[0]!.delaySeconds).toBe(7); // the model's retry-after

    expect(await status(jobs[0]!.id)).toMatchObject({ job_id: jobs[0]!.id, status: "done", result: await replyTo(`ok ${ok}`), attempts: 1 });
    expect(await status(jobs[1]!.id)).toMatchObject({ status: "queued", attempts: 1, error: expect.stringContaining("500") });
    expect(await status(jobs[2]!.id)).toBeNull(); // a deferral writes nothing
    expect(await status(jobs[3]!.id)).toMatchObject({ status: "failed", error: expect.stringContaining("400") });
    expect(await standin.calls(fail)).toHaveLength(2); // a few in-worker retries...
    expect(await standin.calls(limited)).toHaveLength(1); // ...but no 7 s wait in the Worker
    expect(await standin.calls(bad)).toHaveLength(1);
  });

  it("handles the messages of a batch concurrently", async () => {
    const tokens = [newToken(), newToken(), newToken()];
    for (const t of tokens) await standin.script(t, [{ delayMs: 600 }]);
    const jobs = await Promise.all(tokens.map((t) => seed(`slow ${t}`)));
    const started = Date.now();
    const result = await runBatch(QUEUE, jobs.map((j) => j.msg));
    expect(result.explicitAcks).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("is idempotent: a job already done is acked without a model call", async () => {
    const t = newToken();
    const job = await seed(`again ${t}`, { status: "done", result: "earlier" });
    const result = await runBatch(QUEUE, [job.msg]);
    expect(result.explicitAcks).toEqual([job.msg.id]);
    expect(await standin.calls(t)).toHaveLength(0);
    expect(await status(job.id)).toMatchObject({ status: "done" });
    const v = await call(worker, get(`/jobs/${job.id}`));
    expect(await v.json()).toEqual({ job_id: job.id, status: "done", result: "earlier" });
  });

  it("defers a rate-limited job only while it stays inside 24 h of its creation; later, retries and records", async () => {
    const q = recordingQueue();
    const e = testEnv({ RATE_LIMITER: { limit: async () => ({ success: false }) }, JOB_QUEUE: q.queue });
    const t = newToken();
    const late = await seed(`late ${t}`, {}, 1, Date.now() - 24 * 3600_000 + 30_000); // 60 s would pass 24 h
    const result = await runBatch(QUEUE, [late.msg], e);
    expect(result.retryMessages).toEqual([{ msgId: late.msg.id }]);
    expect(q.sent).toEqual([]);
    expect(await status(late.id)).toMatchObject({ status: "queued", error: expect.stringContaining("rate limit") });
    expect(await standin.calls(t)).toHaveLength(0);
  });

  it("uses the RATE_LIMITER binding when there is one", async () => {
    const keys: string[] = [];
    const limiter = { limit: async ({ key }: { key: string }) => (keys.push(key), { success: false }) };
    const q = recordingQueue();
    const e = testEnv({ RATE_LIMITER: limiter, JOB_QUEUE: q.queue });
    const job = await seed(`rlb ${newToken()}`);
    const result = await runBatch(QUEUE, [job.msg], e);
    expect(result.explicitAcks).toEqual([job.msg.id]);
    expect(q.sent).toHaveLength(1);
    // Its group in the isolate's book (pacing.ts, test/pacing.test.ts): the
    // binding's period, less the 5 s a late group is allowed, at least.
    expect(q.sent[0]!.delaySeconds).toBeGreaterThanOrEqual(55);
    expect(keys).toEqual([e.PRODUCT]);
  });

  it("a deferral is not a retry and writes nothing; past MAX_DEFERRALS it retries", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 429, retryAfter: "30", times: -1 }]);
    const q = recordingQueue();
    const e = testEnv({ JOB_QUEUE: q.queue });
    const job = await seed(`deferred ${t}`, {}, 1);
    // A message deferred before: it is deferred again, with the count up,
    // and no record is written.
    const again = { ...job.msg, body: { ...job.msg.body, deferrals: 7 } };
    const r1 = await runBatch(QUEUE, [again], e);
    expect(r1.explicitAcks).toEqual([job.msg.id]);
    expect(q.sent.map((m) => m.body)).toEqual([{ job_id: job.id, input: `deferred ${t}`, deferrals: 8 }]);
    expect(await status(job.id)).toBeNull();
    // At the cap: an ordinary retry, which counts toward max_retries.
    const capped = { ...job.msg, body: { ...job.msg.body, deferrals: MAX_DEFERRALS } };
    const r2 = await runBatch(QUEUE, [capped], e);
    expect(r2.retryMessages).toEqual([{ msgId: job.msg.id }]);
    expect(r2.delays[job.msg.id]).toBe(30);
    expect(q.sent).toHaveLength(1);
    // A bogus count is read as 0.
    const bogus = { ...job.msg, body: { ...job.msg.body, deferrals: "lots" } };
    await runBatch(QUEUE, [bogus], e);
    expect(q.sent[1]!.body.deferrals).toBe(1);
  });

  it("a job that cannot be sent again is retried instead", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 429, retryAfter: "3", times: -1 }]);
    const q = recordingQueue(true);
    const job = await seed(`undeferrable ${t}`);
    const result = await runBatch(QUEUE, [job.msg], testEnv({ JOB_QUEUE: q.queue }));
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: job.msg.id }]);
    expect(result.delays[job.msg.id]).toBe(3);
    expect(await status(job.id)).toMatchObject({ status: "queued", error: expect.stringContaining("429") });
  });

  it("deferralDelay: retry-after, plus the batch's deferrals spread at the product's rate", () => {
    expect(deferralDelay(7, 30, 0, 60)).toBe(7);
    expect(deferralDelay(7, 30, 10, 60)).toBe(17); // one a second at 60 a minute
    expect(deferralDelay(7, 30, 10, 120)).toBe(12);
    expect(deferralDelay(7, 30, 99, 1_000_000)).toBe(7);
    expect(deferralDelay(0.2, 30, 0, 60)).toBe(1);
    expect(deferralDelay(undefined, 30, 0, 60)).toBe(30);
    expect(deferralDelay(50_000, 30, 0, 60)).toBe(43_200);
  });

  it("spreads the deferrals of one batch at the product's rate", async () => {
    const tokens = [newToken(), newToken(), newToken()];
    for (const t of tokens) await standin.script(t, [{ status: 429, retryAfter: "20", times: -1 }]);
    const q = recordingQueue();
    const jobs = await Promise.all(tokens.map((t) => seed(`spread ${t}`)));
    await runBatch(QUEUE, jobs.map((j) => j.msg), testEnv({ JOB_QUEUE: q.queue, RATE_LIMIT_PER_MINUTE: "30" }));
    expect(q.sent.map((m) => m.delaySeconds).sort()).toEqual([20, 22, 24]);
  });

  it("acks a malformed message instead of failing the batch", async () => {
    const job = await seed(`fine ${newToken()}`);
    const junk = { id: "junk", timestamp: new Date(), attempts: 1, body: { nope: true } };
    const result = await runBatch(QUEUE, [junk, job.msg]);
    expect(result.explicitAcks.sort()).toEqual(["junk", job.msg.id].sort());
  });
});
