// Shared by test/async-pipeline/*.test.ts: async-pipeline, POST /jobs ->
// queue -> consumer -> one record in R2 (jobs/<id>.json); failures retry,
// then the DLQ.
import { env, exports } from "cloudflare:workers";
import type { JobMessage } from "../../src/env";
import { newJobId } from "../../src/lib/jobid";
import { createWorker } from "../../src/patterns/async-pipeline";
import { eventually, jobRecord, keepingQueue, runQueue, testEnv } from "../helpers";

export const worker = createWorker({});
export { PIPELINE_DLQ as DLQ, PIPELINE_QUEUE as QUEUE } from "../helpers";

/** The job's record (jobs/<id>.json), or null. */
export const status = jobRecord;

/**
 * A job as POST /jobs makes it (a signed id, no record) and a queue message
 * for it; with `extra`, also a queued record holding it (as a failed attempt
 * leaves one). `at` backdates the id.
 */
export async function seed(input: string, extra: Record<string, unknown> = {}, attempts = 1, at = Date.now()) {
  const id = await newJobId(env, at);
  if (Object.keys(extra).length > 0) {
    const now = new Date().toISOString();
    await env.OUTPUTS.put(`jobs/${id}.json`, JSON.stringify({ job_id: id, status: "queued", created_at: now, updated_at: now, ...extra }));
  }
  return { id, msg: { id: `msg-${id}`, timestamp: new Date(), attempts, body: { job_id: id, input } as JobMessage } };
}

/** Runs the queue handler on a batch; returns the ack/retry result, with each retry's delay. */
export const runBatch = (queue: string, messages: ServiceBindingQueueMessage<unknown>[], e = testEnv()) => runQueue(worker, queue, messages, e);

/** A JOB_QUEUE that records what is sent (and can fail). */
export const recordingQueue = (fail = false) => keepingQueue<JobMessage>(fail);

/** Polls GET /jobs/:id through the Worker until the status leaves "queued". */
export async function settled(id: string, timeoutMs = 15_000): Promise<Record<string, any>> {
  return eventually(async () => {
    const v = (await (await exports.default.fetch(`https://worker.test/jobs/${id}`)).json()) as Record<string, any>;
    return v.status === "queued" || v.status === "running" ? undefined : v;
  }, timeoutMs);
}
