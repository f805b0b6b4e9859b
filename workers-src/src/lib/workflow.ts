// The event agent's jobs on Cloudflare Workflows (settings.runner: workflow,
// the default). POST /jobs creates one instance whose id is the signed job
// id; the instance runs two steps:
//
//   model   one model attempt per step attempt, with the step's own retries
//           and backoff (no single 25 s budget: a step has no wall-time limit,
//           developers.cloudflare.com/workflows/reference/limits/); its result
//           is kept in the instance's state, so a retried record step never
//           pays for the model again;
//   record  the job's one write, jobs/<id>.json (done, or failed with the
//           reason), retried by the step.
//
// Limits (docs/design.md, "Event agent on Workflows"):
// - A job's longest run is MODEL_ATTEMPTS attempts of MODEL_TIMEOUT_MS each
//   plus the backoff between them (jobLimitMs), then the record.
// - Past the account's concurrent instances (Workers Free: 100, Paid: 50,000)
//   Cloudflare queues an instance rather than refusing it ("Instances above
//   the limit are not rejected. They are queued and start automatically as
//   running instances finish", developers.cloudflare.com/workflows/build/concurrency-limits/;
//   up to 100,000 queued on Free, workflows/reference/limits/). POST still
//   answers 202 and GET reads queued.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import type { EventAgentEnv, JobParams } from "../env";
import { buildRequest, shapeResult, type Hooks } from "../hooks";
import { readConfig, type Config } from "./config";
import { describe } from "./errors";
import { jobRecord, writeJob, type JobRecord, type Unrecorded } from "./jobs";
import { attemptsOver } from "./anthropic";
import { callModel, ModelError } from "./model";
import { MODEL_SPEND } from "./spend/guard";
import { payerFor } from "./types";
import "../features";

const PATTERN = "event-agent";

export type { JobParams };

/** Attempts of the model step: the first and MODEL_ATTEMPTS - 1 retries. */
export const MODEL_ATTEMPTS = 3;
/** The first retry waits this long, the second twice as long (exponential backoff). */
export const MODEL_RETRY_DELAY_MS = 10_000;
/** What a step attempt gets beyond the model's own timeout (the spend record, the result's size). */
const STEP_SLACK_MS = 30_000;
/** The record step: a put of at most a few hundred KB, retried like the model. */
const RECORD_STEP: StepConfig = { retries: { limit: 5, delay: 2_000, backoff: "exponential" }, timeout: 60_000 };

/** The longest a job's model step may take: every attempt timing out, and the waits between. */
export function jobLimitMs(modelTimeoutMs: number): number {
  let waits = 0;
  for (let n = 1; n < MODEL_ATTEMPTS; n++) waits += MODEL_RETRY_DELAY_MS * 2 ** (n - 1);
  return MODEL_ATTEMPTS * (modelTimeoutMs + STEP_SLACK_MS) + waits;
}

/** A step's retries and timeout (ms), as WorkflowStep.do takes them. */
export interface StepConfig {
  retries: { limit: number; delay: number; backoff: "constant" | "linear" | "exponential" };
  timeout: number;
}

/** The subset of WorkflowStep the job uses (tests give their own). */
export interface Steps {
  do<T>(name: string, config: StepConfig, callback: (ctx: { attempt: number }) => Promise<T>): Promise<T>;
}

/** The model step's result, as the record will hold it (JSON: any shape a hook returns is kept as is). */
interface Done {
  json: string;
}

/** The reason a job failed, as its record says it: zerocost's own facts, the model API's text stays in the log. */
function reason(err: unknown, cfg: Config): string {
  if (!(err instanceof ModelError)) return describe(err);
  return err.status ? `the model API answered ${err.status}` : `the model did not answer within ${(cfg.modelTimeoutMs / 1000).toFixed(1)} s`;
}

