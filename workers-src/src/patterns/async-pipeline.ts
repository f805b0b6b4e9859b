// Async pipeline: POST /jobs sends one message per input on JOB_QUEUE and
// writes nothing (each job's id is signed, lib/jobid.ts, so "queued" needs no
// record). The queue handler reads the job's record in R2 (jobs/<id>.json; a
// job already done is acked), asks the limiter, calls the model and writes
// the record done, or queued with the error before a retry. A rate-limited
// job is sent again with a delay rather than retried, so waiting never
// exhausts its retries. The dead-letter queue's consumer writes the record
// dead, with the input.
//
// Batch mode (MODEL_MODE = "batch", lib/batch.ts): the consumer submits each
// delivery as one Message Batch and the cron poller writes the results.
//
// The spend guard (lib/budget.ts): the model call checks the month's budget
// first; when it is spent, the job is parked (its input kept in the spend
// store, its record budget_exhausted) and the message acked: never left in
// the queue (which forgets after 24 h), never dead-lettered. The admin routes
// list the parked jobs and resume them once the budget allows.
import type { AsyncPipelineEnv, JobMessage } from "../env";
import { buildRequest, checkHooks, shapeResult, type Hooks } from "../hooks";
import { createFetch, createScheduled } from "../lib/app";
import { pollAndRun, pollBatches, submitDelivery } from "../lib/batch";
import "../features"; // __ZEROCOST_BATCH_MODE__, __ZEROCOST_SPEND_GUARD__: what this bundle carries
import { BudgetExhausted, BudgetUnavailable, listParked, parkJob, RESUME_MAX, resumeParked, UNAVAILABLE_RETRY_AFTER } from "../lib/budget";
import { readConfig, type Config } from "../lib/config";
import { callerByAddress, passDoor } from "../lib/door";
import { badInput, describe, HttpError, json, tooLarge } from "../lib/errors";
import { jsonBytesFor, readBodyCapped, readJsonObject } from "../lib/http";
import { createdAt, isJobId, newJobId } from "../lib/jobid";
import { jobRecord, jobView, readJob, writeJob, type JobRecord } from "../lib/jobs";
import { callModel, ModelError } from "../lib/model";
import { checkRateLimit } from "../lib/ratelimit";
import { validateInput } from "../lib/validate";

const PATTERN = "async-pipeline";
/** Most inputs one POST /jobs may carry. */
export const MAX_BATCH_INPUTS = 100;
// Queues: at most 100 messages and 256 KB per sendBatch.
const SEND_BATCH_MAX_MESSAGES = 100;
const SEND_BATCH_MAX_BYTES = 200_000;

function parseInputs(body: Record<string, unknown>, maxChars: number): string[] {
  const hasOne = body.input !== undefined;
  const hasMany = body.inputs !== undefined;
  if (hasOne === hasMany) throw badInput('give exactly one of "input" or "inputs"');
  if (hasOne) return [validateInput(body.input, maxChars)];
  const list = body.inputs;
  if (!Array.isArray(list)) throw badInput("inputs must be an array of strings");
  if (list.length === 0) throw badInput("inputs must not be empty");
  if (list.length > MAX_BATCH_INPUTS) throw tooLarge(`inputs has ${list.length} items; the limit is ${MAX_BATCH_INPUTS}`);
  return list.map((v, i) => validateInput(v, maxChars, `inputs[${i}]`));
}

/**
 * Sends the messages (send for one, sendBatch in chunks for many). Returns how
 * many were sent, which is less than all only when a send failed (`error`).
 */
