// The async pipeline's admin routes for the jobs the spend guard parked
// (lib/spend/parked.ts); /admin/* needs AUTH_TOKEN (lib/app.ts).
import type { AsyncPipelineEnv } from "../../env";
import { readConfig } from "../../lib/config";
import { badInput, HttpError, json } from "../../lib/errors";
import { readBodyCapped } from "../../lib/http";
import { listParked, RESUME_MAX, resumeParked } from "../../lib/spend/parked";

/** Most parked jobs one GET /admin/jobs page lists (one D1 query). */
const LIST_MAX = 1000;
const LIST_DEFAULT = 100;

/** GET /admin/jobs?status=budget_exhausted&limit=N&cursor=C */
export async function listParkedRoute(request: Request, env: AsyncPipelineEnv): Promise<Response> {
  const q = new URL(request.url).searchParams;
  const status = q.get("status") ?? "budget_exhausted";
  if (status !== "budget_exhausted") throw badInput("only status=budget_exhausted can be listed (the other jobs are not indexed)");
  const rawLimit = q.get("limit");
  const limit = rawLimit === null ? LIST_DEFAULT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX) throw badInput(`limit must be an integer from 1 to ${LIST_MAX}`);
  return json(await listParked(env, readConfig(env), limit, q.get("cursor") || null));
}

/** POST /admin/jobs/resume, optional body {"limit":N} (default and most: RESUME_MAX per call). */
export async function resumeRoute(request: Request, env: AsyncPipelineEnv): Promise<Response> {
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
