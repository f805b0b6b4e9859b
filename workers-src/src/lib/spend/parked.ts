// Parked jobs (async-pipeline): a job whose turn came when the month's budget
// was spent keeps its input in parked_jobs (store.ts) and its R2 record says
// budget_exhausted, until POST /admin/jobs/resume queues it again.
import type { BaseEnv, QueueBody } from "../../env";
import type { Config } from "../config";
import { HttpError } from "../errors";
import { claimedFor, readJobVersion, writeJobUnchanged } from "../claim";
import { isTerminal, jobRecord, payerFields, writeJob, type JobRecord } from "../jobs";
import { holdJob, readHeld, releaseHeld } from "../held";
import { packJobs } from "../pack";
import { sendAll } from "../queue";
import { BudgetUnavailable, unavailable } from "./errors";
import { checkBudget } from "./guard";
import { num, run, spendDb } from "./store";

/**
 * Most parked jobs one resume call sends. Each costs an R2 get and a put:
 * Workers allow 1,000 subrequests to Cloudflare services per invocation
 * (https://developers.cloudflare.com/workers/platform/limits/#subrequests),
 * and the queue send (the jobs packed, PACK_MAX_JOBS a message: lib/pack.ts;
 * one sendBatch per 100 messages) and D1 queries need a few more.
 */
export const RESUME_MAX = 450;
/** D1 allows 100 bound parameters per statement (https://developers.cloudflare.com/d1/platform/limits/). */
const DELETE_CHUNK = 90;
/** Record puts in flight at once during a resume. */
const PUT_CONCURRENCY = 50;

export interface ParkedJob {
  job_id: string;
  input: string;
  /** why it was parked (the BudgetExhausted message) */
  error: string;
  /** a keyed product's job: its customer and the hash of the key that sent it, kept in parked_payers for the resume */
  customer?: string;
  key_hash?: string;
}

/** The rows that park a job: its input, and its customer in the same transaction when it has one. */
function parkRows(db: D1Database, cfg: Config, job: ParkedJob, parkedAt: string): D1PreparedStatement[] {
  const rows = [
    db
      .prepare(
        "INSERT INTO parked_jobs (product, job_id, input, error, parked_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product, job_id) DO NOTHING",
      )
      .bind(cfg.product, job.job_id, job.input, job.error, parkedAt),
  ];
  if (job.customer) {
    rows.push(
      db
        .prepare("INSERT INTO parked_payers (product, job_id, customer, key_hash) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (product, job_id) DO NOTHING")
        .bind(cfg.product, job.job_id, job.customer, job.key_hash ?? ""),
    );
  }
  return rows;
}

/**
 * Parks jobs of one delivery at once (batch mode past its budget): every
 * job's rows in ONE D1 round trip, then each job's record as parkJob writes
 * it without an etag. A delivery of five full packs parks 50 jobs in one
 * query instead of 50, inside the 50 D1 queries Workers Free allows an
 * invocation (lib/invocation.ts).
 */
export async function parkJobs(env: BaseEnv, cfg: Config, r2: R2Bucket, jobs: ReadonlyArray<{ job: ParkedJob; prev: JobRecord | null }>): Promise<void> {
  const db = spendDb(env);
  if (!db) throw new BudgetUnavailable("no spend store to park the job in");
  if (jobs.length === 0) return;
  const parkedAt = new Date().toISOString();
  await run(db, jobs.flatMap(({ job }) => parkRows(db, cfg, job, parkedAt)));
  for (const { job, prev } of jobs) {
    const rec = jobRecord(job.job_id, { status: "budget_exhausted", error: job.error }, prev);
    await writeJob(r2, rec);
    await holdJob(r2, rec);
  }
}

/**
 * Keeps a job whose budget is spent: its input in parked_jobs (one row; a
 * job parked again keeps its first row) and its R2 record set to
 * budget_exhausted, so a poll shows it. Throws when either write fails (the
 * caller retries the message: nothing is lost). With
 * `etag` (the version of the record the caller read; null: none), the record
 * is written only if it is still that version; when another delivery changed
 * it first by claiming the job's model call or ending it, the row is taken
 * back so that no resume sends the job again, and false is returned.
 */
