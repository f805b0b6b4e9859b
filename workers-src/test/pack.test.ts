// Packed queue messages (lib/pack.ts, patterns/async-pipeline/pack.ts): jobs
// posted together travel in one message, and each still ends on its own.
// The test stack's consumer has max_retries = 1 (two deliveries a job).
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { JobMessage, PackMessage, QueueBody } from "../src/env";
import { newJobId } from "../src/lib/jobid";
import { jobsIn, jobsOf, PACK_MAX_BYTES, PACK_MAX_JOBS, packJobs } from "../src/lib/pack";
import { createWorker } from "../src/patterns/async-pipeline";
import { deliveryMaxJobs } from "../src/patterns/async-pipeline/pack";
import { eventually, jobRecord, keepingQueue, newToken, postJson, replyTo, runQueue, standin, testEnv } from "./helpers";

const worker = createWorker({});
const QUEUE = "ap-test-workers-test-jobs";
const DLQ = "ap-test-workers-test-jobs-dlq";
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).byteLength;
/** A retryable failure whose retry-after (10 s) is past the Worker's 5 s: one model call per delivery. */
const failing = (times: number) => [{ status: 503, retryAfter: "10", times }];

async function jobs(inputs: string[]): Promise<JobMessage[]> {
  return Promise.all(inputs.map(async (input) => ({ job_id: await newJobId(env), input })));
}

const pack = (js: JobMessage[], attempts = 1, id = `msg-${crypto.randomUUID()}`) => ({ id, timestamp: new Date(), attempts, body: { jobs: js } as PackMessage });

/** A JOB_QUEUE that keeps what is sent. */
const recordingQueue = () => keepingQueue<QueueBody>();

const runBatch = (queue: string, messages: ServiceBindingQueueMessage<unknown>[], e = testEnv()) => runQueue(worker, queue, messages, e);

describe("packJobs", () => {
  it("packs up to PACK_MAX_JOBS jobs a message, one job alone as a plain message", async () => {
    const js = await jobs(Array.from({ length: 23 }, (_, i) => `in ${i}`));
    const bodies = packJobs(js);
    expect(bodies.map((b) => jobsOf(b).length)).toEqual([10, 10, 3]);
    expect(bodies.flatMap(jobsOf)).toEqual(js);
    expect(packJobs(js.slice(0, 1))).toEqual([js[0]]);
    expect(jobsIn(bodies, 2)).toBe(20);
  });

  it("keeps each pack within one 64 KB billing unit; a job too big to share goes alone", async () => {
    const big = await jobs(Array.from({ length: 5 }, (_, i) => `${i} ${"x".repeat(20_000)}`));
    const huge = await jobs([`h ${"y".repeat(70_000)}`]);
    const bodies = packJobs([...big, ...huge]);
    for (const b of bodies.slice(0, -1)) expect(bytes(b)).toBeLessThanOrEqual(PACK_MAX_BYTES);
    expect(bodies.map((b) => jobsOf(b).length)).toEqual([3, 2, 1]);
    expect(bodies.at(-1)).toEqual(huge[0]); // alone, under the 128 KB message limit
    expect(bytes(bodies.at(-1))).toBeLessThan(128 * 1024);
  });
});