async function enqueue(queue: Queue<JobMessage>, messages: JobMessage[]): Promise<{ sent: number; error?: unknown }> {
  let sent = 0;
  try {
    if (messages.length === 1) {
      await queue.send(messages[0]!, { contentType: "json" });
      return { sent: 1 };
    }
    const enc = new TextEncoder();
    let chunk: MessageSendRequest<JobMessage>[] = [];
    let bytes = 0;
    const flush = async () => {
      if (chunk.length) await queue.sendBatch(chunk);
      sent += chunk.length;
      chunk = [];
      bytes = 0;
    };
    for (const body of messages) {
      const size = enc.encode(JSON.stringify(body)).byteLength + 100;
      if (chunk.length === SEND_BATCH_MAX_MESSAGES || (chunk.length > 0 && bytes + size > SEND_BATCH_MAX_BYTES)) await flush();
      chunk.push({ body, contentType: "json" });
      bytes += size;
    }
    await flush();
    return { sent };
  } catch (error) {
    return { sent, error };
  }
}

/**
 * How many times a job may wait out a rate limit by being sent again before
 * its waits become ordinary retries (which count toward max_retries).
 */
export const MAX_DEFERRALS = 100;

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

function isJobMessage(v: unknown): v is JobMessage {
  const m = v as JobMessage | null;
  return typeof m === "object" && m !== null && typeof m.job_id === "string" && isJobId(m.job_id) && typeof m.input === "string";
}

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
export const EXPIRED_ERROR = "expired: the job was not processed within 25 h of its creation (the queue keeps a message 24 h)";

/** GET /jobs/:id of a job with no record. */
const unrecorded = (ageMs: number) =>
  ageMs < QUEUED_WINDOW_MS ? { status: "queued" as const } : { status: "failed" as const, error: EXPIRED_ERROR };

/**
 * Whether a deferral of `delaySeconds` keeps the job inside the window where
 * no record is needed (counted from its creation, or from its resume: a
 * resumed job has a queued record).
 */
function mayDefer(id: string, deferrals: number, delaySeconds: number, resumedAt?: number): boolean {
  const since = typeof resumedAt === "number" && Number.isFinite(resumedAt) ? Math.max(resumedAt, createdAt(id)) : createdAt(id);
  return deferrals < MAX_DEFERRALS && Date.now() + delaySeconds * 1000 - since < DEFER_HORIZON_MS;
}

const TERMINAL = new Set(["done", "failed", "dead"]);

