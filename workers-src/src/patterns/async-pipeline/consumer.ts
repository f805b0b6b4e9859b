// The async pipeline's queue consumers in realtime mode: each message's job
// is read (a job already ended is acked), limited, run against the model and
// written done, or queued with the error before a retry. A rate-limited job
// is sent again with a delay rather than retried, so waiting never exhausts
// its retries. The dead-letter queue's consumer writes the record dead, with
// the input. A spent budget parks the job (lib/spend/parked.ts) and acks it.
// The model call is claimed first (lib/claim.ts): a delivery that finds the
// job claimed by another waits the claim out instead of calling.
import type { AsyncPipelineEnv, JobMessage } from "../../env";
import "../../features";
import { buildRequest, shapeResult, type Hooks } from "../../hooks";
import { logDetail } from "../../lib/anthropic";
import type { Config } from "../../lib/config";
import { describe } from "../../lib/errors";
import { createdAt } from "../../lib/jobid";
import { claimedFor, claimJob, readJobVersion, writeJobUnchanged } from "../../lib/claim";
import { customerField, isJobMessage, isTerminal, jobKey, jobRecord, payerFields, readJob, writeJob, type JobRecord } from "../../lib/jobs";
import { callModel, ModelError } from "../../lib/model";
import { retryDelay } from "../../lib/queue";
import { checkRateLimit } from "../../lib/ratelimit";
import { BudgetExhausted, BudgetUnavailable, UNAVAILABLE_RETRY_AFTER } from "../../lib/spend/errors";
import { MODEL_SPEND } from "../../lib/spend/guard";
import { NO_TICKET, payerFor, type Payer } from "../../lib/types";
import { payerByKey } from "../../lib/keys";
import { parkJob } from "../../lib/spend/parked";
import { holdJob, isHeld, releaseHeld } from "../../lib/held";
import { LIMITER_PACING, LimiterRefused } from "./pacing";

/** Who pays for the job's model call: its customer, with the budget its key's record gives now (undefined: a public product's job). */
async function payerOfMessage(env: AsyncPipelineEnv, m: JobMessage): Promise<Payer | undefined> {
  if (!m.customer) return undefined;
  return __ZEROCOST_KEYS__ ? payerByKey(env, m.customer, m.key_hash ?? "") : payerFor(m.customer);
}

export const PATTERN = "async-pipeline";

/** Model requests one delivery of a job may make (callModel's maxAttempts): a few quick retries; longer waits are the queue's. */
export const MODEL_ATTEMPTS = 2;

/**
 * How many times a job may wait out a rate limit by being sent again before
 * its waits become ordinary retries (which count toward max_retries).
 */
export const MAX_DEFERRALS = 100;

/**
 * How long a job with no record may be shown as queued: a message lives 24 h
 * in the queue (Queues' retention on the free plan), and a job is only sent
 * again (a deferral, which writes no record) while that keeps it inside this
 * window (see mayDefer). Past it, a job that never got a record expired in the
 * queue, or was never delivered. One more hour covers a delivery under way.
 */
export const QUEUED_WINDOW_MS = 25 * 3600_000;
/** Deferrals (which write nothing) must bring the job back before this age; later waits are retries, which write the record. */
const DEFER_HORIZON_MS = 24 * 3600_000;
/** Past the window, no record: the message expired, or the record did (retentionDays, a lifecycle rule on jobs/). */
export const EXPIRED_ERROR =
  "expired: no record of this job: it was not processed within 25 h of its creation (the queue keeps a message 24 h), or its record was deleted after the stack's retentionDays";

/** GET /jobs/:id of a job with no record. */
export const unrecorded = (ageMs: number) =>
  ageMs < QUEUED_WINDOW_MS ? { status: "queued" as const } : { status: "failed" as const, error: EXPIRED_ERROR };

/**
 * Seconds before a deferred job is tried again: the limit's retry-after (or
 * the retry delay), plus a spread so that the jobs one batch defers come back
 * one by one at the product's own rate (RATE_LIMIT_PER_MINUTE): the rank-th
 * of them rank * 60 / perMinute seconds later. Without the spread they would
 * all come back at once, and all but a few meet the limit again.
 */
export function deferralDelay(retryAfter: number | undefined, fallback: number, rank: number, perMinute: number): number {
  const base = Math.max(1, Math.ceil(retryAfter ?? fallback));
  return Math.min(43_200, base + Math.floor((Math.max(0, rank) * 60) / Math.max(1, perMinute)));
}

