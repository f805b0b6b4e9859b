// Held records (async-pipeline): the records a person may still act on, dead
// (retries exhausted, input kept) and parked (budget_exhausted, waiting for
// POST /admin/jobs/resume), are written under held/<id>.json as well as
// jobs/<id>.json. The bucket's lifecycle rules keep held/ at least 31 days
// (internal/plan/lifecycle.go) and jobs/ only settings.retentionDays (7 by
// default), so a held job outlives its jobs/ record.
//
// Why a copy and not a move: jobs/<id>.json is where deliveries claim a job's
// model call with conditional puts (lib/claim.ts). R2's delete takes no
// condition, so deleting the jobs/ record could remove a claim or result a
// racing delivery had just written, and that job would be paid again. The
// copy costs one put (Class A) per dead or parked job; its delete, when the
// job is resumed or ends after all, is free (R2 pricing: DeleteObject is a
// free operation, https://developers.cloudflare.com/r2/pricing/#free-operations).
import { readJson, writeJson, type JobRecord, type Unrecorded, type UnrecordedView } from "./jobs";

export const heldKey = (id: string) => `held/${id}.json`;

/** Whether a record is one kept under held/: dead or parked. */
export const isHeld = (rec: JobRecord | null | undefined): boolean => rec?.status === "dead" || rec?.status === "budget_exhausted";

/** One put of the held copy of a dead or parked record (callers check isHeld). */
export const holdJob = (r2: R2Bucket, rec: JobRecord): Promise<void> => writeJson(r2, heldKey(rec.job_id), rec);

/** The held copy of job id, or null. One R2 get. */
export async function readHeld(r2: R2Bucket, id: string): Promise<JobRecord | null> {
  const v = await readJson<JobRecord>(r2, heldKey(id));
  return v !== null && typeof v === "object" && isHeld(v) ? v : null;
}

/**
 * Drops the held copy of a job that left its held state (resumed, or run to
 * its end by a delivery after all): a free delete. A failure is logged, not
 * thrown: GET reads held/ only when jobs/ has no record, so a stale copy shows
 * only once the job's own record has expired.
 */
export async function releaseHeld(r2: R2Bucket, id: string): Promise<void> {
  await r2.delete(heldKey(id)).catch((err) => console.error(`job ${id}: held copy not deleted:`, err));
}


/**
 * GET /jobs/:id of a job with no jobs/ record: younger than `windowMs` it is
 * whatever `base` says (no further op: a held job that young still has its
 * jobs/ record, which outlives the window); older, its held copy when there
 * is one (one R2 get), else `base`.
 */
export function unrecordedOrHeld(r2: R2Bucket, id: string, windowMs: number, base: (ageMs: number) => UnrecordedView): Unrecorded {
  return async (ageMs) => {
    if (ageMs < windowMs) return base(ageMs);
    const held = await readHeld(r2, id);
    return held ? { ...base(ageMs), record: held } : base(ageMs);
  };
}
