// The queue consumer in batch mode (submitDelivery): each delivered queue
// batch becomes ONE Message Batch (custom_id = job id), in these steps:
//
//   1. read each job's record (one get per job): a job already submitted or
//      ended, parked, or a stale duplicate of a message the poller has since
//      sent again, is acked and not submitted again;
//   2. build each request with the product's hooks, ask the spend guard once
//      (a spent budget parks the jobs instead), create the batch (one POST
//      /v1/messages/batches);
//   3. put batches/<batch_id>.json (the jobs with their inputs and attempt
//      numbers): this one put is the durable commit of the submission, tried
//      three times. If it cannot be written the batch is canceled (best
//      effort: requests not yet processed are not billed) and the messages
//      retried;
//   4. put each job's record `submitted` with the batch id (a poll shows
//      {"status":"submitted","batch_id":...}); a put that fails is logged,
//      not retried by the queue: the batch record already holds the job;
//   5. ack.
//
// The residual double-submit window (the Batches API has no idempotency
// key): the create succeeded at Anthropic but its batch record was not
// written: the Worker died between the create's answer and the put, the put
// failed three times in a row (and the cancel failed too), or the create's
// answer was lost on the way back (a timeout or a cut connection after
// Anthropic created it). The message is then delivered again and its jobs go
// into a second batch; the first one's results are never applied, as no
// record names it, so the result stays consistent, but those jobs are paid
// twice. Outside that window a redelivery finds the batch record's job
// records `submitted` (or the batch record, for a job whose own put failed)
// and submits nothing.
import type { JobMessage } from "../../env";
import { buildRequest, type Hooks } from "../../hooks";
import { ModelError } from "../anthropic";
import type { Config } from "../config";
import { describe } from "../errors";
import { customerField, isJobMessage, isTerminal, jobRecord, payerFields, putRetrying, readJobTagged, writeJob, writeJobRetrying, type JobRecord } from "../jobs";
import { retryDelay } from "../queue";
import { UNAVAILABLE_RETRY_AFTER } from "../spend/errors";
import type { MessagesRequest } from "../types";
import { cancelBatch, createBatch, type MessageBatch } from "./api";
import { budgetOf, type BatchBudget, type BatchOptions } from "./guard";
import { batchKey, PATTERN, priorAttempts, type BatchEnv, type BatchJob, type BatchRecord } from "./record";

/**
 * Most jobs in one Message Batch. A delivery held at most 100 jobs before
 * jobs were packed (max_batch_size is at most 100 messages); with packs of
 * ten it may hold 1,000, and the poller applies an ended batch only when its
 * 3n + 3 + k binding calls (k customers' key reads, k <= n) fit
 * POLL_MAX_BINDING_OPS (800, poll.ts): a delivery's jobs go into batches of
 * at most 100.
 */
export const BATCH_MAX_JOBS = 100;

/** How long the batch record's and the job records' puts may keep trying (ms). */
const PUT_DEADLINE_MS = 10_000;

interface Pending {
  msg: Message<unknown>;
  body: JobMessage;
  prev: JobRecord | null;
}

interface Built extends Pending {
  job: BatchJob;
  request: { custom_id: string; params: MessagesRequest };
}

/**
 * Whether a job's record says it needs no submission for this message: it
 * ended, it is submitted (in a batch the poller will read), it is parked by
 * the budget guard, or the message is a stale duplicate (the poller has
 * since sent the job again after a later submission: the record, written
 * from a batch, counts more submissions than the message).
 */
function settledFor(rec: JobRecord | null, body: JobMessage): string | undefined {
  if (!rec) return undefined;
  if (isTerminal(rec)) return rec.status;
  if (rec.status === "submitted") return `submitted in ${rec.batch_id ?? "a batch"}`;
  if (rec.status === "budget_exhausted") return "parked";
  if (rec.status === "queued" && rec.batch_id !== undefined && priorAttempts(body) < (rec.attempts ?? 0)) return "a stale duplicate";
  return undefined;
}

