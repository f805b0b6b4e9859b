// Applying an ended Message Batch's results to its jobs (the poller, poll.ts):
// succeeded -> the job's record done with the shaped result and usage, the
// usage data point (mode "batch"), the spend (one record per payer of the
// batch, settle.ts: on the customer's payer with its budget, payers.ts: its
// alerts as on the realtime paths); errored,
// expired or canceled -> sent again while its submissions stay within
// MAX_RETRIES + 1 (the message says how many it had), else the dead record
// with the input, as the dead-letter consumer writes it; a request the API
// refused as invalid (invalid_request_error) fails at once, as in realtime
// mode. Every record
// write is conditional on the record being what was read (R2 onlyIf etag),
// and a job whose record no longer names this batch as submitted is skipped,
// so the poller never overwrites a newer state and running it twice writes
// nothing twice.
import type { Hooks } from "../../hooks";
import type { Config } from "../config";
import { holdJob, isHeld } from "../held";
import { isTerminal, jobRecord, payerFields, readJobTagged, writeJobIf, type JobRecord } from "../jobs";
import { sendAll } from "../queue";
import type { BatchResult } from "./api";
import type { BatchBudget } from "./guard";
import type { Payers } from "./payers";
import { type BatchEnv, type BatchJob, type BatchRecord } from "./record";
import { Settlement, type Held, type Settling, type SpendRoom } from "./settle";

export type { SpendRoom } from "./settle";

export interface PollSummary {
  /** batch records listed */
  open: number;
  /** batches retrieved */
  retrieved: number;
  /** ended batches whose results were applied and record deleted */
  finished: number;
  /** jobs written done, sent again, dead or failed */
  done: number;
  retried: number;
  dead: number;
  failed: number;
  /** results skipped: the job's record no longer names the batch */
  skipped: number;
  /** batches left for the next run (the per-invocation bounds) */
  deferred: number;
}

/** One batch's application: what it needs and what it has done so far. */
interface Apply extends Settling {
  sum: PollSummary;
  writes: Array<Promise<void>>;
}

/** Why a request did not succeed, for the job's record. */
function failureOf(result: BatchResult | undefined, batchId: string): { error: string; retryable: boolean } {
  if (!result) return { error: `batch ${batchId} ended without a result for the job`, retryable: true };
  if (result.type === "errored") {
    const inner = result.error?.error ?? result.error;
    const type = (inner as { type?: string } | undefined)?.type ?? "api_error";
    const message = (inner as { message?: string } | undefined)?.message ?? "";
    return { error: `batch request errored: ${type}${message ? `: ${message.slice(0, 300)}` : ""}`, retryable: type !== "invalid_request_error" };
  }
  return { error: `batch request ${result.type} (batch ${batchId})`, retryable: true };
}

/**
 * Whether this batch holds the job: its record names the batch as submitted,
 * or it has none (or a pre-batch one) because its submitted put failed.
 */
function heldBy(rec: JobRecord | null, batchId: string): boolean {
  if (rec === null) return true;
  if (rec.status === "submitted") return rec.batch_id === batchId;
  return rec.batch_id === undefined && !isTerminal(rec) && rec.status !== "budget_exhausted";
}

/** Puts rec over what was read, counting it under `counter` (or as skipped when the record changed meanwhile). */
function putCounted(a: Apply, h: Held, rec: JobRecord, counter: "failed" | "dead" | "retried"): void {
  a.writes.push(
    writeJobIf(a.env.OUTPUTS, rec, h.etag)
      .then(async (ok) => {
        if (ok && isHeld(rec)) await holdJob(a.env.OUTPUTS, rec); // dead: kept 31 days under held/
        if (ok) a.sum[counter]++;
        else a.sum.skipped++;
      })
      .catch((err) => {
        a.complete = false;
        console.error(`job ${h.job.job_id}:`, err);
      }),
  );
}

/**
 * The failed requests to send again: sent first, then their records (queued,
 * from this batch: a stale duplicate of an earlier message is then acked
 * unsubmitted). A record written queued with no message behind it would lose
 * the job; a message with no record behind it is at worst a duplicate the
 * consumer acks.
 */
async function resend(a: Apply, jobs: Array<Held & { error: string }>): Promise<void> {
  if (jobs.length === 0) return;
  const messages = jobs.map(({ job }) => ({ job_id: job.job_id, input: job.input, batch_attempts: job.attempt, ...payerFields(job) }));
  const { error } = await sendAll(a.env.JOB_QUEUE, messages, { delaySeconds: a.cfg.retryDelaySeconds });
  if (error !== undefined) {
    a.complete = false;
    console.error(`message batch ${a.batchId}: sending ${jobs.length} jobs again failed:`, error);
    return;
  }
  for (const h of jobs) {
    putCounted(a, h, jobRecord(h.job.job_id, { status: "queued", error: h.error, attempts: h.job.attempt, batch_id: a.batchId }, h.rec), "retried");
  }
}

async function readAll(a: Apply, jobs: BatchJob[]): Promise<Array<Held | null>> {
  return Promise.all(
    jobs.map(async (job) => {
      try {
        return { job, ...(await readJobTagged(a.env.OUTPUTS, job.job_id)) };
      } catch (err) {
        console.error(`job ${job.job_id}: reading its record failed:`, err);
        a.complete = false;
        return null;
      }
    }),
  );
}

/**
 * Applies an ended batch's results to its jobs: the succeeded ones of at
 * most `room.records` payers (each payer's spend record taken from it; the
 * jobs of the payers past it wait for a later run). Returns whether every
 * job was settled (then the batch record may go).
 */
export async function applyResults(
  env: BatchEnv,
  cfg: Config,
  hooks: Hooks,
  budget: BatchBudget,
  payers: Payers,
  record: BatchRecord,
  results: Map<string, BatchResult>,
  sum: PollSummary,
  room: SpendRoom = { records: Infinity },
): Promise<boolean> {
  const a: Apply = { env, cfg, hooks, budget, payers, batchId: record.batch_id, sum, complete: true, writes: [] };
  const settled = new Settlement(a, room);
  const again: Array<Held & { error: string }> = [];
  for (const h of await readAll(a, record.jobs)) {
    if (h === null) continue;
    if (!heldBy(h.rec, a.batchId)) {
      sum.skipped++;
      continue;
    }
    const { job, rec } = h;
    const result = results.get(job.job_id);
    if (result?.type === "succeeded") {
      // Past the run's D1 room the job waits for the next run (the record stays: not complete).
      if (!settled.add(h, result.message)) a.complete = false;
      continue;
    }
    const { error, retryable } = failureOf(result, a.batchId);
    if (!retryable) putCounted(a, h, jobRecord(job.job_id, { status: "failed", error, attempts: job.attempt, batch_id: a.batchId }, rec), "failed");
    else if (job.attempt <= cfg.maxRetries) again.push({ ...h, error });
    else putCounted(a, h, jobRecord(job.job_id, { status: "dead", error, attempts: job.attempt, input: job.input, batch_id: a.batchId }, rec), "dead");
  }
  const settling = settled.run();
  await resend(a, again);
  await Promise.all([...a.writes, settling]);
  return a.complete;
}