describe("a delivered pack", () => {
  it("acks when every job ends; each job's record and one model call each", async () => {
    const ts = [newToken(), newToken(), newToken()];
    const js = await jobs(ts.map((t) => `p ${t}`));
    const msg = pack(js);
    const r = await runBatch(QUEUE, [msg]);
    expect(r.explicitAcks).toEqual([msg.id]);
    for (const [i, j] of js.entries()) {
      expect(await jobRecord(j.job_id)).toMatchObject({ status: "done", result: await replyTo(`p ${ts[i]}`), attempts: 1 });
      expect(await standin.calls(ts[i]!)).toHaveLength(1);
    }
  });

  it("a failed job retries the message; its redelivery runs only that job, then dead-letters it alone", async () => {
    const [ok, bad] = [newToken(), newToken()];
    await standin.script(bad, failing(-1));
    const js = await jobs([`ok ${ok}`, `bad ${bad}`]);
    const e = testEnv({ RETRY_DELAY_SECONDS: "3" });
    const first = await runBatch(QUEUE, [pack(js, 1, "m1")], e);
    expect(first.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(first.delays.m1).toBe(10); // the longest delay asked: the model's retry-after
    expect(await jobRecord(js[0]!.job_id)).toMatchObject({ status: "done" });
    expect(await jobRecord(js[1]!.job_id)).toMatchObject({ status: "queued", attempts: 1 });

    // max_retries = 1: the second delivery is the failing job's last.
    const second = await runBatch(QUEUE, [pack(js, 2, "m1")], e);
    expect(second.explicitAcks).toEqual(["m1"]);
    expect(await standin.calls(ok)).toHaveLength(1); // the done job is not run again
    expect(await standin.calls(bad)).toHaveLength(2);
    expect(await jobRecord(js[0]!.job_id)).toMatchObject({ status: "done", attempts: 1 });
    expect(await jobRecord(js[1]!.job_id)).toMatchObject({ status: "dead", input: `bad ${bad}`, attempts: 2, error: expect.stringContaining("503") });
  });

  it("a job's attempts are its own: one that came with attempts dies at its own limit, not the message's", async () => {
    const [fresh, tired] = [newToken(), newToken()];
    await standin.script(fresh, failing(-1));
    await standin.script(tired, failing(-1));
    const [a, b] = await jobs([`fresh ${fresh}`, `tired ${tired}`]);
    const r = await runBatch(QUEUE, [pack([a!, { ...b!, attempts: 1 }], 1, "m2")]);
    expect(r.retryMessages.map((m) => m.msgId)).toEqual(["m2"]);
    expect(await jobRecord(a!.job_id)).toMatchObject({ status: "queued", attempts: 1 });
    expect(await jobRecord(b!.job_id)).toMatchObject({ status: "dead", attempts: 2, input: `tired ${tired}` });
  });

  it("when a job left (deferred on its own), the failed ones are sent on as a new pack with their attempts, and the message acked", async () => {
    const [ok, bad, wait] = [newToken(), newToken(), newToken()];
    await standin.script(bad, failing(-1));
    await standin.script(wait, [{ status: 429, retryAfter: "7", times: -1 }]);
    const js = await jobs([`ok ${ok}`, `bad ${bad}`, `wait ${wait}`]);
    const q = recordingQueue();
    const r = await runBatch(QUEUE, [pack(js, 1, "m3")], testEnv({ JOB_QUEUE: q.queue }));
    expect(r.explicitAcks).toEqual(["m3"]);
    expect(r.retryMessages).toEqual([]);
    expect(q.sent).toEqual([
      { body: { job_id: js[2]!.job_id, input: `wait ${wait}`, deferrals: 1 }, delaySeconds: 7 },
      { body: { job_id: js[1]!.job_id, input: `bad ${bad}`, attempts: 1 }, delaySeconds: 10 },
    ]);
    expect(await jobRecord(js[0]!.job_id)).toMatchObject({ status: "done" });
  });

  it("a job sent on alone with its attempts is dead-lettered by its own count", async () => {
    const t = newToken();
    await standin.script(t, failing(-1));
    const [j] = await jobs([`again ${t}`]);
    const msg = { id: "m4", timestamp: new Date(), attempts: 1, body: { ...j!, attempts: 1 } };
    const r = await runBatch(QUEUE, [msg]);
    expect(r.explicitAcks).toEqual(["m4"]);
    expect(await jobRecord(j!.job_id)).toMatchObject({ status: "dead", attempts: 2, input: `again ${t}` });
  });

  it("on the dead-letter queue (a pack whose invocations kept failing), each job without a final record is recorded dead with its input", async () => {
    const t = newToken();
    const js = await jobs([`d1 ${t}`, `d2 ${t}`]);
    const done = new Date().toISOString();
    await env.OUTPUTS.put(`jobs/${js[0]!.job_id}.json`, JSON.stringify({ job_id: js[0]!.job_id, status: "done", result: "r", created_at: done, updated_at: done }));
    const r = await runBatch(DLQ, [pack(js, 2, "m5")]);
    expect(r.explicitAcks).toEqual(["m5"]);
    expect(await jobRecord(js[0]!.job_id)).toMatchObject({ status: "done", result: "r" });
    expect(await jobRecord(js[1]!.job_id)).toMatchObject({ status: "dead", input: `d2 ${t}` });
  });
});

/** The test stack binds SPEND: a delivery runs the jobs that fit with a spend store. */
const DELIVERY_MAX_JOBS = deliveryMaxJobs(true);

describe("a delivery of more than deliveryMaxJobs jobs", () => {
  it("runs the first messages' jobs up to the bound and sends the rest on unchanged (their attempts carried), acking all", async () => {
    const t = newToken();
    const packs = await Promise.all(
      Array.from({ length: DELIVERY_MAX_JOBS / PACK_MAX_JOBS + 1 }, async (_, i) => pack(await jobs(Array.from({ length: PACK_MAX_JOBS }, (_, k) => `big ${i}.${k} ${t}`)), 2)),
    );
    const q = recordingQueue();
    const r = await runBatch(QUEUE, packs, testEnv({ JOB_QUEUE: q.queue }));
    expect(r.explicitAcks.sort()).toEqual(packs.map((p) => p.id).sort());
    expect(await standin.calls(t)).toHaveLength(DELIVERY_MAX_JOBS);
    const last = packs.at(-1)!.body.jobs;
    expect(q.sent).toEqual([{ body: { jobs: last.map((j) => ({ ...j, attempts: 1 })) }, delaySeconds: undefined }]);
    for (const j of last) expect(await jobRecord(j.job_id)).toBeNull();
  }, 30_000);
});

describe("packed jobs through the real queues", () => {
  it("ten jobs in one POST: one message; transient failures retry alone; one that keeps failing dies alone; one model call per success", async () => {
    const ts = Array.from({ length: 10 }, () => newToken());
    await standin.script(ts[1]!, failing(1));
    await standin.script(ts[2]!, failing(1));
    await standin.script(ts[3]!, failing(-1));
    const res = await exports.default.fetch(postJson("/jobs", { inputs: ts.map((t) => `pk ${t}`) }));
    expect(res.status).toBe(202);
    const { job_ids } = (await res.json()) as { job_ids: string[] };
    const finals = await eventually(async () => {
      const recs = await Promise.all(job_ids.map((id) => jobRecord(id)));
      return recs.every((r) => r && ["done", "dead"].includes(r.status)) ? recs : undefined;
    }, 30_000);
    for (const [i, rec] of finals.entries()) {
      if (i === 3) {
        expect(rec).toMatchObject({ status: "dead", input: `pk ${ts[3]}`, attempts: 2 });
        expect(await standin.calls(ts[3]!)).toHaveLength(2);
        continue;
      }
      expect(rec).toMatchObject({ status: "done", result: await replyTo(`pk ${ts[i]}`) });
      expect(await standin.calls(ts[i]!)).toHaveLength(i === 1 || i === 2 ? 2 : 1);
    }
  }, 40_000);
});