/** The job messages of the delivery, each job once; the rest acked. */
function jobMessages(messages: readonly Message<unknown>[]): Array<{ msg: Message<unknown>; body: JobMessage }> {
  const seen = new Set<string>();
  const out: Array<{ msg: Message<unknown>; body: JobMessage }> = [];
  for (const msg of messages) {
    if (!isJobMessage(msg.body)) {
      console.error(`message ${msg.id}: not a job message; dropped`);
      msg.ack();
    } else if (seen.has(msg.body.job_id)) {
      msg.ack(); // the same job twice in one delivery: one submission
    } else {
      seen.add(msg.body.job_id);
      out.push({ msg, body: msg.body });
    }
  }
  return out;
}

/** Step 1: the records; what is submitted or over needs nothing (acked). */
async function unsettled(env: BatchEnv, cfg: Config, candidates: Array<{ msg: Message<unknown>; body: JobMessage }>): Promise<Pending[]> {
  const todo: Pending[] = [];
  await Promise.all(
    candidates.map(async ({ msg, body }) => {
      try {
        const { rec } = await readJobTagged(env.OUTPUTS, body.job_id);
        if (settledFor(rec, body) !== undefined) {
          msg.ack(); // delivered again: do not pay for it twice
          return;
        }
        todo.push({ msg, body, prev: rec });
      } catch (err) {
        console.error(`job ${body.job_id}: reading its record failed:`, err);
        msg.retry({ delaySeconds: cfg.retryDelaySeconds });
      }
    }),
  );
  return todo;
}

/** Step 2a: each job's request (the product's hooks); a job whose hook throws is retried. */
async function buildAll(env: BatchEnv, cfg: Config, hooks: Hooks, todo: Pending[]): Promise<Built[]> {
  const built: Built[] = [];
  for (const t of todo) {
    try {
      const params = await buildRequest(hooks, t.body.input, env, cfg, PATTERN);
      const job = { job_id: t.body.job_id, input: t.body.input, attempt: priorAttempts(t.body) + 1, ...payerFields(t.body) };
      built.push({ ...t, job, request: { custom_id: t.body.job_id, params } });
    } catch (err) {
      console.error(`job ${t.body.job_id}: buildRequest failed:`, err);
      t.msg.retry({ delaySeconds: cfg.retryDelaySeconds });
    }
  }
  return built;
}

/**
 * Step 2b: one budget check per customer of the delivery (the product's and
 * the stack's budgets read with each; one for the jobs without a customer),
 * before the batch (its cost is known only at the end). Returns the jobs to
 * submit: a customer whose budget (or the product's) is spent has its jobs
 * parked; a check that failed has its jobs retried.
 */
async function budgetAllows(env: BatchEnv, cfg: Config, budget: BatchBudget, built: Built[]): Promise<Built[]> {
  const groups = new Map<string, Built[]>();
  for (const b of built) {
    const c = b.job.customer ?? "";
    groups.set(c, [...(groups.get(c) ?? []), b]);
  }
  const out: Built[] = [];
  for (const [customer, group] of groups) {
    try {
      await budget.check(env, cfg, group.map((b) => b.request.params.model), customer ? { customer, key_hash: group[0]!.job.key_hash ?? "" } : undefined);
      out.push(...group);
    } catch (err) {
      await refused(env, cfg, budget, group, err);
    }
  }
  return out;
}

/** The jobs of a refused check: parked when the budget is spent, else retried. */
async function refused(env: BatchEnv, cfg: Config, budget: BatchBudget, group: Built[], err: unknown): Promise<void> {
  if (!budget.exhausted(err)) {
    console.error("the budget check failed; retrying the jobs:", err);
    for (const b of group) b.msg.retry({ delaySeconds: UNAVAILABLE_RETRY_AFTER });
    return;
  }
  try {
    await budget.park(env, cfg, group.map((b) => ({ job_id: b.job.job_id, input: b.job.input, prev: b.prev, error: describe(err), ...payerFields(b.job) })));
    for (const b of group) b.msg.ack();
  } catch (parkErr) {
    console.error("parking the jobs failed; retrying them:", parkErr);
    for (const b of group) b.msg.retry({ delaySeconds: cfg.retryDelaySeconds });
  }
}

