// The job store: ONE record per job in R2 at jobs/<id>.json (R2 reads are
// strongly consistent: a record is visible to every location as soon as its
// put returns). A job that has no record yet needs none: its id proves it was
// issued and when (lib/jobid.ts), so POST writes nothing and GET /jobs/:id
// reads at most one object.
import { TERMINAL_JOB_STATES, type JobState } from "../contract.gen";
import type { BaseEnv, JobMessage } from "../env";
import { notFound } from "./errors";
import { createdAt, isJobId, verifyJobId } from "./jobid";

/**
 * The job states are the contract's (JOB_STATES, internal/contract). One of
 * them, budget_exhausted (async-pipeline): the month's model budget was spent
 * when the job's turn came; its input is kept in the spend store
 * (lib/spend/parked.ts, parked_jobs) until POST /admin/jobs/resume queues it
 * again.
 */
export type { JobState } from "../contract.gen";

/** The states a job ends in: a message of a job in one is acked, never run again. */
export const TERMINAL: ReadonlySet<JobState> = new Set<JobState>(TERMINAL_JOB_STATES);

export const isTerminal = (rec: JobRecord | null | undefined): boolean => rec != null && TERMINAL.has(rec.status);

/** Whether a queue message's body is a job's (an id this code could have issued, an input). */
export function isJobMessage(v: unknown): v is JobMessage {
  const m = v as JobMessage | null;
  return typeof m === "object" && m !== null && typeof m.job_id === "string" && isJobId(m.job_id) && typeof m.input === "string";
}

/** The customer and key hash a job message (or a batch job) carries, as the fields of a message that sends it again; none for a public product's job. */
export function payerFields(m: { customer?: string; key_hash?: string }): { customer?: string; key_hash?: string } {
  if (typeof m.customer !== "string" || m.customer === "") return {};
  return { customer: m.customer, ...(typeof m.key_hash === "string" && m.key_hash !== "" ? { key_hash: m.key_hash } : {}) };
}

/** The customer a job message names, as a record's field; none for a public product's job. */
export const customerField = (m: { customer?: string }): { customer?: string } => (typeof m.customer === "string" && m.customer !== "" ? { customer: m.customer } : {});

/** What jobs/<id>.json holds. */
export interface JobRecord {
  job_id: string;
  status: JobState;
  created_at: string;
  updated_at: string;
  /** done: the shaped result */
  result?: unknown;
  model?: string;
  usage?: unknown;
  /** the last error (failed, dead, budget_exhausted, or queued again after a failed attempt) */
  error?: string;
  /** queue delivery attempts so far (async-pipeline; in batch mode: the job's Message Batch submissions so far) */
  attempts?: number;
  /** batch mode: the Message Batch that holds the job (submitted, and done from it) */
  batch_id?: string;
  /** dead only: the input, so the job can be sent again by hand */
  input?: string;
  /** the customer whose key created the job (a product with keys); GET /jobs/:id shows the job to that customer only */
  customer?: string;
  /** running (async-pipeline): until when the delivery that claimed the model call owns it (lib/claim.ts) */
  lease_until?: string;
}

export const jobKey = (id: string) => `jobs/${id}.json`;

