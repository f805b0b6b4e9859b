// The poller in batch mode (pollBatches, from the Worker's cron trigger): it
// lists the open batch records (one list), retrieves each batch, and for each
// that ended reads its results (JSONL) and applies them (apply.ts). The batch
// record is deleted once all its results are applied.
//
// Work per poll is bounded by one invocation's limits on Workers Free
// (lib/invocation.ts: 50 external fetches, 50 D1 queries, 1,000 calls to
// Cloudflare services): at most POLL_MAX_FETCHES fetches (a retrieve per open
// batch, one more for the results of an ended one), POLL_MAX_BINDING_OPS R2,
// queue and KV calls (an ended batch of n jobs of k customers costs at most
// 3n + 3 + k: one KV read of a key per customer per poll run, payers.ts; KV
// counts its reads in the same 1,000 operations per invocation,
// https://developers.cloudflare.com/kv/platform/limits/) and, with a spend
// store, POLL_MAX_D1 D1 queries: an ended batch's succeeded results record
// their spend in ONE record per payer, the customer or none (settle.ts;
// D1_PER_PAYER: the upsert, its one retry, its alerts' claim), so
// POLL_RECORDS (13) payers a run: a full batch of 100 jobs of up to 13
// payers (12 customers and the jobs of none) settles in one run. The oldest
// batches go first and the rest waits for the next run; an ended batch with
// more payers than the records left settles the jobs of as many as fit, and
// its record stays until a later run settles the rest (a job settled already
// is skipped then: its record no longer names the batch).
// The budget alerts keep their own room (ALERT_ROOM: a webhook POST each,
// and a D1 release when it fails); one refused for the subrequest limit
// releases its claim and is sent by a later record (lib/spend/alerts.ts).
import type { Hooks } from "../../hooks";
import { ModelError } from "../anthropic";
import type { Config } from "../config";
import { batchResults, retrieveBatch, type BatchResult, type MessageBatch } from "./api";
import "../../features";
import { ALERT_ROOM, D1_PER_ALERT_CLAIM, D1_PER_RECORD, FREE_D1_QUERIES } from "../invocation";
import { spendDb } from "../spend/store";
import { applyResults, type PollSummary, type SpendRoom } from "./apply";
import { budgetOf, type BatchBudget, type BatchOptions } from "./guard";
import { Payers } from "./payers";
import { BATCHES_PREFIX, type BatchEnv, type BatchRecord } from "./record";

export type { PollSummary } from "./apply";

/** Most external fetches one poll makes: of Free's 50, ALERT_ROOM (9) are left to the alerts' webhook POSTs and one to the product's own cron hook. */
export const POLL_MAX_FETCHES = 40;
/** D1 queries of one payer's spend record with a spend store (settle.ts): the upsert, its one retry (lib/invocation.ts D1_PER_RECORD) and its alerts' claim (D1_PER_ALERT_CLAIM): 3. */
export const D1_PER_PAYER = D1_PER_RECORD + D1_PER_ALERT_CLAIM;
/** Most D1 queries one poll leaves to its spend records: Free's 50, less the alerts' room (ALERT_ROOM, 9): 41. */
export const POLL_MAX_D1 = FREE_D1_QUERIES - ALERT_ROOM;
/** Most spend records (payers) one poll makes with a spend store: floor(41 / 3) = 13. */
export const POLL_RECORDS = Math.floor(POLL_MAX_D1 / D1_PER_PAYER);
/** Most R2 and queue binding calls one poll makes (1,000 per invocation). */
export const POLL_MAX_BINDING_OPS = 800;
/** Most batch records one poll lists (one r2.list). */
export const POLL_LIST_LIMIT = 1000;
/** What a batch record without a jobs count is counted at (a delivery holds at most 100 messages). */
const JOBS_UNKNOWN = 100;

/** The KV reads a listed batch may add: its customers count (submit.ts), else one per job. */
function customersOf(meta: Record<string, string> | undefined, jobs: number): number {
  const k = Number(meta?.customers);
  return Number.isInteger(k) && k >= 0 && k <= jobs ? k : jobs;
}

/** One poll's running totals of its per-invocation bounds. */
interface Spent {
  fetches: number;
  bindingOps: number;
  /** spend records (payers) the run may still make (POLL_RECORDS with a spend store) */
  room: SpendRoom;
}

