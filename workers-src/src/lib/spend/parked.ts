// Parked jobs (async-pipeline): a job whose turn came when the month's budget
// was spent keeps its input in parked_jobs (store.ts) and its R2 record says
// budget_exhausted, until POST /admin/jobs/resume queues it again.
import type { BaseEnv, JobMessage } from "../../env";
import type { Config } from "../config";
import { HttpError } from "../errors";
import { jobRecord, writeJob, type JobRecord } from "../jobs";
import { sendAll } from "../queue";
import { BudgetUnavailable, unavailable } from "./errors";
import { checkBudget } from "./guard";
import { num, run, spendDb } from "./store";

/** Most parked jobs one resume call sends (each costs an R2 put: Workers allow 1,000 subrequests to Cloudflare services per invocation). */
export const RESUME_MAX = 500;
/** D1 allows 100 bound parameters per statement (https://developers.cloudflare.com/d1/platform/limits/). */
const DELETE_CHUNK = 90;
/** Record puts in flight at once during a resume. */
const PUT_CONCURRENCY = 50;

export interface ParkedJob {
  job_id: string;
  input: string;
  /** why it was parked (the BudgetExhausted message) */
  error: string;
}

/**
 * Keeps a job whose budget is spent: its input in parked_jobs (one row; a
 * job parked again keeps its first row) and its R2 record set to
 * budget_exhausted, so a poll shows it. Throws when either write fails (the
 * caller retries the message: nothing is lost).
 */
export async function parkJob(env: BaseEnv, cfg: Config, r2: R2Bucket, job: ParkedJob, prev: JobRecord | null, attempts?: number): Promise<void> {
  const db = spendDb(env);
  if (!db) throw new BudgetUnavailable("no spend store to park the job in");
  await run(db, [
    db
      .prepare(
        "INSERT INTO parked_jobs (product, job_id, input, error, parked_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product, job_id) DO NOTHING",
      )
      .bind(cfg.product, job.job_id, job.input, job.error, new Date().toISOString()),
  ]);
  const patch: Parameters<typeof jobRecord>[1] = { status: "budget_exhausted", error: job.error };
  if (attempts !== undefined) patch.attempts = attempts;
  await writeJob(r2, jobRecord(job.job_id, patch, prev));
}

export interface ParkedView {
  job_id: string;
  status: "budget_exhausted";
  parked_at: string;
  error: string;
  input_chars: number;
}

/** A page of the product's parked jobs, by job id; cursor: the last id of the page, null at the end. */
export async function listParked(
  env: BaseEnv,
  cfg: Config,
  limit: number,
  cursor: string | null,
): Promise<{ jobs: ParkedView[]; cursor: string | null }> {
  const db = spendDb(env);
  if (!db) return { jobs: [], cursor: null };
  let res: D1Result<Record<string, unknown>>;
  try {
    [res] = (await run(db, [
      db
        .prepare(
          "SELECT job_id, parked_at, error, length(input) AS input_chars FROM parked_jobs WHERE product = ?1 AND job_id > ?2 ORDER BY job_id LIMIT ?3",
        )
        .bind(cfg.product, cursor ?? "", limit + 1),
    ])) as [D1Result<Record<string, unknown>>];
  } catch (err) {
    throw unavailable("listing parked jobs", err);
  }
  const rows = res.results;
  const page = rows.slice(0, limit).map((r) => ({
    job_id: String(r.job_id),
    status: "budget_exhausted" as const,
    parked_at: String(r.parked_at),
    error: String(r.error),
    input_chars: num(r.input_chars),
  }));
  return { jobs: page, cursor: rows.length > limit ? page[page.length - 1]!.job_id : null };
}

type Row = { job_id: string; input: string };

