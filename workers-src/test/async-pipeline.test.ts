// async-pipeline: POST /jobs -> queue -> consumer -> one record in R2 (jobs/<id>.json); failures retry, then the DLQ.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { JobMessage, PackMessage } from "../src/env";
import { PACK_MAX_BYTES, PACK_MAX_JOBS } from "../src/lib/pack";
import { newJobId } from "../src/lib/jobid";
import { createWorker, deferralDelay, EXPIRED_ERROR, MAX_BATCH_INPUTS, MAX_DEFERRALS, QUEUED_WINDOW_MS } from "../src/patterns/async-pipeline";
import { call, eventually, expectBearerAuth, expectError, expectHealth, expectPatternBindings, get, jobKeys, jobRecord, newToken, postJson, replyTo, standin, testEnv } from "./helpers";

const worker = createWorker({});
// The test stack's queues (Pulumi.workers-test.yaml: product ap-test, stack workers-test).
const QUEUE = "ap-test-workers-test-jobs";
const DLQ = "ap-test-workers-test-jobs-dlq";

/** The job's record (jobs/<id>.json), or null. */
const status = jobRecord;

/**
 * A job as POST /jobs makes it (a signed id, no record) and a queue message
 * for it; with `extra`, also a queued record holding it (as a failed attempt
 * leaves one). `at` backdates the id.
 */
async function seed(input: string, extra: Record<string, unknown> = {}, attempts = 1, at = Date.now()) {
  const id = await newJobId(env, at);
  if (Object.keys(extra).length > 0) {
    const now = new Date().toISOString();
    await env.OUTPUTS.put(`jobs/${id}.json`, JSON.stringify({ job_id: id, status: "queued", created_at: now, updated_at: now, ...extra }));
  }
  return { id, msg: { id: `msg-${id}`, timestamp: new Date(), attempts, body: { job_id: id, input } as JobMessage } };
}

/**
 * Runs the queue handler on a batch from cloudflare:test and returns its ack/retry
 * result. getQueueResult does not report retry delays, so each message's
 * retry() is wrapped to record the delay it was given (in `delays`).
 */
async function runBatch(queue: string, messages: ServiceBindingQueueMessage<unknown>[], e = testEnv()) {
  const batch = createMessageBatch(queue, messages);
  const delays: Record<string, number | undefined> = {};
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    Object.defineProperty(m, "retry", {
      value: (o?: QueueRetryOptions) => {
        delays[m.id] = o?.delaySeconds;
        retry(o);
      },
    });
  }
  const ctx = createExecutionContext();
  await worker.queue!(batch, e, ctx);
  return { ...(await getQueueResult(batch, ctx)), delays };
}

/** A JOB_QUEUE that records what is sent (and can fail). */
function recordingQueue(fail = false) {
  const sent: Array<{ body: JobMessage; delaySeconds?: number }> = [];
  return {
    sent,
    queue: {
      send: async (body: JobMessage, o?: QueueSendOptions) => {
        if (fail) throw new Error("queue down");
        sent.push({ body, delaySeconds: o?.delaySeconds });
      },
      sendBatch: async () => {},
    },
  };
}

/** Polls GET /jobs/:id through the Worker until the status leaves "queued". */
async function settled(id: string, timeoutMs = 15_000): Promise<Record<string, any>> {
  return eventually(async () => {
    const v = (await (await exports.default.fetch(`https://worker.test/jobs/${id}`)).json()) as Record<string, any>;
    return v.status === "queued" || v.status === "running" ? undefined : v;
  }, timeoutMs);
}

describe("routes", () => {
  it("sees the bindings of its rendered config (test/wrangler/async-pipeline.toml)", async () => {
    expect(env).toMatchObject({ PRODUCT: "ap-test", PATTERN: "async-pipeline", DEAD_LETTER_QUEUE: DLQ, RETRY_DELAY_SECONDS: "1" });
    expect(typeof env.JOB_QUEUE.send).toBe("function");
    await expectPatternBindings("jobs/none.json");
  });

  it("GET /health, 404 and 405", async () => {
    await expectHealth("async-pipeline", "ap-test");
    await expectError(await call(worker, get("/ask")), 404, "not_found");
    const r405 = await call(worker, new Request("https://worker.test/jobs", { method: "PUT" }));
    expect(r405.headers.get("allow")).toBe("POST");
    await expectError(r405, 405, "method_not_allowed");
    await expectError(await call(worker, get(`/jobs/${crypto.randomUUID()}`)), 404, "not_found");
  });

  it("AUTH_TOKEN guards the admin routes, not the product's", async () => {
    await expectBearerAuth(worker, "/jobs", 202);
  });
});