export async function parkJob(
  env: BaseEnv,
  cfg: Config,
  r2: R2Bucket,
  job: ParkedJob,
  prev: JobRecord | null,
  attempts?: number,
  etag?: string | null,
): Promise<boolean> {
  const db = spendDb(env);
  if (!db) throw new BudgetUnavailable("no spend store to park the job in");
  await run(db, parkRows(db, cfg, job, new Date().toISOString()));
  const patch: Parameters<typeof jobRecord>[1] = { status: "budget_exhausted", error: job.error };
  if (attempts !== undefined) patch.attempts = attempts;
  const rec = jobRecord(job.job_id, patch, prev);
  if (etag === undefined || (await writeJobUnchanged(r2, rec, etag)) !== null) {
    if (etag === undefined) await writeJob(r2, rec);
    // Kept 31 days under held/, past jobs/'s retention (lib/held.ts).
    await holdJob(r2, rec);
    return true;
  }
  // Parked by a delivery that raced this one: its row is the row.
  if ((await readJobVersion(r2, job.job_id)).rec?.status === "budget_exhausted") return true;
  await run(
    db,
    ["parked_jobs", "parked_payers"].map((t) => db.prepare(`DELETE FROM ${t} WHERE product = ?1 AND job_id = ?2`).bind(cfg.product, job.job_id)),
  );
  return false;
}

export interface ParkedView {
  job_id: string;
  status: "budget_exhausted";
  parked_at: string;
  error: string;
  input_chars: number;
  /** a keyed product's job: the customer whose key sent it */
  customer?: string;
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
          "SELECT j.job_id AS job_id, j.parked_at AS parked_at, j.error AS error, length(j.input) AS input_chars, COALESCE(p.customer, '') AS customer " +
            "FROM parked_jobs AS j LEFT JOIN parked_payers AS p ON p.product = j.product AND p.job_id = j.job_id " +
            "WHERE j.product = ?1 AND j.job_id > ?2 ORDER BY j.job_id LIMIT ?3",
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
    ...(r.customer ? { customer: String(r.customer) } : {}),
  }));
  return { jobs: page, cursor: rows.length > limit ? page[page.length - 1]!.job_id : null };
}

type Row = { job_id: string; input: string; customer: string; key_hash: string };

async function oldestParked(db: D1Database, cfg: Config, n: number): Promise<Row[]> {
  try {
    const [res] = await run(db, [
      db
        .prepare(
          "SELECT j.job_id AS job_id, j.input AS input, COALESCE(p.customer, '') AS customer, COALESCE(p.key_hash, '') AS key_hash " +
            "FROM parked_jobs AS j LEFT JOIN parked_payers AS p ON p.product = j.product AND p.job_id = j.job_id " +
            "WHERE j.product = ?1 ORDER BY j.job_id LIMIT ?2",
        )
        .bind(cfg.product, n),
    ]);
    return res!.results.map((r) => ({ job_id: String(r.job_id), input: String(r.input), customer: String(r.customer), key_hash: String(r.key_hash) }));
  } catch (err) {
    throw unavailable("reading parked jobs", err);
  }
}

/**
 * Sets the jobs' records back to queued, PUT_CONCURRENCY jobs at a time (a
 * failure is a 503), and returns the rows to send. A parked row may outlive
 * its job's parking: a message of the job still in the queue (a redelivery,
 * a delivery that waited out a claim) may have claimed or ended it since.
 * So each record is read and written queued only if it is still that version
 * (R2 onlyIf etag: lib/claim.ts), and only if it is neither ended nor claimed:
 * a queued record written over a running or done one would let this job's
 * new message claim it again and pay the model a second time. Those jobs are
 * not sent (their rows go: another delivery has them).
 */
