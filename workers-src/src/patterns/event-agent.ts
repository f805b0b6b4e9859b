// Event-driven agent: POST /jobs answers 202 with a job id at once; the model
// call runs in ctx.waitUntil (under the platform's 30 s cap) and ends with the
// job done (result in R2) or failed (error in the status), never left queued.
import type { EventAgentEnv } from "../env";
import { buildRequest, checkHooks, shapeResult, type Hooks } from "../hooks";
import { createFetch, createScheduled } from "../lib/app";
import { readConfig, type Config } from "../lib/config";
import { describe, json } from "../lib/errors";
import { jsonBytesFor, readJsonObject } from "../lib/http";
import { jobView, newJob, resultKey, writeJson, writeStatus, type JobStatus, type ResultRecord } from "../lib/jobs";
import { callModel } from "../lib/model";
import { enforceRateLimit } from "../lib/ratelimit";
import { validateInput } from "../lib/validate";

const PATTERN = "event-agent";
/** The model work must end well inside the 30 s waitUntil cap, leaving time for the writes. */
export const MODEL_DEADLINE_MS = 25_000;

async function runJob(
  env: EventAgentEnv,
  cfg: Config,
  hooks: Hooks,
  job: JobStatus,
  input: string,
  deadline: number,
): Promise<void> {
  const ttl = cfg.jobTtlSeconds;
  try {
    const body = await buildRequest(hooks, input, env, cfg, PATTERN);
    const response = await callModel(env, cfg, body, { deadline, pattern: PATTERN, maxAttempts: 3 });
    const record: ResultRecord = {
      job_id: job.job_id,
      result: await shapeResult(hooks, response, input),
      model: response.model ?? body.model,
      usage: response.usage,
      completed_at: new Date().toISOString(),
    };
    await writeJson(env.OUTPUTS, resultKey(job.job_id), record);
    await writeStatus(env.JOBS, { ...job, status: "done", updated_at: record.completed_at }, ttl);
  } catch (err) {
    const failed: JobStatus = { ...job, status: "failed", updated_at: new Date().toISOString(), error: describe(err) };
    await writeStatus(env.JOBS, failed, ttl).catch((e) => console.error(`job ${job.job_id}: status write failed`, e));
  }
}

export function createWorker(hooks: Hooks = {}): ExportedHandler<EventAgentEnv> {
  checkHooks(hooks);
  return {
    fetch: createFetch<EventAgentEnv>(PATTERN, [
      {
        path: "/jobs",
        POST: async (request, env, ctx) => {
          const started = Date.now();
          const cfg = readConfig(env);
          const body = await readJsonObject(request, jsonBytesFor(cfg.maxInputChars) + 1024);
          const input = validateInput(body.input, cfg.maxInputChars);
          await enforceRateLimit(env, cfg, env.JOBS);
          const job = newJob();
          await writeStatus(env.JOBS, job, cfg.jobTtlSeconds);
          ctx.waitUntil(runJob(env, cfg, hooks, job, input, started + MODEL_DEADLINE_MS));
          return json({ job_id: job.job_id, status: "queued" }, 202);
        },
      },
      {
        path: /^\/jobs\/(?<id>[^/]+)$/,
        GET: async (_request, env, _ctx, params) => json(await jobView(env.JOBS, env.OUTPUTS, params.id!)),
      },
    ]),
    scheduled: createScheduled<EventAgentEnv>(hooks),
  };
}