/** The deferrals a message has had (0 for a new job). */
function deferralsOf(body: JobMessage): number {
  const n = body.deferrals;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * Whether a deferral of `delaySeconds` keeps the job inside the window where
 * no record is needed (counted from its creation, or from its resume: a
 * resumed job has a queued record).
 */
function mayDefer(id: string, deferrals: number, delaySeconds: number, resumedAt?: number): boolean {
  const since = typeof resumedAt === "number" && Number.isFinite(resumedAt) ? Math.max(resumedAt, createdAt(id)) : createdAt(id);
  return deferrals < MAX_DEFERRALS && Date.now() + delaySeconds * 1000 - since < DEFER_HORIZON_MS;
}

const logWith = (id: string) => (err: unknown) => console.error(`job ${id}:`, err);

/**
 * How long a claim on a job's model call lasts: the call's deadline
 * (2 x MODEL_TIMEOUT_MS + 5 s, below) and 25 s more to shape and write the
 * result. A delivery still running past it has failed as far as the job knows.
 */
const leaseMs = (cfg: Config) => 2 * cfg.modelTimeoutMs + 30_000;

/** Another delivery holds the job's model call for `seconds` more. */
class ClaimedElsewhere extends Error {
  override name = "ClaimedElsewhere";
  constructor(readonly seconds: number) {
    super(`another delivery is running the job (its claim lasts ${seconds} s more)`);
  }
}

/** One delivery of a job message: what its failure needs. */
interface Delivery {
  msg: Message<unknown>;
  body: JobMessage;
  env: AsyncPipelineEnv;
  cfg: Config;
  prev: JobRecord | null;
  /** the etag of prev's object (null: none), for writes that must not overwrite another delivery's */
  etag: string | null;
  /** set once this delivery claimed the model call: the record before its claim */
  claimedOver?: { rec: JobRecord | null };
  /** this queue batch's deferrals so far, to spread them */
  deferred: Deferrals;
}

/** A queue batch's deferrals so far (to spread them), and the ids of the jobs deferred when a pack asks (left). */
export interface Deferrals {
  count: number;
  left?: Set<string>;
}

/**
 * A rate limit (the product's own or the model API's) or a spend store that
 * failed is back-pressure, not a failure of the job. Retrying would use up
 * max_retries and send a backlog to the dead-letter queue, so the job is sent
 * again with a delay and this delivery acked. No record is written: the job
 * stays queued by its id. False when it may not (or could not) be deferred.
 */
async function defer(d: Delivery, retryAfter: number | undefined, ownLimit = false): Promise<boolean> {
  const { job_id: id, input } = d.body;
  const deferrals = deferralsOf(d.body);
  // The product's own limiter: the isolate's groups (pacing.ts); else spread one by one.
  const delaySeconds = ownLimit
    ? LIMITER_PACING.delay(retryAfter ?? d.cfg.retryDelaySeconds, d.cfg.rateLimitPerMinute)
    : deferralDelay(retryAfter, d.cfg.retryDelaySeconds, d.deferred.count++, d.cfg.rateLimitPerMinute);
  const resumedAt = d.body.resumed_at;
  if (!mayDefer(id, deferrals, delaySeconds, resumedAt)) return false;
  try {
    const again: JobMessage = { job_id: id, input, deferrals: deferrals + 1, ...payerFields(d.body) };
    if (resumedAt !== undefined) again.resumed_at = resumedAt;
    // The failed deliveries before this one go along (a wait is not one).
    if (d.msg.attempts > 1) again.attempts = d.msg.attempts - 1;
    await d.env.JOB_QUEUE.send(again, { contentType: "json", delaySeconds });
    await releaseClaim(d).catch(logWith(id));
    d.deferred.left?.add(id);
    d.msg.ack();
    return true;
  } catch (sendError) {
    console.error(`job ${id}: could not defer it (retrying instead):`, sendError);
    return false;
  }
}

/**
 * Gives back this delivery's claim when it defers the job: the record as it
 * was before the claim, or none (a delete: free in R2) when there was none.
 */
async function releaseClaim(d: Delivery): Promise<void> {
  const over = d.claimedOver;
  if (!over) return;
  d.claimedOver = undefined;
  if (over.rec === null) await d.env.OUTPUTS.delete(jobKey(d.body.job_id));
  else await writeJobUnchanged(d.env.OUTPUTS, over.rec, d.etag);
}

/** A failed attempt: parked (budget spent), failed (not retryable), deferred (back-pressure) or retried. */
async function onFailure(d: Delivery, err: unknown): Promise<void> {
  const { msg, env, cfg, prev } = d;
  const id = d.body.job_id;
  logDetail(`job ${id}`, err); // the API's own words go to the log, not the record
  const error = describe(err);
  if (err instanceof ClaimedElsewhere) {
    // Not this delivery's to run or to record: wait the claim out, then look again.
    if (!(await defer(d, err.seconds + 1))) msg.retry({ delaySeconds: retryDelay(err.seconds + 1) });
    return;
  }
  if (__ZEROCOST_SPEND_GUARD__ && err instanceof BudgetExhausted) {
    // The month's budget is spent: park the job (input kept durably) and ack,
    // unless another delivery claimed or ended it since it was read.
    try {
      await parkJob(env, cfg, env.OUTPUTS, { job_id: id, input: d.body.input, error, ...payerFields(d.body) }, prev, msg.attempts, d.etag);
      msg.ack();
    } catch (e) {
      logWith(id)(e);
      msg.retry({ delaySeconds: cfg.retryDelaySeconds });
    }
    return;
  }
  if (err instanceof ModelError && !err.retryable) {
    // Retrying cannot help (e.g. the API rejected the request): fail now.
    await writeJob(env.OUTPUTS, jobRecord(id, { status: "failed", error, attempts: msg.attempts, ...customerField(d.body) }, prev))
      .then(() => msg.ack())
      .catch((e) => {
        logWith(id)(e);
        msg.retry({ delaySeconds: cfg.retryDelaySeconds });
      });
    return;
  }
  const unavailable = err instanceof BudgetUnavailable; // the spend store failed: wait like a rate limit
  if ((err instanceof ModelError && err.status === 429) || unavailable) {
    if (await defer(d, unavailable ? UNAVAILABLE_RETRY_AFTER : (err as ModelError).retryAfter, err instanceof LimiterRefused)) return;
  }
  // An ordinary retry: the record keeps the error (the job is still queued).
  await writeJob(env.OUTPUTS, jobRecord(id, { status: "queued", error, attempts: msg.attempts, ...customerField(d.body) }, prev)).catch(logWith(id));
  msg.retry({ delaySeconds: retryDelay(err instanceof ModelError && err.retryAfter !== undefined ? err.retryAfter : cfg.retryDelaySeconds) });
}

/** One message of the job queue (realtime mode). */
export async function processMessage(
  msg: Message<unknown>,
  env: AsyncPipelineEnv,
  cfg: Config,
  hooks: Hooks,
  deferred: Deferrals,
): Promise<void> {
  if (!isJobMessage(msg.body)) {
    console.error(`message ${msg.id}: not a job message; dropped`);
    msg.ack();
    return;
  }
  const d: Delivery = { msg, body: msg.body, env, cfg, prev: null, etag: null, deferred };
  const { job_id: id, input } = msg.body;
  let ticket = NO_TICKET;
  try {
    const v = await readJobVersion(env.OUTPUTS, id);
    [d.prev, d.etag] = [v.rec, v.etag];
    if (isTerminal(d.prev)) {
      // Delivered again after the job ended: do not pay for it twice.
      msg.ack();
      return;
    }
    const busy = claimedFor(d.prev);
    if (busy > 0) throw new ClaimedElsewhere(busy);
    const limit = await checkRateLimit(env, cfg);
    if (!limit.ok) throw new LimiterRefused(`rate limit reached for ${cfg.product}`, 429, true, limit.retryAfter);
    const body = await buildRequest(hooks, input, env, cfg, PATTERN);
    // The budget before the claim, so that a parked job costs no claim.
    const payer = __ZEROCOST_SPEND_GUARD__ ? await payerOfMessage(env, msg.body) : undefined;
    if (__ZEROCOST_SPEND_GUARD__) ticket = await MODEL_SPEND.reserve(env, cfg, payer);
    const claim = await claimJob(env.OUTPUTS, v, id, msg.attempts, leaseMs(cfg));
    if (!claim) throw new ClaimedElsewhere(Math.ceil(leaseMs(cfg) / 1000));
    d.claimedOver = { rec: d.prev };
    [d.prev, d.etag] = [claim.rec, claim.etag];
    // A few quick retries here; longer waits are the queue's job.
    const claimed = ticket;
    ticket = NO_TICKET; // callModel releases it from here
    const response = await callModel(env, cfg, body, {
      deadline: Date.now() + 2 * cfg.modelTimeoutMs + 5_000,
      pattern: PATTERN,
      customer: msg.body.customer ?? "",
      maxAttempts: MODEL_ATTEMPTS,
      maxRetryWaitMs: 5_000,
      budget: __ZEROCOST_SPEND_GUARD__ ? { spend: MODEL_SPEND, checked: true, ticket: claimed, payer } : undefined,
    });
    const result = await shapeResult(hooks, response, input);
    const rec = jobRecord(id, { status: "done", result, model: response.model ?? body.model, usage: response.usage, attempts: msg.attempts, ...customerField(msg.body) }, d.prev);
    await writeJob(env.OUTPUTS, rec);
    if (isHeld(d.claimedOver?.rec)) await releaseHeld(env.OUTPUTS, id); // a parked job run by a redelivery
    msg.ack();
  } catch (err) {
    ticket.release();
    await onFailure(d, err);
  }
}

/** One message of the dead-letter queue: the job's record dead, with its input. */
export async function deadLetter(msg: Message<unknown>, env: AsyncPipelineEnv): Promise<void> {
  if (!isJobMessage(msg.body)) {
    console.error(`dead-letter message ${msg.id}: not a job message; dropped`);
    msg.ack();
    return;
  }
  const { job_id: id, input } = msg.body;
  try {
    const prev = await readJob(env.OUTPUTS, id);
    if (isTerminal(prev)) {
      msg.ack();
      return;
    }
    const rec = jobRecord(id, { status: "dead", error: prev?.error ?? "retries exhausted", attempts: prev?.attempts ?? msg.attempts, input, ...customerField(msg.body) }, prev);
    await writeJob(env.OUTPUTS, rec);
    await holdJob(env.OUTPUTS, rec); // kept 31 days under held/, past jobs/'s retention
    msg.ack();
  } catch (err) {
    logWith(id)(err);
    msg.retry();
  }
}
