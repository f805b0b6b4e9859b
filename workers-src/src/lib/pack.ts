// Packed queue messages (async-pipeline): the jobs one POST /jobs creates
// travel together in as few messages as fit, so that a client posting ten
// jobs pays Queues one write, one read and one delete instead of ten of each.
// Queues bills every 64 KB of a message written, read or deleted as one
// operation (https://developers.cloudflare.com/queues/platform/pricing/), and
// a message may be at most 128 KB
// (https://developers.cloudflare.com/queues/platform/limits/): a pack stays
// within one 64 KB unit. A job too big to share one goes alone, as before.
//
// A message's body is either one job (JobMessage, as every message was before
// packing) or a pack ({ jobs: JobMessage[] }); the consumer reads both. Each
// job of a pack still ends on its own (patterns/async-pipeline/pack.ts).
import { PACK_MAX_JOBS } from "../contract.gen";
import type { JobMessage, PackMessage, QueueBody } from "../env";
import { isJobMessage } from "./jobs";

export type { PackMessage, QueueBody } from "../env";

/**
 * A pack's JSON body stays under one 64 KB billing unit (65,536 bytes,
 * Queues pricing above), less 1 KB for what Queues stores with the body
 * (content type, delay, ids): erring toward one more message, never toward a
 * second billing unit.
 */
export const PACK_MAX_BYTES = 64 * 1024 - 1024;

/**
 * Most jobs in one pack (the contract's PackMaxJobs, internal/contract/ops.go).
 * A delivered pack runs its jobs at once in one consumer invocation, and the
 * consumer runs at least one message a delivery, so a pack must fit what one
 * invocation may make on Workers Free (lib/invocation.ts): at worst 2 model
 * requests and, with a spend store, 4 D1 queries a job
 * (patterns/async-pipeline/pack.ts JOB_COST), so ten jobs are 20 of the 50
 * external fetches and 40 of the 50 D1 queries, the other 9 kept for budget
 * alerts: a delivery with a spend store runs one full pack
 * (deliveryMaxJobs), and sends the other messages on; the default batchSize
 * (internal/contract/invocation DeliveryPacks) is that many full packs.
 */
export { PACK_MAX_JOBS };

export function isPackMessage(v: unknown): v is PackMessage {
  const jobs = (v as PackMessage | null)?.jobs;
  return typeof v === "object" && v !== null && Array.isArray(jobs) && jobs.length > 0 && jobs.every(isJobMessage);
}

/** The jobs a message body carries (none: not a job message). */
export function jobsOf(body: unknown): JobMessage[] {
  if (isPackMessage(body)) return body.jobs;
  return isJobMessage(body) ? [body] : [];
}

const enc = new TextEncoder();
/** Bytes a job adds to a pack's JSON: its own JSON and a comma. */
const jobBytes = (j: JobMessage) => enc.encode(JSON.stringify(j)).byteLength + 1;
/** A pack's JSON without jobs: {"jobs":[]} */
const PACK_FRAME_BYTES = 11;

/**
 * The jobs grouped into message bodies, in order: runs of jobs packed up to
 * PACK_MAX_JOBS and PACK_MAX_BYTES, a run of one sent as a plain job message.
 */
export function packJobs(jobs: readonly JobMessage[]): QueueBody[] {
  const groups: JobMessage[][] = [];
  let cur: JobMessage[] = [];
  let bytes = PACK_FRAME_BYTES;
  for (const j of jobs) {
    const b = jobBytes(j);
    if (cur.length > 0 && (cur.length === PACK_MAX_JOBS || bytes + b > PACK_MAX_BYTES)) {
      groups.push(cur);
      [cur, bytes] = [[], PACK_FRAME_BYTES];
    }
    cur.push(j);
    bytes += b;
  }
  if (cur.length) groups.push(cur);
  return groups.map((g) => (g.length === 1 ? g[0]! : { jobs: g }));
}

/** How many jobs the first `messages` bodies carry. */
export const jobsIn = (bodies: readonly QueueBody[], messages: number) =>
  bodies.slice(0, messages).reduce((n, b) => n + jobsOf(b).length, 0);