/** Step 2c: the one create. Null when it failed: the jobs are failed (the API refused the batch) or retried. */
async function create(env: BatchEnv, cfg: Config, built: Built[]): Promise<MessageBatch | null> {
  try {
    return await createBatch(env, cfg, built.map((b) => b.request));
  } catch (err) {
    if (err instanceof ModelError && !err.retryable) {
      // The API refused the batch itself: retrying cannot help.
      const error = describe(err);
      await Promise.all(
        built.map((b) =>
          writeJob(env.OUTPUTS, jobRecord(b.job.job_id, { status: "failed", error, attempts: b.job.attempt }, b.prev))
            .then(() => b.msg.ack())
            .catch((e) => {
              console.error(`job ${b.job.job_id}:`, e);
              b.msg.retry({ delaySeconds: cfg.retryDelaySeconds });
            }),
        ),
      );
      return null;
    }
    console.error("creating the message batch failed; retrying the delivery:", err);
    const after = err instanceof ModelError && err.retryAfter !== undefined ? err.retryAfter : cfg.retryDelaySeconds;
    for (const b of built) b.msg.retry({ delaySeconds: retryDelay(after) });
    return null;
  }
}

/** Step 3: the batch record, the durable commit. False when it could not be written (the batch canceled, the jobs retried). */
async function commit(env: BatchEnv, cfg: Config, batch: MessageBatch, built: Built[]): Promise<boolean> {
  const jobs = built.map((b) => b.job);
  const record: BatchRecord = { batch_id: batch.id, product: cfg.product, created_at: new Date().toISOString(), jobs };
  try {
    await putRetrying(
      () =>
        env.OUTPUTS.put(batchKey(batch.id), JSON.stringify(record), {
          httpMetadata: { contentType: "application/json" },
          // customers: the poller's bound on the key reads applying it takes (poll.ts).
          customMetadata: { jobs: String(jobs.length), customers: String(new Set(jobs.flatMap((j) => (j.customer ? [j.customer] : []))).size) },
        }),
      Date.now() + PUT_DEADLINE_MS,
    );
    return true;
  } catch (err) {
    console.error(`message batch ${batch.id}: its record could not be written; canceling it and retrying the delivery:`, err);
    await cancelBatch(env, cfg, batch.id).catch((e) => console.error(`message batch ${batch.id}: cancel failed (its jobs may be paid twice):`, e));
    for (const b of built) b.msg.retry({ delaySeconds: cfg.retryDelaySeconds });
    return false;
  }
}

/** Steps 4 and 5: each job's record submitted, then its ack. */
async function markSubmitted(env: BatchEnv, batch: MessageBatch, built: Built[]): Promise<void> {
  const deadline = Date.now() + PUT_DEADLINE_MS;
  await Promise.all(
    built.map(async (b) => {
      const who = customerField(b.job);
      const rec = jobRecord(b.job.job_id, { status: "submitted", batch_id: batch.id, attempts: b.job.attempt, ...who }, b.prev);
      await writeJobRetrying(env.OUTPUTS, rec, deadline).catch((e) =>
        console.error(`job ${b.job.job_id}: its submitted record could not be written (the batch record holds it):`, e),
      );
      b.msg.ack();
    }),
  );
}

/**
 * The queue consumer in batch mode: one Message Batch for the delivered
 * messages that need one (see the file's comment for the steps and the
 * order of the writes).
 */
export async function submitDelivery(
  messages: readonly Message<unknown>[],
  env: BatchEnv,
  cfg: Config,
  hooks: Hooks,
  opts: BatchOptions = {},
): Promise<void> {
  const todo = await unsettled(env, cfg, jobMessages(messages));
  if (todo.length === 0) return;
  const built = await buildAll(env, cfg, hooks, todo);
  if (built.length === 0) return;
  const allowed = await budgetAllows(env, cfg, budgetOf(opts), built);
  if (allowed.length === 0) return;
  const batch = await create(env, cfg, allowed);
  if (batch && (await commit(env, cfg, batch, allowed))) await markSubmitted(env, batch, allowed);
}

/** submitDelivery on at most BATCH_MAX_JOBS messages at a time: one Message Batch each. */
export async function submitInBatches(messages: readonly Message<unknown>[], env: BatchEnv, cfg: Config, hooks: Hooks): Promise<void> {
  for (let i = 0; i < messages.length; i += BATCH_MAX_JOBS) await submitDelivery(messages.slice(i, i + BATCH_MAX_JOBS), env, cfg, hooks);
}