describe("POST /jobs", () => {
  const cases: Array<[string, Request, number, string, string?]> = [
    ["invalid JSON", postJson("/jobs", "{"), 400, "invalid_json"],
    ["an array body", postJson("/jobs", ["a"]), 400, "invalid_input"],
    ["neither input nor inputs", postJson("/jobs", {}), 400, "invalid_input"],
    ["both input and inputs", postJson("/jobs", { input: "a", inputs: ["b"] }), 400, "invalid_input"],
    ["inputs not an array", postJson("/jobs", { inputs: "a" }), 400, "invalid_input"],
    ["inputs an object", postJson("/jobs", { inputs: { 0: "a" } }), 400, "invalid_input"],
    ["inputs empty", postJson("/jobs", { inputs: [] }), 400, "invalid_input"],
    ["a bad item", postJson("/jobs", { inputs: ["a", "b", 7, "d"] }), 400, "invalid_input", "inputs[2]"],
    ["a blank item", postJson("/jobs", { inputs: ["a", "  "] }), 400, "invalid_input", "inputs[1]"],
    ["a null item", postJson("/jobs", { inputs: [null] }), 400, "invalid_input", "inputs[0]"],
    ["an item too long", postJson("/jobs", { inputs: ["a", "x".repeat(201)] }), 413, "input_too_large", "inputs[1]"],
    ["too many items", postJson("/jobs", { inputs: Array(MAX_BATCH_INPUTS + 1).fill("a") }), 413, "input_too_large"],
    ["input too long", postJson("/jobs", { input: "x".repeat(201) }), 413, "input_too_large"],
    ["body over the byte cap", postJson("/jobs", { input: "a", pad: "x".repeat(200_000) }), 413, "input_too_large"],
    ["wrong content type", postJson("/jobs", { input: "a" }, { "content-type": "text/json" }), 415, "unsupported_media_type"],
  ];
  it.each(cases)("rejects %s", async (_n, request, code, error, mention) => {
    const before = (await jobKeys()).length;
    const message = await expectError(await call(worker, request), code, error);
    if (mention) expect(message).toContain(mention);
    expect((await jobKeys()).length).toBe(before);
  });

  it("one input: 202 with job_id and job_ids; queued by its signed id, with nothing written", async () => {
    // A worker env whose queue only records, so the job stays queued.
    const sent: unknown[] = [];
    const e = testEnv({ JOB_QUEUE: { send: async (m: unknown) => void sent.push(m), sendBatch: async () => {} } });
    const res = await call(worker, postJson("/jobs", { input: "  one  " }), e);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { job_id: string; job_ids: string[]; status: string };
    expect(body).toEqual({ job_id: body.job_ids[0], job_ids: [expect.stringMatching(/^[0-9a-f]{60}$/)], status: "queued" });
    expect(sent).toEqual([{ job_id: body.job_id, input: "one" }]);
    expect(await status(body.job_id)).toBeNull();
    expect(await (await call(worker, get(`/jobs/${body.job_id}`), e)).json()).toEqual({ job_id: body.job_id, status: "queued" });
    // Another product's Worker did not issue it.
    await expectError(await call(worker, get(`/jobs/${body.job_id}`)), 404, "not_found");
  });

  it("a job with no record reads queued for 25 h (the queue keeps a message 24 h), then failed: expired", async () => {
    const e = testEnv();
    const young = await newJobId(e, Date.now() - 24 * 3600_000);
    expect(await (await call(worker, get(`/jobs/${young}`), e)).json()).toEqual({ job_id: young, status: "queued" });
    const old = await newJobId(e, Date.now() - QUEUED_WINDOW_MS - 1000);
    expect(await (await call(worker, get(`/jobs/${old}`), e)).json()).toEqual({ job_id: old, status: "failed", error: EXPIRED_ERROR });
  });

  it("a queue outage is a 503 with retry-after, and nothing is accepted or written", async () => {
    const e = testEnv({
      JOB_QUEUE: {
        send: async () => {
          throw new Error("queue down");
        },
        sendBatch: async () => {
          throw new Error("queue down");
        },
      },
    });
    const before = (await jobKeys()).length;
    const res = await call(worker, postJson("/jobs", { inputs: ["a", "b"] }), e);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await expectError(res, 503, "unavailable")).toContain("0 of 2");
    expect((await jobKeys()).length).toBe(before);
  });

  it("many inputs go out packed (ten a message, one 64 KB billing unit) with sendBatch, in chunks under the Queues limits", async () => {
    const batches: Array<Array<{ body: PackMessage }>> = [];
    const e = testEnv({
      JOB_QUEUE: { send: async () => {}, sendBatch: async (b: Array<{ body: PackMessage }>) => void batches.push([...b]) },
    });
    const inputs = Array.from({ length: MAX_BATCH_INPUTS }, (_, i) => `${i} ` + "ü".repeat(190));
    const res = await call(worker, postJson("/jobs", { inputs }), e);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { job_ids: string[]; job_id?: string };
    expect(body.job_ids).toHaveLength(MAX_BATCH_INPUTS);
    expect(body.job_id).toBeUndefined();
    const packs = batches.flat().map((m) => m.body);
    expect(packs).toHaveLength(MAX_BATCH_INPUTS / PACK_MAX_JOBS);
    expect(packs.flatMap((p) => p.jobs)).toEqual(body.job_ids.map((job_id, i) => ({ job_id, input: inputs[i] })));
    for (const p of packs) expect(new TextEncoder().encode(JSON.stringify(p)).byteLength).toBeLessThanOrEqual(PACK_MAX_BYTES);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(100);
      expect(new TextEncoder().encode(JSON.stringify(b)).byteLength).toBeLessThan(256_000);
    }
  });
});

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

