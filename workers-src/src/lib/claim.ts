// A job's model call is claimed durably before it is made. Queues deliver at
// least once (a batch whose invocation fails is delivered again whole, acked
// messages included), a deferral or a resume sends a job again, and two
// deliveries of one job may run at once. Each reads the job's record and its
// etag, then writes the record running with a lease by a conditional put:
// etagMatches the etag it read, or etagDoesNotMatch "*" (create only) when
// there was none. R2 applies a conditional put atomically and refuses it
// (put returns null) when the record changed since it was read, so of the
// deliveries that race exactly one claims and calls the model; the others see
// a fresh claim and wait it out. A claim whose lease has passed belongs to a
// delivery that died or gave up: its call failed as far as the job knows, and
// a later delivery claims over it. R2 docs, Workers API reference
// ("R2Conditional", "put ... returns null if the onlyIf preconditions
// failed"): https://developers.cloudflare.com/r2/api/workers/workers-api-reference/
import { jobKey, jobRecord, readJobTagged, type JobRecord } from "./jobs";

const JSON_META = { httpMetadata: { contentType: "application/json" } };

/** A job's record and the etag of the object that holds it (null: none). */
export interface JobVersion {
  rec: JobRecord | null;
  etag: string | null;
}

export async function readJobVersion(r2: R2Bucket, id: string): Promise<JobVersion> {
  const { rec, etag } = await readJobTagged(r2, id);
  return { rec, etag: etag ?? null };
}

/**
 * Seconds until another delivery's claim on the job lapses, 0 when there is
 * none (the record is not running, or its lease has passed).
 */
export function claimedFor(rec: JobRecord | null, now = Date.now()): number {
  if (rec?.status !== "running" || typeof rec.lease_until !== "string") return 0;
  const until = Date.parse(rec.lease_until);
  return Number.isFinite(until) && until > now ? Math.ceil((until - now) / 1000) : 0;
}

/**
 * Claims the job's model call for `leaseMs`: its record set running, written
 * only if it is still the version read. Returns the running record, or null
 * when another delivery changed the record first (it claimed, or ended the
 * job): read it again.
 */
export async function claimJob(r2: R2Bucket, v: JobVersion, id: string, attempts: number, leaseMs: number): Promise<JobVersion | null> {
  const rec = jobRecord(id, { status: "running", attempts, lease_until: new Date(Date.now() + leaseMs).toISOString() }, v.rec);
  const etag = await writeJobUnchanged(r2, rec, v.etag);
  return etag === null ? null : { rec, etag };
}

/**
 * Writes the record only if the job's object is still at `etag` (null: only
 * if there is none). Returns the new etag, or null when it changed first.
 */
export async function writeJobUnchanged(r2: R2Bucket, rec: JobRecord, etag: string | null): Promise<string | null> {
  const onlyIf: R2Conditional = etag === null ? { etagDoesNotMatch: "*" } : { etagMatches: etag };
  const put = await r2.put(jobKey(rec.job_id), JSON.stringify(rec), { ...JSON_META, onlyIf });
  return put === null ? null : put.etag;
}