async function processMessage(
  msg: Message<unknown>,
  env: AsyncPipelineEnv,
  cfg: Config,
  hooks: Hooks,
  deferred: { count: number },
): Promise<void> {
  if (!isJobMessage(msg.body)) {
    console.error(`message ${msg.id}: not a job message; dropped`);
    msg.ack();
    return;
  }
  const { job_id: id, input } = msg.body;
  let prev: JobRecord | null = null;
  try {
    prev = await readJob(env.OUTPUTS, id);
    if (prev && TERMINAL.has(prev.status)) {
      // Delivered again after the job ended: do not pay for it twice.
      msg.ack();
      return;
    }
    const limit = await checkRateLimit(env, cfg);
    if (!limit.ok) throw new ModelError(`rate limit reached for ${cfg.product}`, 429, true, limit.retryAfter);
    const body = await buildRequest(hooks, input, env, cfg, PATTERN);
    // A few quick retries here; longer waits are the queue's job.
    const response = await callModel(env, cfg, body, {
      deadline: Date.now() + 2 * cfg.modelTimeoutMs + 5_000,
      pattern: PATTERN,
      maxAttempts: 2,
      maxRetryWaitMs: 5_000,
    });
    const rec = jobRecord(
      id,
      {
        status: "done",
        result: await shapeResult(hooks, response, input),
        model: response.model ?? body.model,
        usage: response.usage,
        attempts: msg.attempts,
      },
      prev,
    );
    await writeJob(env.OUTPUTS, rec);
    msg.ack();
  } catch (err) {
    const error = describe(err);
    if (__ZEROCOST_SPEND_GUARD__ && err instanceof BudgetExhausted) {
      // The month's budget is spent: park the job (input kept durably) and ack.
      try {
        await parkJob(env, cfg, env.OUTPUTS, { job_id: id, input, error }, prev, msg.attempts);
        msg.ack();
      } catch (e) {
        logWith(id)(e);
        msg.retry({ delaySeconds: cfg.retryDelaySeconds });
      }
      return;
    }
    if (err instanceof ModelError && !err.retryable) {
      // Retrying cannot help (e.g. the API rejected the request): fail now.
      await writeJob(env.OUTPUTS, jobRecord(id, { status: "failed", error, attempts: msg.attempts }, prev))
        .then(() => msg.ack())
        .catch((e) => {
          logWith(id)(e);
          msg.retry({ delaySeconds: cfg.retryDelaySeconds });
        });
      return;
    }
    const deferrals = deferralsOf(msg.body);
    const unavailable = err instanceof BudgetUnavailable; // the spend store failed: wait like a rate limit
    if ((err instanceof ModelError && err.status === 429) || unavailable) {
      // A rate limit (the product's own or the model API's) is back-pressure,
      // not a failure of the job. Retrying would use up max_retries and send a
      // backlog to the dead-letter queue, so the job is sent again with a
      // delay and this delivery acked. No record is written: the job stays
      // queued by its id.
      const retryAfter = unavailable ? UNAVAILABLE_RETRY_AFTER : (err as ModelError).retryAfter;
      const delaySeconds = deferralDelay(retryAfter, cfg.retryDelaySeconds, deferred.count++, cfg.rateLimitPerMinute);
      const resumedAt = msg.body.resumed_at;
      if (mayDefer(id, deferrals, delaySeconds, resumedAt)) {
        try {
          const again: JobMessage = { job_id: id, input, deferrals: deferrals + 1 };
          if (resumedAt !== undefined) again.resumed_at = resumedAt;
          await env.JOB_QUEUE.send(again, { contentType: "json", delaySeconds });
          msg.ack();
          return;
        } catch (sendError) {
          console.error(`job ${id}: could not defer it (retrying instead):`, sendError);
        }
      }
    }
    // An ordinary retry: the record keeps the error (the job is still queued).
    await writeJob(env.OUTPUTS, jobRecord(id, { status: "queued", error, attempts: msg.attempts }, prev)).catch(logWith(id));
    const delay = err instanceof ModelError && err.retryAfter !== undefined ? err.retryAfter : cfg.retryDelaySeconds;
    msg.retry({ delaySeconds: Math.min(43_200, Math.max(0, Math.ceil(delay))) });
  }
}

async function deadLetter(msg: Message<unknown>, env: AsyncPipelineEnv): Promise<void> {
  if (!isJobMessage(msg.body)) {
    console.error(`dead-letter message ${msg.id}: not a job message; dropped`);
    msg.ack();
    return;
  }
  const { job_id: id, input } = msg.body;
  try {
    const prev = await readJob(env.OUTPUTS, id);
    if (prev && TERMINAL.has(prev.status)) {
      msg.ack();
      return;
    }
    const rec = jobRecord(
      id,
      { status: "dead", error: prev?.error ?? "retries exhausted", attempts: prev?.attempts ?? msg.attempts, input },
      prev,
    );
    await writeJob(env.OUTPUTS, rec);
    msg.ack();
  } catch (err) {
    logWith(id)(err);
    msg.retry();
  }
}

/** GET /admin/jobs?status=budget_exhausted&limit=N&cursor=C */
async function listParkedRoute(request: Request, env: AsyncPipelineEnv): Promise<Response> {
  const q = new URL(request.url).searchParams;
  const status = q.get("status") ?? "budget_exhausted";
  if (status !== "budget_exhausted") throw badInput("only status=budget_exhausted can be listed (the other jobs are not indexed)");
  const rawLimit = q.get("limit");
  const limit = rawLimit === null ? 100 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badInput("limit must be an integer from 1 to 1000");
  return json(await listParked(env, readConfig(env), limit, q.get("cursor") || null));
}

/** POST /admin/jobs/resume, optional body {"limit":N} (default and most: RESUME_MAX per call). */
async function resumeRoute(request: Request, env: AsyncPipelineEnv): Promise<Response> {
  let limit = RESUME_MAX;
  const text = new TextDecoder().decode(await readBodyCapped(request, 4096));
  if (text.trim() !== "") {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HttpError(400, "invalid_json", "request body is not valid JSON");
    }
    const n = (body as { limit?: unknown } | null)?.limit;
    if (n !== undefined && (typeof n !== "number" || !Number.isInteger(n) || n < 1)) throw badInput("limit must be a positive integer");
    if (typeof n === "number") limit = Math.min(n, RESUME_MAX);
  }
  return json(await resumeParked(env, readConfig(env), env.JOB_QUEUE, limit, env.OUTPUTS));
}

