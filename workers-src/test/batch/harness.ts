// Shared by test/batch/*.test.ts: async-pipeline in batch mode
// (MODEL_MODE = "batch", lib/batch/): the consumer submits one Message Batch
// per delivery, the cron poller applies the results; against the stand-in's
// Message Batches API (its knobs set per test through POST
// /_stand-in/batch-options). The files run in their own vitest project
// (async-pipeline-batch) with its own stand-in, so the knobs touch no other
// test; each file's afterEach calls resetBatchMode.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { JobMessage } from "../../src/env";
import { batchKey, type BatchRecord } from "../../src/lib/batch/record";
import { newJobId } from "../../src/lib/jobid";
import { createWorker } from "../../src/patterns/async-pipeline";
import { eventually, jobRecord, keepingQueue, newToken, onBatchCalls, PIPELINE_QUEUE, runQueue, testEnv, type TestEnv } from "../helpers";

export const worker = createWorker({});
export const QUEUE = PIPELINE_QUEUE;

/** The knobs of the stand-in's Message Batches API (a POST replaces them all). */
export interface Knobs {
  delayMs?: number;
  cancelDelayMs?: number;
  expiryMs?: number;
  errors?: { rate?: number; every?: number; match?: string };
  errorType?: string;
  expire?: { rate?: number; every?: number; match?: string };
}
export async function knobs(k: Knobs = {}): Promise<void> {
  const res = await fetch(`${env.ANTHROPIC_BASE_URL}/_stand-in/batch-options`, { method: "POST", body: JSON.stringify(k) });
  expect(res.status, await res.text()).toBe(200);
}
/**
 * Each file's afterEach: the stand-in's knobs back to none, fetch restored,
 * and no batch record left (the poller reads every one in the bucket: each
 * test starts with none).
 */
export async function resetBatchMode(): Promise<void> {
  await knobs();
  restoreFetch();
  const open = await env.OUTPUTS.list({ prefix: "batches/" });
  if (open.objects.length) await env.OUTPUTS.delete(open.objects.map((o) => o.key));
}

/** A batch-mode env (fresh PRODUCT) with overrides. */
// MODEL_MODE and MAX_RETRIES are not in the generated Env until the Go side renders them.
export const batchEnv = (overrides: Record<string, unknown> = {}) =>
  testEnv({ MODEL_MODE: "batch", MAX_RETRIES: "1", RETRY_DELAY_SECONDS: "0", ...overrides } as Partial<Record<keyof TestEnv, unknown>>);

/** A job as POST /jobs makes it and its queue message. */
export async function job(e: TestEnv, input = `batch ${newToken()}`, batchAttempts?: number) {
  const id = await newJobId(e);
  const body: JobMessage = { job_id: id, input };
  if (batchAttempts !== undefined) body.batch_attempts = batchAttempts;
  return { id, input, msg: { id: `msg-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body } };
}

/** Runs the queue handler on a batch; returns the ack/retry result, with each retry's delay. */
export const deliver = (e: TestEnv, messages: ServiceBindingQueueMessage<unknown>[]) => runQueue(worker, QUEUE, messages, e);

/** Runs the scheduled handler (the poller) once. */
export async function poll(e: TestEnv): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), e, ctx);
  await waitOnExecutionContext(ctx);
}

/** A JOB_QUEUE that keeps what is sent. */
export const recordingQueue = () => keepingQueue<JobMessage>();

/** An R2 bucket over the project's that counts calls and can fail some. */
export function countingBucket(failPut?: (key: string) => boolean, failDelete = false) {
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

let undoFetch: (() => void) | undefined;
/** Undoes watchBatchCalls (a no-op when nothing is installed). */
export function restoreFetch(): void {
  undoFetch?.();
  undoFetch = undefined;
}

/** The Message Batches API calls made while it is installed, by route; `fail` can answer some itself. */
export function watchBatchCalls(fail?: (method: string, path: string) => Response | undefined) {
  const calls: string[] = [];
  undoFetch = onBatchCalls((route, method, path) => (calls.push(route), fail?.(method, path)));
  return calls;
}

export async function batchRecord(id: string): Promise<BatchRecord | null> {
  const o = await env.OUTPUTS.get(batchKey(id));
  return o ? ((await o.json()) as BatchRecord) : null;
}

export async function retrieve(id: string): Promise<Record<string, any>> {
  const res = await fetch(`${env.ANTHROPIC_BASE_URL}/v1/messages/batches/${id}`, { headers: { "x-api-key": "k", "anthropic-version": "2023-06-01" } });
  return (await res.json()) as Record<string, any>;
}

/** Polls until the job's record is in one of the states. */
export async function pollUntil(e: TestEnv, id: string, states: string[], timeoutMs = 10_000): Promise<Record<string, any>> {
  return eventually(async () => {
    await poll(e);
    const r = await jobRecord(id);
    return r && states.includes(r.status) ? r : undefined;
  }, timeoutMs);
}