/** The batch, or an ended stand-in when it is gone (404: its requests will not end; each is retried as expired); null when the retrieve failed. */
async function retrieveOrGone(env: BatchEnv, cfg: Config, id: string): Promise<{ batch: MessageBatch; gone: boolean } | null> {
  try {
    return { batch: await retrieveBatch(env, cfg, id), gone: false };
  } catch (err) {
    if (err instanceof ModelError && err.status === 404) return { batch: { id, processing_status: "ended", results_url: null }, gone: true };
    console.error(`message batch ${id}: retrieve failed (next run tries again):`, err);
    return null;
  }
}

/** An ended batch: its record, its results, their application; the record deleted once every job is settled. */
async function finish(
  env: BatchEnv,
  cfg: Config,
  hooks: Hooks,
  budget: BatchBudget,
  payers: Payers,
  key: string,
  id: string,
  ended: { batch: MessageBatch; gone: boolean },
  sum: PollSummary,
  spent: Spent,
): Promise<void> {
  try {
    spent.bindingOps++;
    const obj = await env.OUTPUTS.get(key);
    const record = obj ? ((await obj.json()) as BatchRecord) : null;
    if (!record || !Array.isArray(record.jobs)) {
      console.error(`message batch ${id}: its record is unreadable; left in place`);
      return;
    }
    let results = new Map<string, BatchResult>();
    if (!ended.gone) {
      spent.fetches++;
      try {
        results = await batchResults(env, cfg, ended.batch);
      } catch (err) {
        if (!(err instanceof ModelError && err.status === 404)) throw err;
        // Results gone (kept 29 days): every request counts as expired.
      }
    }
    spent.bindingOps += 3 * record.jobs.length + 1;
    const reads = payers.reads;
    const applied = await applyResults(env, cfg, hooks, budget, payers, record, results, sum, spent.room);
    spent.bindingOps += payers.reads - reads;
    if (applied) {
      await env.OUTPUTS.delete(key);
      sum.finished++;
    }
  } catch (err) {
    console.error(`message batch ${id}: applying its results failed (next run tries again):`, err);
  }
}

/**
 * The poller: applies the results of the batches that ended, within the
 * per-invocation bounds (see the file's comment). Never throws for one
 * batch's trouble: that batch waits for the next run.
 */
export async function pollBatches(env: BatchEnv, cfg: Config, hooks: Hooks, opts: BatchOptions = {}): Promise<PollSummary> {
  const budget = budgetOf(opts);
  const payers = new Payers(env, budget);
  const sum: PollSummary = { open: 0, retrieved: 0, finished: 0, done: 0, retried: 0, dead: 0, failed: 0, skipped: 0, deferred: 0 };
  const listing = await env.OUTPUTS.list({ prefix: BATCHES_PREFIX, limit: POLL_LIST_LIMIT, include: ["customMetadata"] });
  const objects = [...listing.objects].sort((a, b) => a.uploaded.getTime() - b.uploaded.getTime());
  sum.open = objects.length;
  const records = __ZEROCOST_SPEND_GUARD__ && spendDb(env) !== null ? POLL_RECORDS : Infinity;
  const spent: Spent = { fetches: 0, bindingOps: 1, room: { records } }; // the list
  for (const [i, obj] of objects.entries()) {
    const id = obj.key.slice(BATCHES_PREFIX.length, -".json".length);
    const n = Number(obj.customMetadata?.jobs) || JOBS_UNKNOWN;
    const k = customersOf(obj.customMetadata, n);
    if (spent.fetches + 1 > POLL_MAX_FETCHES) {
      sum.deferred = objects.length - i;
      break;
    }
    spent.fetches++;
    sum.retrieved++;
    const ended = await retrieveOrGone(env, cfg, id);
    if (!ended || ended.batch.processing_status !== "ended") continue;
    if (spent.fetches + 1 > POLL_MAX_FETCHES || spent.bindingOps + 3 * n + 3 + k > POLL_MAX_BINDING_OPS || spent.room.records <= 0) {
      sum.deferred = objects.length - i;
      break;
    }
    await finish(env, cfg, hooks, budget, payers, obj.key, id, ended, sum, spent);
  }
  return sum;
}

/**
 * The scheduled handler in batch mode: the product's own cron hook (`run`)
 * and the poller, side by side; either one's failure is logged and rethrown
 * after both have run.
 */
export async function pollAndRun(run: () => Promise<void>, poll: () => Promise<unknown>): Promise<void> {
  const [a, b] = await Promise.allSettled([run(), poll()]);
  for (const r of [a, b]) if (r.status === "rejected") throw r.reason;
}
