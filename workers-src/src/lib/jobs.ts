// The job store: status JSON in KV under job:<id> (expires after JOB_TTL_SECONDS),
// results in R2 at results/<id>.json, dead-letter records at failures/<id>.json.
// Outputs of any size go to R2, never KV.
import { notFound } from "./errors";

export type JobState = "queued" | "running" | "done" | "failed" | "dead";

export interface JobStatus {
  job_id: string;
  status: JobState;
  created_at: string;
  updated_at: string;
  /** the last error (failed, dead, or queued again after a failed attempt) */
  error?: string;
  /** queue delivery attempts so far (async-pipeline) */
  attempts?: number;
}

/** What results/<id>.json holds. */
export interface ResultRecord {
  job_id: string;
  result: unknown;
  model?: string;
  usage?: unknown;
  completed_at: string;
}

export const statusKey = (id: string) => `job:${id}`;
export const resultKey = (id: string) => `results/${id}.json`;
export const failureKey = (id: string) => `failures/${id}.json`;

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isJobId = (id: string) => ID.test(id);

export function newJob(id = crypto.randomUUID()): JobStatus {
  const now = new Date().toISOString();
  return { job_id: id, status: "queued", created_at: now, updated_at: now };
}

const JSON_META = { httpMetadata: { contentType: "application/json" } };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Writes a status. KV accepts about one write per second per key, and a job's
 * status can change faster than that, so a failed write is tried once more
 * after a little over a second.
 */
export async function writeStatus(kv: KVNamespace, job: JobStatus, ttlSeconds: number): Promise<void> {
  const value = JSON.stringify(job);
  const opts = { expirationTtl: Math.max(60, ttlSeconds) };
  try {
    await kv.put(statusKey(job.job_id), value, opts);
  } catch {
    await sleep(1100);
    await kv.put(statusKey(job.job_id), value, opts);
  }
}

export async function readStatus(kv: KVNamespace, id: string): Promise<JobStatus | null> {
  const raw = await kv.get(statusKey(id));
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as JobStatus;
    return typeof v === "object" && v !== null && typeof v.status === "string" ? v : null;
  } catch {
    return null;
  }
}

/** Sets a job's status, keeping created_at (and attempts) from what KV holds. */
export async function updateStatus(
  kv: KVNamespace,
  id: string,
  patch: Partial<JobStatus> & { status: JobState },
  ttlSeconds: number,
): Promise<JobStatus> {
  const prev = (await readStatus(kv, id)) ?? newJob(id);
  const { error: _dropped, ...rest } = prev;
  const next: JobStatus = { ...rest, ...patch, job_id: id, updated_at: new Date().toISOString() };
  await writeStatus(kv, next, ttlSeconds);
  return next;
}

export async function writeJson(r2: R2Bucket, key: string, value: unknown): Promise<void> {
  await r2.put(key, JSON.stringify(value), JSON_META);
}

export async function readJson<T>(r2: R2Bucket, key: string): Promise<T | null> {
  const obj = await r2.get(key);
  if (!obj) return null;
  try {
    return (await obj.json()) as T;
  } catch {
    return null;
  }
}

export async function hasResult(r2: R2Bucket, id: string): Promise<boolean> {
  return (await r2.head(resultKey(id))) !== null;
}

/**
 * GET /jobs/:id. KV may lag behind R2 (it is eventually consistent), so a
 * missing status with a stored result reads as done.
 */
export async function jobView(kv: KVNamespace, r2: R2Bucket, id: string): Promise<Record<string, unknown>> {
  if (!isJobId(id)) throw notFound(`no job ${id}`);
  const status = await readStatus(kv, id);
  if (status === null || status.status === "done") {
    const record = await readJson<ResultRecord>(r2, resultKey(id));
    if (record) return { job_id: id, status: "done", result: record.result };
    if (status === null) throw notFound(`no job ${id}`);
  }
  const view: Record<string, unknown> = { job_id: id, status: status.status };
  if (status.error !== undefined && status.status !== "done") view.error = status.error;
  return view;
}