async function oldestParked(db: D1Database, cfg: Config, n: number): Promise<Row[]> {
  try {
    const [res] = await run(db, [
      db.prepare("SELECT job_id, input FROM parked_jobs WHERE product = ?1 ORDER BY job_id LIMIT ?2").bind(cfg.product, n),
    ]);
    return res!.results.map((r) => ({ job_id: String(r.job_id), input: String(r.input) }));
  } catch (err) {
    throw unavailable("reading parked jobs", err);
  }
}

/** Sets the jobs' records back to queued, PUT_CONCURRENCY puts at a time; a failure is a 503. */
async function markQueued(bucket: R2Bucket, rows: Row[]): Promise<void> {
  for (let i = 0; i < rows.length; i += PUT_CONCURRENCY) {
    await Promise.all(
      rows.slice(i, i + PUT_CONCURRENCY).map((r) =>
        writeJob(bucket, jobRecord(r.job_id, { status: "queued" })).catch((err) => {
          console.error(`resume: job ${r.job_id}: its queued record could not be written:`, err);
          throw new HttpError(503, "unavailable", "job records cannot be written right now; retry later", { "retry-after": "30" });
        }),
      ),
    );
  }
}

async function unpark(db: D1Database, cfg: Config, rows: Row[]): Promise<void> {
  const deletes: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += DELETE_CHUNK) {
    const ids = rows.slice(i, i + DELETE_CHUNK).map((r) => r.job_id);
    deletes.push(
      db
        .prepare(`DELETE FROM parked_jobs WHERE product = ?1 AND job_id IN (${ids.map((_, k) => `?${k + 2}`).join(", ")})`)
        .bind(cfg.product, ...ids),
    );
  }
  try {
    await run(db, deletes);
  } catch (err) {
    throw unavailable("deleting resumed jobs' parked rows (they were queued; a later resume may queue them again)", err);
  }
}

async function countParked(db: D1Database, cfg: Config): Promise<number> {
  try {
    const [res] = await run(db, [db.prepare("SELECT COUNT(*) AS n FROM parked_jobs WHERE product = ?1").bind(cfg.product)]);
    return num(res!.results[0]?.n);
  } catch (err) {
    console.error("resume: counting the parked jobs left failed:", err);
    return 0;
  }
}

/**
 * Re-queues up to `limit` (at most RESUME_MAX) of the product's parked jobs,
 * oldest id first: refuses with BudgetExhausted while the budget is still
 * spent; sets their records back to queued, sends them (each message carries
 * resumed_at), then deletes their parked rows. A failure part-way leaves the
 * rows (a job may then run twice; a job already done is not paid for again:
 * the consumer acks a redelivery of a done job). Returns how many were
 * resumed and how many stay parked.
 */
export async function resumeParked(
  env: BaseEnv,
  cfg: Config,
  queue: Queue<JobMessage>,
  limit: number = RESUME_MAX,
  r2?: R2Bucket,
): Promise<{ resumed: number; remaining: number }> {
  const db = spendDb(env);
  if (!db) return { resumed: 0, remaining: 0 };
  await checkBudget(env, cfg);
  const rows = await oldestParked(db, cfg, Math.max(1, Math.min(RESUME_MAX, Math.floor(limit))));
  if (rows.length) {
    // Records first (queued), then the messages: a consumer that finishes a
    // job is never overwritten by its queued record. One put per job, no read.
    await markQueued(r2 ?? (env as BaseEnv & { OUTPUTS: R2Bucket }).OUTPUTS, rows);
    const resumedAt = Date.now();
    const { error } = await sendAll(queue, rows.map((r) => ({ job_id: r.job_id, input: r.input, resumed_at: resumedAt })));
    if (error !== undefined) {
      console.error("resume: JOB_QUEUE send failed:", error);
      throw new HttpError(503, "unavailable", "the job queue is unavailable; the jobs stay parked (some may run)", { "retry-after": "5" });
    }
    await unpark(db, cfg, rows);
  }
  return { resumed: rows.length, remaining: await countParked(db, cfg) };
}