async function markQueued(bucket: R2Bucket, rows: Row[]): Promise<Row[]> {
  const send: Row[] = [];
  for (let i = 0; i < rows.length; i += PUT_CONCURRENCY) {
    await Promise.all(
      rows.slice(i, i + PUT_CONCURRENCY).map(async (r) => {
        try {
          const v = await readJobVersion(bucket, r.job_id);
          const parked = await stillParked(bucket, r.job_id, v.rec);
          if (parked !== null && (await writeJobUnchanged(bucket, jobRecord(r.job_id, { status: "queued" }, parked), v.etag)) !== null) {
            send.push(r);
            await releaseHeld(bucket, r.job_id); // moved back: jobs/ holds it again
          } else console.log(`resume: job ${r.job_id} is run or ended by another delivery (${v.rec?.status ?? "no record"}); not sent again`);
        } catch (err) {
          console.error(`resume: job ${r.job_id}: its queued record could not be written:`, err);
          throw new HttpError(503, "unavailable", "job records cannot be written right now; retry later", { "retry-after": "30" });
        }
      }),
    );
  }
  return send;
}

/**
 * The record a parked row's job is resumed from, or null when it may not be
 * sent again: its jobs/ record, neither ended nor claimed; or, when jobs/
 * has none (expired after retentionDays), its held/ copy, still parked. A job
 * run or ended since its parking dropped that copy (lib/held.ts), so an
 * expired done record is never paid again.
 */
async function stillParked(bucket: R2Bucket, id: string, rec: JobRecord | null): Promise<JobRecord | null> {
  if (rec !== null) return !isTerminal(rec) && claimedFor(rec) === 0 ? rec : null;
  const held = await readHeld(bucket, id);
  return held?.status === "budget_exhausted" ? held : null;
}

async function unpark(db: D1Database, cfg: Config, rows: Row[]): Promise<void> {
  const deletes: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += DELETE_CHUNK) {
    const ids = rows.slice(i, i + DELETE_CHUNK).map((r) => r.job_id);
    // A public product's jobs have no parked_payers rows: no delete (and no read) for them.
    const tables = rows.slice(i, i + DELETE_CHUNK).some((r) => r.customer !== "") ? ["parked_jobs", "parked_payers"] : ["parked_jobs"];
    for (const t of tables) {
      deletes.push(
        db
          .prepare(`DELETE FROM ${t} WHERE product = ?1 AND job_id IN (${ids.map((_, k) => `?${k + 2}`).join(", ")})`)
          .bind(cfg.product, ...ids),
      );
    }
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
 * spent; sets their records back to queued, sends them packed (lib/pack.ts:
 * PACK_MAX_JOBS jobs a message, so a backlog costs Queues a write, a read and
 * a delete per message, not per job; each job carries resumed_at and its
 * customer), then deletes their parked rows. A failure part-way leaves the
 * rows (a job may then be sent twice: its deliveries race for the claim,
 * lib/claim.ts, and one calls the model). Returns how many were resumed
 * (taken off the list: sent again, or found run or ended by another
 * delivery) and how many stay parked.
 */
export async function resumeParked(
  env: BaseEnv,
  cfg: Config,
  queue: Queue<QueueBody>,
  limit: number = RESUME_MAX,
  r2?: R2Bucket,
): Promise<{ resumed: number; remaining: number }> {
  const db = spendDb(env);
  if (!db) return { resumed: 0, remaining: 0 };
  await checkBudget(env, cfg);
  const rows = await oldestParked(db, cfg, Math.max(1, Math.min(RESUME_MAX, Math.floor(limit))));
  if (rows.length) {
    // Records first (queued), then the messages: a consumer that finishes a
    // job is never overwritten by its queued record. One read and one
    // conditional put per job.
    const send = await markQueued(r2 ?? (env as BaseEnv & { OUTPUTS: R2Bucket }).OUTPUTS, rows);
    const resumedAt = Date.now();
    const jobs = send.map((r) => ({ job_id: r.job_id, input: r.input, resumed_at: resumedAt, ...payerFields(r) }));
    const { error } = await sendAll(queue, packJobs(jobs));
    if (error !== undefined) {
      console.error("resume: JOB_QUEUE send failed:", error);
      throw new HttpError(503, "unavailable", "the job queue is unavailable; the jobs stay parked (some may run)", { "retry-after": "5" });
    }
    await unpark(db, cfg, rows);
  }
  return { resumed: rows.length, remaining: await countParked(db, cfg) };
}