describe("dead-letter queue", () => {
  it("writes the record dead, with the input and the last error, and acks, without calling the model", async () => {
    const t = newToken();
    const job = await seed(`doomed ${t}`, { error: "model API answered 503: busy", attempts: 2 });
    const result = await runBatch(DLQ, [job.msg]);
    expect(result.explicitAcks).toEqual([job.msg.id]);
    expect(await status(job.id)).toEqual({
      job_id: job.id,
      status: "dead",
      input: `doomed ${t}`,
      attempts: 2,
      error: "model API answered 503: busy",
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(await standin.calls(t)).toHaveLength(0);
    const v = await call(worker, get(`/jobs/${job.id}`));
    expect(await v.json()).toEqual({ job_id: job.id, status: "dead", error: "model API answered 503: busy" });
  });

  it("records a dead job that has no record yet", async () => {
    const id = await newJobId(env);
    const msg = { id: "m1", timestamp: new Date(), attempts: 4, body: { job_id: id, input: "lost" } };
    expect((await runBatch(DLQ, [msg])).explicitAcks).toEqual(["m1"]);
    expect(await status(id)).toMatchObject({ status: "dead", attempts: 4, input: "lost", error: "retries exhausted" });
  });

  it("leaves a job that ended meanwhile as it is", async () => {
    const job = await seed(`finished ${newToken()}`, { status: "done", result: "r" });
    expect((await runBatch(DLQ, [job.msg])).explicitAcks).toEqual([job.msg.id]);
    expect(await status(job.id)).toMatchObject({ status: "done", result: "r" });
  });
});

describe("end to end through the real queues", () => {
  it("producer -> consumer -> R2: every job ends done", async () => {
    const tokens = [newToken(), newToken(), newToken()];
    await standin.script(tokens[1]!, [{ status: 503 }]); // one transient failure on the way
    const res = await exports.default.fetch("https://worker.test/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inputs: tokens.map((t) => `item ${t}`) }),
    });
    expect(res.status).toBe(202);
    const { job_ids } = (await res.json()) as { job_ids: string[] };
    expect(job_ids).toHaveLength(3);
    for (const [i, id] of job_ids.entries()) {
      expect(await settled(id)).toEqual({ job_id: id, status: "done", result: await replyTo(`item ${tokens[i]}`) });
    }
  });

  it("a rate-limited job waits without using up its retries, and ends done", async () => {
    // max_retries = 1: two deliveries. Six 429s take three deliveries of two
    // attempts each; retrying them would have sent the job to the DLQ.
    const t = newToken();
    await standin.script(t, [{ status: 429, retryAfter: "1", times: 6 }]);
    const res = await exports.default.fetch("https://worker.test/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: `patient ${t}` }),
    });
    const { job_id } = (await res.json()) as { job_id: string };
    expect(await settled(job_id, 30_000)).toEqual({ job_id, status: "done", result: await replyTo(`patient ${t}`) });
    expect(await standin.calls(t)).toHaveLength(7);
    expect(await status(job_id)).toMatchObject({ status: "done" });
  }, 40_000);

  it("a job that keeps failing is retried, then dead-lettered", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 500, times: -1 }]);
    const res = await exports.default.fetch("https://worker.test/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: `doomed ${t}` }),
    });
    const { job_id } = (await res.json()) as { job_id: string };
    const final = await settled(job_id);
    expect(final).toEqual({ job_id, status: "dead", error: expect.stringContaining("500") });
    expect(await status(job_id)).toMatchObject({ job_id, status: "dead", input: `doomed ${t}`, attempts: 2 });
    // max_retries = 1: two deliveries, each with two in-worker attempts
    expect(await standin.calls(t)).toHaveLength(4);
  });
});