const JSON_META = { httpMetadata: { contentType: "application/json" } };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A record for job id, created when its id says, updated now. */
export function jobRecord(id: string, patch: Partial<JobRecord> & { status: JobState }, prev?: JobRecord | null): JobRecord {
  const now = new Date().toISOString();
  const created = prev?.created_at ?? new Date(createdAt(id)).toISOString();
  const base: Partial<JobRecord> = prev ? { ...prev } : {};
  delete base.error;
  delete base.lease_until;
  return { ...base, ...patch, job_id: id, created_at: created, updated_at: now };
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

const isRecord = (v: unknown): v is JobRecord => typeof v === "object" && v !== null && typeof (v as JobRecord).status === "string";

export async function readJob(r2: R2Bucket, id: string): Promise<JobRecord | null> {
  const v = await readJson<JobRecord>(r2, jobKey(id));
  return isRecord(v) ? v : null;
}

/** The job's record with its etag, for a conditional write over it (writeJobIf); rec null when absent or unreadable. */
export async function readJobTagged(r2: R2Bucket, id: string): Promise<{ rec: JobRecord | null; etag?: string }> {
  const obj = await r2.get(jobKey(id));
  if (!obj) return { rec: null };
  try {
    const v = await obj.json();
    return { rec: isRecord(v) ? v : null, etag: obj.etag };
  } catch {
    return { rec: null, etag: obj.etag };
  }
}

/** One put of the job record. */
export async function writeJob(r2: R2Bucket, rec: JobRecord): Promise<void> {
  await writeJson(r2, jobKey(rec.job_id), rec);
}

/** One put of the job record only over the record that was read (R2 onlyIf etag; none read: unconditional). False when it changed meanwhile. */
export async function writeJobIf(r2: R2Bucket, rec: JobRecord, etag: string | undefined): Promise<boolean> {
  const opts: R2PutOptions = { ...JSON_META };
  if (etag !== undefined) opts.onlyIf = { etagMatches: etag };
  return (await r2.put(jobKey(rec.job_id), JSON.stringify(rec), opts)) !== null;
}

/**
 * Runs a put `tries` times with a short backoff (a put that failed may work a
 * moment later), never starting a try after `deadline` (epoch ms). For puts
 * of a whole object, which a repeat leaves as it was.
 */
export async function putRetrying(put: () => Promise<unknown>, deadline: number, tries = 3): Promise<void> {
  for (let n = 1; ; n++) {
    try {
      await put();
      return;
    } catch (err) {
      const wait = 250 * 2 ** (n - 1);
      if (n >= tries || Date.now() + wait >= deadline) throw err;
      await sleep(wait);
    }
  }
}

/** writeJob through putRetrying: every put is of the same whole record, so a repeat is harmless. */
export const writeJobRetrying = (r2: R2Bucket, rec: JobRecord, deadline: number, tries = 3): Promise<void> =>
  putRetrying(() => writeJob(r2, rec), deadline, tries);

/** What GET /jobs/:id shows of a record. */
function view(rec: JobRecord): Record<string, unknown> {
  const v: Record<string, unknown> = { job_id: rec.job_id, status: rec.status };
  if (rec.status === "done") v.result = rec.result ?? null;
  else if (rec.error !== undefined) v.error = rec.error;
  if (rec.status === "submitted" && rec.batch_id !== undefined) v.batch_id = rec.batch_id;
  return v;
}

/**
 * What a job without a record is, by its age (ms): the pattern decides (the
 * workflow runner may ask its instance, and find the record written since).
 */
export type Unrecorded = (ageMs: number) => UnrecordedView | Promise<UnrecordedView>;
export type UnrecordedView = { status: JobState; error?: string; record?: JobRecord };

/**
 * GET /jobs/:id: a malformed id is a 404 before any I/O; then one read of the
 * record, which wins when present and names the asking customer (even if the
 * key that signed the id has rotated since); a record of another customer is
 * a 404, and one that names none (written where the customer is not known)
 * is shown only if the id was issued to the asking customer. With no record,
 * an id this Worker did not issue to this customer is a 404, and one it did
 * is whatever `unrecorded` says for its age. customer is "" on a public product.
 */
export async function jobView(env: BaseEnv, r2: R2Bucket, id: string, unrecorded: Unrecorded, customer = ""): Promise<Record<string, unknown>> {
  if (!isJobId(id)) throw notFound(`no job ${id}`);
  const rec = await readJob(r2, id);
  if (rec && rec.customer !== undefined) {
    if (rec.customer !== customer) throw notFound(`no job ${id}`);
    return view({ ...rec, job_id: id });
  }
  if (rec && customer === "") return view({ ...rec, job_id: id });
  if (!(await verifyJobId(env, id, customer))) throw notFound(`no job ${id}`);
  if (rec) return view({ ...rec, job_id: id });
  const { status, error, record } = await unrecorded(Date.now() - createdAt(id));
  // The id was issued to this customer, so a record found since is theirs.
  if (record) return view({ ...record, job_id: id });
  const v: Record<string, unknown> = { job_id: id, status };
  if (error !== undefined) v.error = error;
  return v;
}
