// Event-driven agent: POST /jobs answers 202 with a signed job id at once
// (nothing is written: the id proves the job, lib/jobid.ts); the job ends
// with ONE write, its record in R2 (jobs/<id>.json: done with the result, or
// failed with the error). What runs the job is settings.runner (RUNNER):
//
// - workflow (the default): one Workflow instance per job, its id the job
//   id (lib/workflow.ts): no wall-time cap, the step's own retries.
// - waitUntil: the model call runs in ctx.waitUntil, which is cancelled 30 s
//   after the response. A job whose record never appears was cut off (or
//   its write kept failing): GET /jobs/:id shows it queued for LOST_AFTER_MS
//   after its creation, then failed.
import type { EventAgentEnv } from "../env";
import { buildRequest, checkHooks, shapeResult, type Hooks } from "../hooks";
import { logDetail } from "../lib/anthropic";
import { createFetch, createScheduled } from "../lib/app";
import "../features";
import { readConfig, type Config } from "../lib/config";
import { doorFor, passDoor } from "../lib/door";
import { describe, HttpError, json } from "../lib/errors";
import { newJobId } from "../lib/jobid";
import { customerField, jobRecord, jobView, readJob, writeJobRetrying, type JobRecord } from "../lib/jobs";
import { customerOf, payerOf } from "../lib/keys";
import { callModel } from "../lib/model";
import { MODEL_SPEND, reserveBudget } from "../lib/spend/guard";
import { NO_TICKET, payerFor, type BudgetTicket, type Payer } from "../lib/types";
import { enforceRateLimit } from "../lib/ratelimit";
import { readInput } from "../lib/validate";
import { createJobWorkflow, unrecordedOnWorkflow } from "../lib/workflow";

export { createJobWorkflow };


const PATTERN = "event-agent";
/** The model work must end well inside the 30 s waitUntil cap, leaving time for the write. */
export const MODEL_DEADLINE_MS = 25_000;
/** No record write starts after this (ms after the POST began), inside the 30 s cap. */
export const RECORD_DEADLINE_MS = 29_000;
/**
 * A job with no record this long after its creation will never get one: the
 * waitUntil that would have written it ended (the platform cuts it 30 s after
 * the response; 60 s leaves room for clock differences between locations).
 */
export const LOST_AFTER_MS = 60_000;
export const LOST_ERROR = "the Worker was stopped before it recorded the job (no result within 60 s); submit it again";
/**
 * After a record write fails for good, this isolate refuses new jobs (503)
 * for this long: a job whose record cannot be written would be accepted and
 * lost (Cloudflare fails R2 writes once a limit runs out).
 */
export const REFUSE_AFTER_WRITE_FAILURE_MS = 60_000;

const writeFailedAt = new Map<string, number>(); // by product

/** A 503 while this isolate's last record write failed less than REFUSE_AFTER_WRITE_FAILURE_MS ago. */
function refuseAfterWriteFailure(product: string, now: number): void {
  const failedAt = writeFailedAt.get(product);
  if (failedAt !== undefined && now - failedAt < REFUSE_AFTER_WRITE_FAILURE_MS) {
    const wait = Math.ceil((failedAt + REFUSE_AFTER_WRITE_FAILURE_MS - now) / 1000);
    throw new HttpError(503, "unavailable", "job records cannot be written right now; retry later", {
      "retry-after": String(Math.max(1, wait)),
    });
  }
}

/** A Workflow instance's customer and, for its budget alerts, the budget its key gives now. */
function jobPayer(request: Request): { customer: string; budget_usd?: number } {
  const b = payerOf(request)?.budgetUsd;
  return { customer: customerOf(request), ...(typeof b === "number" ? { budget_usd: b } : {}) };
}