const logWith = (id: string) => (err: unknown) => console.error(`job ${id}:`, err);

export function createWorker(hooks: Hooks = {}): ExportedHandler<AsyncPipelineEnv, unknown> {
  checkHooks(hooks);
  return {
    fetch: createFetch<AsyncPipelineEnv>(PATTERN, [
      {
        path: "/jobs",
        POST: async (request, env) => {
          const cfg = readConfig(env);
          const cap = MAX_BATCH_INPUTS * (jsonBytesFor(cfg.maxInputChars) + 16) + 1024;
          const inputs = parseInputs(await readJsonObject(request, cap), cfg.maxInputChars);
          // The door counts jobs, one limit() call each (lib/door.ts): all or none.
          await passDoor(env.DOOR_LIMITER, callerByAddress(request), inputs.length, "jobs");
          const now = Date.now();
          const ids = await Promise.all(inputs.map(() => newJobId(env, now)));
          const { sent, error } = await enqueue(
            env.JOB_QUEUE,
            ids.map((job_id, i) => ({ job_id, input: inputs[i]! })),
          );
          if (error !== undefined) {
            // Nothing was written, so nothing is left queued. Jobs sent before
            // the failure (a later sendBatch chunk failed) do run: their ids
            // are in the message.
            console.error("JOB_QUEUE send failed:", error);
            const which = sent > 0 ? ` (queued: ${ids.slice(0, sent).join(", ")})` : "";
            throw new HttpError(503, "unavailable", `the job queue is unavailable; ${sent} of ${ids.length} jobs were queued${which}`, {
              "retry-after": "5",
            });
          }
          return json(ids.length === 1 ? { job_id: ids[0], job_ids: ids, status: "queued" } : { job_ids: ids, status: "queued" }, 202);
        },
      },
      {
        path: /^\/jobs\/(?<id>[^/]+)$/,
        GET: async (_request, env, _ctx, params) => json(await jobView(env, env.OUTPUTS, params.id!, unrecorded)),
      },
      // The parked jobs (lib/budget.ts); /admin/* needs AUTH_TOKEN (lib/app.ts).
      ...(__ZEROCOST_SPEND_GUARD__
        ? [
            { path: "/admin/jobs", GET: (request: Request, env: AsyncPipelineEnv) => listParkedRoute(request, env) },
            { path: "/admin/jobs/resume", POST: (request: Request, env: AsyncPipelineEnv) => resumeRoute(request, env) },
          ]
        : []),
    ]),
    async queue(batch, env) {
      const cfg = readConfig(env);
      if (cfg.deadLetterQueue !== "" && batch.queue === cfg.deadLetterQueue) {
        await Promise.all(batch.messages.map((m) => deadLetter(m, env)));
      } else if (__ZEROCOST_BATCH_MODE__ && cfg.modelMode === "batch") {
        await submitDelivery(batch.messages, env, cfg, hooks); // lib/batch.ts: one Message Batch per delivery
      } else {
        const deferred = { count: 0 }; // this batch's deferrals so far, to spread them
        await Promise.all(batch.messages.map((m) => processMessage(m, env, cfg, hooks, deferred)));
      }
    },
    scheduled: async (controller, env, ctx) => {
      const cfg = readConfig(env);
      const own = createScheduled<AsyncPipelineEnv>(hooks);
      if (__ZEROCOST_BATCH_MODE__ && cfg.modelMode === "batch") {
        // Batch mode: every cron run also polls the open Message Batches.
        await pollAndRun(() => own(controller, env, ctx), () => pollBatches(env, cfg, hooks));
        return;
      }
      return own(controller, env, ctx);
    },
  };
}
