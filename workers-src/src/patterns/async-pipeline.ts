// Async pipeline: POST /jobs sends its inputs on JOB_QUEUE, packed up to ten
// jobs and 63 KB a message (lib/pack.ts), and writes nothing (each job's id
// is signed, lib/jobid.ts, so "queued" needs no record). A pack's jobs still
// end one by one (async-pipeline/pack.ts). The queue handler
// (async-pipeline/consumer.ts) reads the job's record in R2 (jobs/<id>.json;
// a job already done is acked), asks the limiter, calls the model and writes
// the record done, or queued with the error before a retry. A rate-limited
// job is sent again with a delay rather than retried, so waiting never
// exhausts its retries. The dead-letter queue's consumer writes the record
// dead, with the input.
//
// Batch mode (MODEL_MODE = "batch", lib/batch/): the consumer submits each
// delivery's jobs as Message Batches of at most 100 (a pack opened into its
// jobs) and the cron poller writes the results.
//
// The spend guard (lib/spend/): the model call checks the month's budget
// first; when it is spent, the job is parked (its input kept in the spend
// store, its record budget_exhausted) and the message acked: never left in
// the queue (which forgets after 24 h), never dead-lettered. The admin routes
// (async-pipeline/admin.ts) list the parked jobs and resume them once the
// budget allows.
import { ADMIN_ROUTES } from "../contract.gen";
import type { AsyncPipelineEnv } from "../env";
import { checkHooks, type Hooks } from "../hooks";
import { createFetch, createScheduled } from "../lib/app";
import { submitInBatches } from "../lib/batch/submit";
import { pollAndRun, pollBatches } from "../lib/batch/poll";
import "../features"; // __ZEROCOST_BATCH_MODE__, __ZEROCOST_SPEND_GUARD__: what this bundle carries
import { readConfig } from "../lib/config";
import { doorFor, passDoor } from "../lib/door";
import { badInput, HttpError, json, tooLarge } from "../lib/errors";
import { jsonBytesFor, readJsonObject } from "../lib/http";
import { newJobId } from "../lib/jobid";
import { jobView } from "../lib/jobs";
import { customerOf, keyHashOf } from "../lib/keys";
import { jobsIn, packJobs } from "../lib/pack";
import { sendAll } from "../lib/queue";
import { BODY_SLACK_BYTES, validateInput } from "../lib/validate";
import { listParkedRoute, resumeRoute } from "./async-pipeline/admin";
import { deadLetter, PATTERN, processMessage, QUEUED_WINDOW_MS, unrecorded } from "./async-pipeline/consumer";
import { deliveryMaxJobs, eachJob, hasSpendStore, isPacked, passOn, processPack, splitDelivery } from "./async-pipeline/pack";
import { unrecordedOrHeld } from "../lib/held";

export { deferralDelay, EXPIRED_ERROR, MAX_DEFERRALS, QUEUED_WINDOW_MS } from "./async-pipeline/consumer";

/** Most inputs one POST /jobs may carry. */
export const MAX_BATCH_INPUTS = 100;

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

/** POST /jobs: the inputs packed into messages, nothing written; 202 with the job ids. */
async function postJobs(request: Request, env: AsyncPipelineEnv): Promise<Response> {
  const cfg = readConfig(env);
  const cap = MAX_BATCH_INPUTS * (jsonBytesFor(cfg.maxInputChars) + 16) + BODY_SLACK_BYTES;
  const inputs = parseInputs(await readJsonObject(request, cap), cfg.maxInputChars);
  // The door counts jobs, one limit() call each (lib/door.ts): all or none.
  await passDoor(doorFor(env, request), inputs.length, "jobs");
  const now = Date.now();
  const customer = customerOf(request);
  const ids = await Promise.all(inputs.map(() => newJobId(env, now, customer)));
  const who = customer ? { customer, key_hash: keyHashOf(request) } : {};
  // The jobs travel packed (lib/pack.ts): ten small ones are one message.
  const bodies = packJobs(ids.map((job_id, i) => ({ job_id, input: inputs[i]!, ...who })));
  const { sent: messages, error } = await sendAll(env.JOB_QUEUE, bodies);
  const sent = jobsIn(bodies, messages);
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
}

export function createWorker(hooks: Hooks = {}): ExportedHandler<AsyncPipelineEnv, unknown> {
  checkHooks(hooks);
  return {
    fetch: createFetch<AsyncPipelineEnv>(PATTERN, [
      { path: "/jobs", POST: (request, env) => postJobs(request, env) },
      {
        path: /^\/jobs\/(?<id>[^/]+)$/,
        GET: async (request, env, _ctx, params) => json(await jobView(env, env.OUTPUTS, params.id!, unrecordedOrHeld(env.OUTPUTS, params.id!, QUEUED_WINDOW_MS, unrecorded), customerOf(request))),
      },
      // The parked jobs (lib/spend/parked.ts); /admin/* needs AUTH_TOKEN (lib/app.ts).
      ...(__ZEROCOST_SPEND_GUARD__
        ? [
            { path: ADMIN_ROUTES.jobs.path, GET: (request: Request, env: AsyncPipelineEnv) => listParkedRoute(request, env) },
            { path: ADMIN_ROUTES.jobsResume.path, POST: (request: Request, env: AsyncPipelineEnv) => resumeRoute(request, env) },
          ]
        : []),
    ]),
    async queue(batch, env) {
      const cfg = readConfig(env);
      if (cfg.deadLetterQueue !== "" && batch.queue === cfg.deadLetterQueue) {
        await eachJob(batch.messages, cfg, (jobs) => Promise.all(jobs.map((m) => deadLetter(m, env))));
      } else if (__ZEROCOST_BATCH_MODE__ && cfg.modelMode === "batch") {
        await eachJob(batch.messages, cfg, (jobs) => submitInBatches(jobs, env, cfg, hooks)); // lib/batch/submit.ts: one Message Batch per 100 jobs of the delivery
      } else {
        const deferred = { count: 0 }; // this batch's deferrals so far, to spread them
        // At most as many jobs as fit one invocation's subrequests and D1 queries (pack.ts deliveryMaxJobs); the rest are sent on.
        const { now, later } = splitDelivery(batch.messages, deliveryMaxJobs(hasSpendStore(env)));
        await Promise.all([
          ...now.map((m) => (isPacked(m.body) ? processPack(m, env, cfg, hooks, deferred) : processMessage(m, env, cfg, hooks, deferred))),
          ...later.map((m) => passOn(m, env)),
        ]);
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
