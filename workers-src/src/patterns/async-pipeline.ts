// Async pipeline: POST /jobs enqueues one message per input on JOB_QUEUE; the
// queue handler calls the model for each message (concurrently, acked or
// retried one by one) and writes results to R2. A rate-limited job is sent
// again with a delay rather than retried, so waiting never exhausts its
// retries. Batches from the dead-letter queue become failures/<id>.json
// records and jobs marked dead.
import type { AsyncPipelineEnv, JobMessage } from "../env";
import { buildRequest, checkHooks, shapeResult, type Hooks } from "../hooks";
import { createFetch, createScheduled } from "../lib/app";
import { readConfig, type Config } from "../lib/config";
import { badInput, describe, HttpError, json, tooLarge } from "../lib/errors";
import { jsonBytesFor, readJsonObject } from "../lib/http";
import {
  failureKey,
  hasResult,
  jobView,
  newJob,
  readStatus,
  resultKey,
  updateStatus,
  writeJson,
  writeStatus,
  type ResultRecord,
} from "../lib/jobs";
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
  return typeof m === "object" && m !== null && typeof m.job_id === "string" && typeof m.input === "string";
}

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
  const ttl = cfg.jobTtlSeconds;
  try {
    if (await hasResult(env.OUTPUTS, id)) {
      // Delivered again after the result was stored: do not pay for it twice.
      await updateStatus(env.JOBS, id, { status: "done" }, ttl);
      msg.ack();
      return;
    }
    const limit = await checkRateLimit(env, cfg, env.JOBS);
    if (!limit.ok) throw new ModelError(`rate limit reached for ${cfg.product}`, 429, true, limit.retryAfter);
    const body = await buildRequest(hooks, input, env, cfg, PATTERN);
    // A few quick retries here; longer waits are the queue's job.
    const response = await callModel(env, cfg, body, {
      deadline: Date.now() + 2 * cfg.modelTimeoutMs + 5_000,
      pattern: PATTERN,
      maxAttempts: 2,
      maxRetryWaitMs: 5_000,
    });
    const record: ResultRecord = {
      job_id: id,
      result: await shapeResult(hooks, response, input),
      model: response.model ?? body.model,
      usage: response.usage,
      completed_at: new Date().toISOString(),
    };
    await writeJson(env.OUTPUTS, resultKey(id), record);
    await updateStatus(env.JOBS, id, { status: "done", attempts: msg.attempts }, ttl);
    msg.ack();
  } catch (err) {
    const error = describe(err);
    if (err instanceof ModelError && !err.retryable) {
      // Retrying cannot help (e.g. the API rejected the request): fail now.
      await updateStatus(env.JOBS, id, { status: "failed", error, attempts: msg.attempts }, ttl).catch(logWith(id));
      msg.ack();
      return;
    }
    const deferrals = deferralsOf(msg.body);
    if (err instanceof ModelError && err.status === 429 && deferrals < MAX_DEFERRALS) {
      // A rate limit (the product's own or the model API's) is back-pressure,
      // not a failure of the job. Retrying would use up max_retries and send a
      // backlog to the dead-letter queue, so the job is sent again with a
      // delay and this delivery acked. Only the first deferral writes the
      // status: KV writes are scarce on the free plan.
      try {
        await env.JOB_QUEUE.send(
          { job_id: id, input, deferrals: deferrals + 1 },
          {
            contentType: "json",
            delaySeconds: deferralDelay(err.retryAfter, cfg.retryDelaySeconds, deferred.count++, cfg.rateLimitPerMinute),
          },
        );
        if (deferrals === 0) {
          await updateStatus(env.JOBS, id, { status: "queued", error, attempts: msg.attempts }, ttl).catch(logWith(id));
        }
        msg.ack();
        return;
      } catch (sendError) {
        console.error(`job ${id}: could not defer it (retrying instead):`, sendError);
      }
    }
    await updateStatus(env.JOBS, id, { status: "queued", error, attempts: msg.attempts }, ttl).catch(logWith(id));
    const delay = err instanceof ModelError && err.retryAfter !== undefined ? err.retryAfter : cfg.retryDelaySeconds;
    msg.retry({ delaySeconds: Math.min(43_200, Math.max(0, Math.ceil(delay))) });
  }
}

async function deadLetter(msg: Message<unknown>, env: AsyncPipelineEnv, cfg: Config, queue: string): Promise<void> {
  if (!isJobMessage(msg.body)) {
    console.error(`dead-letter message ${msg.id}: not a job message; dropped`);
    msg.ack();
    return;
  }
  const { job_id: id, input } = msg.body;
  try {
    if (await hasResult(env.OUTPUTS, id)) {
      await updateStatus(env.JOBS, id, { status: "done" }, cfg.jobTtlSeconds);
      msg.ack();
      return;
    }
    const prev = await readStatus(env.JOBS, id);
    const error = prev?.error ?? "retries exhausted";
    await writeJson(env.OUTPUTS, failureKey(id), {
      job_id: id,
      input,
      attempts: prev?.attempts ?? msg.attempts,
      last_error: prev?.error ?? null,
      queue,
      failed_at: new Date().toISOString(),
    });
    await writeStatus(
      env.JOBS,
      { ...(prev ?? newJob(id)), job_id: id, status: "dead", error, updated_at: new Date().toISOString() },
      cfg.jobTtlSeconds,
    );
    msg.ack();
  } catch (err) {
    logWith(id)(err);
    msg.retry();
  }
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
          const jobs = inputs.map(() => newJob());
          await Promise.all(jobs.map((job) => writeStatus(env.JOBS, job, cfg.jobTtlSeconds)));
          const { sent, error } = await enqueue(
            env.JOB_QUEUE,
            jobs.map((job, i) => ({ job_id: job.job_id, input: inputs[i]! })),
          );
          const ids = jobs.map((j) => j.job_id);
          if (error !== undefined) {
            // Jobs that never reached the queue must not stay queued.
            console.error("JOB_QUEUE send failed:", error);
            const lost = jobs.slice(sent);
            const failed = { status: "failed" as const, error: "could not enqueue the job", updated_at: new Date().toISOString() };
            await Promise.all(lost.map((job) => writeStatus(env.JOBS, { ...job, ...failed }, cfg.jobTtlSeconds))).catch(() => {});
            throw new HttpError(503, "unavailable", `the job queue is unavailable; ${sent} of ${jobs.length} jobs were queued`, {
              "retry-after": "5",
            });
          }
          return json(ids.length === 1 ? { job_id: ids[0], job_ids: ids, status: "queued" } : { job_ids: ids, status: "queued" }, 202);
        },
      },
      {
        path: /^\/jobs\/(?<id>[^/]+)$/,
        GET: async (_request, env, _ctx, params) => json(await jobView(env.JOBS, env.OUTPUTS, params.id!)),
      },
    ]),
    async queue(batch, env) {
      const cfg = readConfig(env);
      if (cfg.deadLetterQueue !== "" && batch.queue === cfg.deadLetterQueue) {
        await Promise.all(batch.messages.map((m) => deadLetter(m, env, cfg, batch.queue)));
      } else {
        const deferred = { count: 0 }; // this batch's deferrals so far, to spread them
        await Promise.all(batch.messages.map((m) => processMessage(m, env, cfg, hooks, deferred)));
      }
    },
    scheduled: createScheduled<AsyncPipelineEnv>(hooks),
  };
}
