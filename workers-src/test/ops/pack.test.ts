// The ops of packed jobs (lib/pack.ts, patterns/async-pipeline/pack.ts),
// measured in workerd like test/ops/async-pipeline.test.ts: the counts must
// equal OPS_PER_EVENT's post_many, post_many_job, pack_message,
// packed_delivery, packed_attempt_failed, packed_sibling_read and
// packed_dead and pack_pass_on, which the Go cost model prices
// (internal/contract/ops.go).
// The test stack's consumer has max_retries = 1.
import { afterEach, describe, expect, it } from "vitest";
import { OPS_PER_EVENT } from "../../src/contract.gen";
import type { PackMessage, QueueBody } from "../../src/env";
import { newJobId } from "../../src/lib/jobid";
import { jobsOf, PACK_MAX_JOBS } from "../../src/lib/pack";
import { createWorker as asyncPipeline } from "../../src/patterns/async-pipeline";
import { deliveryMaxJobs, hasSpendStore } from "../../src/patterns/async-pipeline/pack";
import { keepingQueue, newToken, postJson, standin } from "../helpers";
import { expected, type Counts } from "../ops";
import { meter, record, restoreMeters } from "./harness";

afterEach(restoreMeters);

const worker = asyncPipeline({});
const ops = OPS_PER_EVENT["async-pipeline"];
const QUEUE = "ap-test-workers-test-jobs";
const times = <T>(n: number, v: T) => Array.from({ length: n }, () => v);
const delivered = (body: QueueBody, attempts = 1, id = `msg-${crypto.randomUUID()}`) => ({ id, timestamp: new Date(), attempts, body });
/** The counts of several meters added up (an event's ops may fall in more than one invocation). */
const sum = (...cs: Counts[]) => expected(...cs);
/** A pack of jobs with these inputs, as POST /jobs makes it. */
async function packOf(e: Parameters<typeof newJobId>[0], inputs: string[]): Promise<PackMessage> {
  return { jobs: await Promise.all(inputs.map(async (input) => ({ job_id: await newJobId(e), input }))) };
}

describe("async-pipeline ops of packed jobs", () => {
  it("post_many, post_many_job, pack_message, packed_delivery: ten jobs in one POST travel in one message", async () => {
    const t = newToken();
    const q = keepingQueue<QueueBody>();
    const post = meter({ JOB_QUEUE: q.queue });
    const res = await post.invoke(worker, postJson("/jobs", { inputs: Array.from({ length: PACK_MAX_JOBS }, (_, i) => `ops pack ${i} ${t}`) }));
    expect(res.status).toBe(202);
    expect(q.sent).toHaveLength(1);
    const { job_ids } = (await res.json()) as { job_ids: string[] };
    expect(jobsOf(q.sent[0]!.body).map((j) => j.job_id)).toEqual(job_ids);

    const d = meter({ PRODUCT: post.env.PRODUCT });
    const msg = delivered(q.sent[0]!.body);
    expect((await d.deliver(worker, QUEUE, [msg])).explicitAcks).toEqual([msg.id]);
    await d.countModel(t);
    expect(sum(post.counts, d.counts)).toEqual(
      expected(ops.post_many, ...times(PACK_MAX_JOBS, ops.post_many_job), ops.pack_message, ops.consumer_batch, ...times(PACK_MAX_JOBS, ops.packed_delivery)),
    );
    for (const id of job_ids) expect(await record(id)).toMatchObject({ status: "done" });
  });

  it("packed_attempt_failed and packed_sibling_read: a failed job retries the message, whose redelivery reads the done one and runs only the failed", async () => {
    const [ok, flaky] = [newToken(), newToken()];
    await standin.script(flaky, [{ status: 503, retryAfter: "10", times: 1 }]);
    const first = meter();
    const body = await packOf(first.env, [`ops ok ${ok}`, `ops flaky ${flaky}`]);
    const r1 = await first.deliver(worker, QUEUE, [delivered(body, 1, "p1")]);
    expect(r1.retryMessages.map((m) => m.msgId)).toEqual(["p1"]);
    const second = meter({ PRODUCT: first.env.PRODUCT });
    const r2 = await second.deliver(worker, QUEUE, [delivered(body, 2, "p1")]);
    expect(r2.explicitAcks).toEqual(["p1"]);
    await second.countModel(ok);
    await second.countModel(flaky);
    // The message's write is the POST's (pack_message counts it).
    const measured = sum(first.counts, second.counts, { "queue.write": 1 } as Counts);
    expect(measured).toEqual(
      expected(ops.pack_message, ops.consumer_batch, ops.consumer_batch, ops.packed_delivery, ops.packed_delivery, ops.packed_attempt_failed, ops.packed_sibling_read),
    );
    expect(await record(body.jobs[1]!.job_id)).toMatchObject({ status: "done", attempts: 2 });
  });

  it("packed_dead: a job out of its own attempts is recorded dead alone, with no queue op of its own", async () => {
    const [ok, bad] = [newToken(), newToken()];
    await standin.script(bad, [{ status: 503, retryAfter: "10", times: -1 }]);
    const m = meter();
    const body = await packOf(m.env, [`ops ok ${ok}`, `ops bad ${bad}`]);
    body.jobs[1] = { ...body.jobs[1]!, attempts: 1 };
    const r = await m.deliver(worker, QUEUE, [delivered(body, 1, "p2")]);
    expect(r.explicitAcks).toEqual(["p2"]);
    await m.countModel(ok);
    await m.countModel(bad);
    expect(sum(m.counts, { "queue.write": 1 } as Counts)).toEqual(expected(ops.pack_message, ops.consumer_batch, ops.packed_delivery, ops.packed_dead));
    expect(await record(body.jobs[1]!.job_id)).toMatchObject({ status: "dead", attempts: 2, input: `ops bad ${bad}` });
  });

  it("pack_pass_on: a delivery of more full packs than one invocation runs sends the last on, and its next delivery runs it", async () => {
    const q = keepingQueue<QueueBody>();
    const first = meter({ JOB_QUEUE: q.queue });
    // One full pack more than the delivery runs (1 with a spend store, 2 without).
    const runs = Math.floor(deliveryMaxJobs(hasSpendStore(first.env)) / PACK_MAX_JOBS);
    const tokens = times(runs + 1, null).map(() => newToken());
    const bodies = await Promise.all(tokens.map((t) => packOf(first.env, times(PACK_MAX_JOBS, null).map((_, i) => `ops pass ${i} ${t}`))));
    const msgs = bodies.map((b) => delivered(b));
    expect((await first.deliver(worker, QUEUE, msgs)).explicitAcks.sort()).toEqual(msgs.map((m) => m.id).sort());
    expect(q.sent.map((s) => s.body)).toEqual([bodies[runs]]);
    for (const t of tokens.slice(0, runs)) await first.countModel(t);
    const second = meter({ PRODUCT: first.env.PRODUCT });
    const again = delivered(q.sent[0]!.body);
    expect((await second.deliver(worker, QUEUE, [again])).explicitAcks).toEqual([again.id]);
    await second.countModel(tokens[runs]!);
    // The packs' own writes are their POSTs' (pack_message counts them).
    const measured = sum(first.counts, second.counts, { "queue.write": runs + 1 } as Counts);
    expect(measured).toEqual(
      expected(...times(runs + 1, ops.pack_message), ops.consumer_batch, ops.consumer_batch, ...times((runs + 1) * PACK_MAX_JOBS, ops.packed_delivery), ops.pack_pass_on),
    );
    for (const b of bodies) for (const j of b.jobs) expect(await record(j.job_id)).toMatchObject({ status: "done" });
  });
});