/** The model step: one attempt; a failure the step's retries cannot fix ends them at once. */
async function modelAttempt(
  env: EventAgentEnv,
  cfg: Config,
  hooks: Hooks,
  id: string,
  input: string,
  attempt: number,
  customer: string,
  budgetUsd: number | null,
): Promise<Done> {
  const body = await buildRequest(hooks, input, env, cfg, PATTERN);
  try {
    // The budget was checked before the 202; the call records its cost.
    const response = await callModel(env, cfg, body, {
      deadline: Date.now() + cfg.modelTimeoutMs,
      pattern: PATTERN,
      customer,
      maxAttempts: 1,
      budget: __ZEROCOST_SPEND_GUARD__ ? { spend: MODEL_SPEND, checked: true, payer: payerFor(customer, budgetUsd) } : undefined,
    });
    const result = await shapeResult(hooks, response, input);
    return { json: JSON.stringify({ result: result ?? null, model: response.model ?? body.model, usage: response.usage }) };
  } catch (err) {
    console.error(`job ${id}: attempt ${attempt}:`, err instanceof Error ? err.message : err);
    const why = reason(err, cfg);
    if (err instanceof ModelError && err.retryable) throw new Error(why);
    throw new NonRetryableError(why);
  }
}

/**
 * The job's steps: the model step, then the record step with the result or
 * the reason. `created` is the instance's creation (epoch ms), for the
 * failure's "N attempts over S s".
 */
export async function runJob(
  env: EventAgentEnv,
  hooks: Hooks,
  id: string,
  input: string,
  created: number,
  step: Steps,
  customer = "",
  budgetUsd: number | null = null,
): Promise<JobRecord> {
  const cfg = readConfig(env);
  const who = customer ? { customer } : {};
  let attempts = 0;
  let rec: JobRecord;
  try {
    const config: StepConfig = {
      retries: { limit: MODEL_ATTEMPTS - 1, delay: MODEL_RETRY_DELAY_MS, backoff: "exponential" },
      timeout: cfg.modelTimeoutMs + STEP_SLACK_MS,
    };
    const done = await step.do("model", config, async (ctx) => {
      attempts = ctx.attempt;
      return modelAttempt(env, cfg, hooks, id, input, ctx.attempt, customer, budgetUsd);
    });
    const { result, model, usage } = JSON.parse(done.json) as Pick<JobRecord, "result" | "model" | "usage">;
    rec = jobRecord(id, { status: "done", result, model, usage, ...who });
  } catch (err) {
    // The engine hands back the step's error with its class name in front.
    const why = (err instanceof Error ? err.message : String(err)).replace(/^(NonRetryableError|Error): /, "");
    rec = jobRecord(id, { status: "failed", error: `${why}; ${attemptsOver(Math.max(1, attempts), created)}`, ...who });
  }
  await step.do("record", RECORD_STEP, async () => {
    await writeJob(env.OUTPUTS, rec);
    return null;
  });
  return rec;
}

/** The Workflow class a product's Worker exports as JobWorkflow (contract: JobWorkflowClass). */
export function createJobWorkflow(hooks: Hooks = {}) {
  return class JobWorkflow extends WorkflowEntrypoint<EventAgentEnv, JobParams> {
    override async run(event: Readonly<WorkflowEvent<JobParams>>, step: WorkflowStep): Promise<void> {
      await runJob(this.env, hooks, event.instanceId, event.payload.input, event.timestamp.getTime(), step as unknown as Steps, event.payload.customer ?? "", event.payload.budget_usd ?? null);
    }
  };
}

/**
 * Before this age (ms) GET /jobs/:id reads a job without a record as
 * queued with no further op: most jobs end well inside it (Haiku 4.5 writes
 * 1,024 tokens in about 9 s). Past it, the instance's status tells running,
 * queued (past the account's concurrency) or failed.
 */
export const STATUS_AFTER_MS = 60_000;

/** GET /jobs/:id of a job with no record, on the workflow runner. */
export function unrecordedOnWorkflow(env: EventAgentEnv, id: string, reread: () => Promise<JobRecord | null>): Unrecorded {
  return async (ageMs) => {
    if (ageMs < STATUS_AFTER_MS) return { status: "queued" };
    let s: InstanceStatus;
    try {
      s = await (await env.JOB_WORKFLOW!.get(id)).status();
    } catch {
      return { status: "failed", error: "the job's instance is gone and it has no record: the instance never ran or was removed (Workflows keep an instance's state 3 days on Workers Free), or its record was deleted after the stack's retentionDays; submit again" };
    }
    if (s.status === "errored" || s.status === "terminated") return { status: "failed", error: s.error?.message ?? s.status };
    if (s.status === "queued") return { status: "queued" };
    if (s.status !== "complete") return { status: "running" };
    const rec = await reread();
    return rec ? { status: rec.status, record: rec } : { status: "failed", error: "the job's record is gone" };
  };
}
