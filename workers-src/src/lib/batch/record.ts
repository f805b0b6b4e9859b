// Batch mode of the async pipeline (MODEL_MODE = "batch"): the jobs go to
// Anthropic's Message Batches API, which bills half of every token price and
// answers in minutes to hours (at most 24 h) instead of seconds.
//
//   submit.ts  the queue consumer: one Message Batch per delivery
//   poll.ts    the cron poller: retrieves the open batches, applies the
//              results of those that ended (apply.ts)
//   api.ts     the Message Batches API
//   guard.ts   the spend guard's part (BatchBudget)
//
// This file: what both sides share, the batch record in R2.
import type { BaseEnv, JobMessage } from "../../env";

export const PATTERN = "async-pipeline";

/** The env batch mode needs: the pattern's bindings (OUTPUTS, JOB_QUEUE, MODEL_USAGE) and the API key. */
export interface BatchEnv extends BaseEnv {
  JOB_QUEUE: Queue<JobMessage>;
}

/** One job of a submitted Message Batch. */
export interface BatchJob {
  job_id: string;
  input: string;
  /** which submission of the job this is (1 for the first) */
  attempt: number;
  /** a keyed product's job: its customer (its settled spend lands on the customer's row) and the hash of the key that sent it */
  customer?: string;
  key_hash?: string;
}

/** What batches/<batch_id>.json holds: the durable record of one submitted Message Batch. */
export interface BatchRecord {
  batch_id: string;
  product: string;
  created_at: string;
  jobs: BatchJob[];
}

export const BATCHES_PREFIX = "batches/";
export const batchKey = (id: string) => `${BATCHES_PREFIX}${id}.json`;

/** The submissions a job had before this message (0 for a new job). */
export function priorAttempts(body: JobMessage): number {
  const n = body.batch_attempts;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 0;
}

