// Batch mode (test/batch/harness.ts): the consumer, which submits one Message
// Batch per delivery, and one job end to end through the real queue.
import { createMessageBatch } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { BatchBudget } from "../../src/lib/batch/guard";
import { BATCH_MAX_JOBS } from "../../src/lib/batch/submit";
import { call, eventually, get, jobRecord, newToken, postJson, replyTo, type TestEnv } from "../helpers";
import { batchEnv, batchRecord, countingBucket, deliver, job, knobs, poll, pollUntil, QUEUE, resetBatchMode, restoreFetch, retrieve, watchBatchCalls, worker } from "./harness";

afterEach(resetBatchMode);

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
    restoreFetch();
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
    restoreFetch();
    watchBatchCalls((method) => (method === "POST" ? new Response("{}", { status: 429, headers: { "retry-after": "17" } }) : undefined));
    const r2 = await deliver(e, [jobs[0]!.msg]);
    expect(r2.delays).toEqual({ [jobs[0]!.msg.id]: 17 });
    const r3 = await deliver(batchEnv({ ANTHROPIC_BASE_URL: "http://127.0.0.1:9" }), [jobs[1]!.msg]);
    expect(r3.retryMessages).toEqual([{ msgId: jobs[1]!.msg.id }]);
    for (const j of jobs) expect(await jobRecord(j.id)).toBeNull();
    // A later delivery goes through.
    restoreFetch();
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
    const { submitDelivery } = await import("../../src/lib/batch/submit");
    const { readConfig } = await import("../../src/lib/config");
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
      payer: async () => undefined,
    };
    const calls = watchBatchCalls();
    const batch = createMessageBatch(QUEUE, [a.msg]);
    await submitDelivery(batch.messages, e as any, readConfig(e), {}, { budget });
    expect(parked).toEqual([a.id]);
    expect(calls).toEqual([]);
  });
});

describe("batch mode end to end through the real queue", () => {
  it("POST /jobs -> consumer -> submitted -> cron -> done", async () => {
    expect((env as unknown as Record<string, unknown>).MODEL_MODE).toBe("batch");
    const t = newToken();
    const res = await exports.default.fetch(postJson("/jobs", { inputs: [`e2e 1 ${t}`, `e2e 2 ${t}`] }));
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