async function runJob(
  env: EventAgentEnv,
  cfg: Config,
  hooks: Hooks,
  job: { id: string; customer: string; payer?: Payer },
  input: string,
  started: number,
  waitUntil: (p: Promise<unknown>) => void,
  ticket: BudgetTicket,
): Promise<void> {
  const { id } = job;
  const who = customerField(job);
  let rec: JobRecord;
  try {
    const body = await buildRequest(hooks, input, env, cfg, PATTERN);
    // The budget was checked before the 202; the cost is recorded beside the job's record.
    const response = await callModel(env, cfg, body, {
      deadline: started + MODEL_DEADLINE_MS,
      pattern: PATTERN,
      customer: job.customer,
      maxAttempts: 3,
      budget: __ZEROCOST_SPEND_GUARD__ ? { spend: MODEL_SPEND, checked: true, ticket, waitUntil, payer: job.payer ?? payerFor(job.customer) } : undefined,
    });
    rec = jobRecord(id, {
      status: "done",
      result: await shapeResult(hooks, response, input),
      model: response.model ?? body.model,
      usage: response.usage,
      ...who,
    });
  } catch (err) {
    ticket.release(); // (idempotent: callModel released it if it got that far)
    logDetail(`job ${id}`, err); // the API's own words go to the log, not the record
    rec = jobRecord(id, { status: "failed", error: describe(err), ...who });
  }
  try {
    await writeJobRetrying(env.OUTPUTS, rec, started + RECORD_DEADLINE_MS);
  } catch (err) {
    writeFailedAt.set(cfg.product, Date.now());
    console.error(`job ${id}: its ${rec.status} record could not be written:`, err);
  }
}

/** GET /jobs/:id of a job with no record: queued while it may still get one, then failed. */
const unrecorded = (ageMs: number) =>
  ageMs < LOST_AFTER_MS ? { status: "queued" as const } : { status: "failed" as const, error: LOST_ERROR };

/** POST /jobs: 202 with the job id at once; the job runs in waitUntil or as a Workflow instance. */
async function postJob(hooks: Hooks, request: Request, env: EventAgentEnv, ctx: ExecutionContext): Promise<Response> {
  const started = Date.now();
  const cfg = readConfig(env);
  const input = await readInput(request, cfg.maxInputChars);
  await passDoor(doorFor(env, request)); // per caller (lib/door.ts)
  // (waitUntil runner: on the workflow runner the record step retries the write.)
  if (!__ZEROCOST_WORKFLOW__) refuseAfterWriteFailure(cfg.product, started);
  // Before the 202, so that a limited client hears 429 at once, and
  // one spend query (lib/spend/guard.ts): a spent budget is a 429
  // budget_exhausted, never an accepted job.
  await enforceRateLimit(env, cfg);
  const ticket = __ZEROCOST_SPEND_GUARD__ ? await reserveBudget(env, cfg, started, payerOf(request)) : NO_TICKET;
  let id: string;
  try {
    id = await newJobId(env, started, customerOf(request));
  } catch (err) {
    ticket.release();
    throw err;
  }
  // The bundle carries one runner (src/features.ts): the plan binds
  // JOB_WORKFLOW exactly when RUNNER is workflow.
  if (__ZEROCOST_WORKFLOW__) {
    // The reservation cannot outlive this request: the check above
    // is the job's; its instance records the cost.
    try {
      await env.JOB_WORKFLOW!.create({ id, params: { input, ...jobPayer(request) } });
    } catch (err) {
      console.error(`job ${id}: Workflow create failed:`, err);
      throw new HttpError(503, "unavailable", "the job could not start; retry later", { "retry-after": "10" });
    } finally {
      ticket.release();
    }
  } else {
    ctx.waitUntil(runJob(env, cfg, hooks, { id, customer: customerOf(request), payer: payerOf(request) }, input, started, (p) => ctx.waitUntil(p), ticket));
  }
  return json({ job_id: id, status: "queued" }, 202);
}

export function createWorker(hooks: Hooks = {}): ExportedHandler<EventAgentEnv> {
  checkHooks(hooks);
  return {
    fetch: createFetch<EventAgentEnv>(PATTERN, [
      { path: "/jobs", POST: (request, env, ctx) => postJob(hooks, request, env, ctx) },
      {
        path: /^\/jobs\/(?<id>[^/]+)$/,
        GET: async (request, env, _ctx, params) => {
          const id = params.id!;
          const how = __ZEROCOST_WORKFLOW__ ? unrecordedOnWorkflow(env, id, () => readJob(env.OUTPUTS, id)) : unrecorded;
          return json(await jobView(env, env.OUTPUTS, id, how, customerOf(request)));
        },
      },
    ]),
    scheduled: createScheduled<EventAgentEnv>(hooks),
  };
}
