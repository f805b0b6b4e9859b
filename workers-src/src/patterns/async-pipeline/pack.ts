// Deliveries of packed messages (lib/pack.ts): each job of the message runs as
// it would alone (processMessage, through a stand-in Message of its own), then
// the message is settled once from what its jobs did:
//
//   - every job ended (done, failed, parked) or left the message (deferred:
//     sent again with a delay on its own, consumer.ts): ack;
//   - some failed an attempt and none left: the message is retried whole,
//     with the longest delay they asked for. A redelivery runs only the jobs
//     without a final record (processMessage acks an ended job at its read,
//     and claims guard every model call), so a job that succeeded is not run
//     again. Retrying costs Queues one read per round; sending the failed
//     jobs on as a new message would cost a write, a read and a delete. And
//     every job still in the message has failed on every delivery of it, so
//     its attempt number is the one it came with (`attempts`) plus the
//     message's;
//   - some failed and some left: the message cannot be retried (its
//     redelivery would run the jobs that left a second time), so the failed
//     ones are sent on as a new pack with their attempts so far, and the
//     message acked;
//   - a job out of attempts (its own, max_retries + 1 deliveries) is
//     dead-lettered alone: its dead record, with its input, written by the
//     dead-letter queue's consumer code (deadLetter) for that job only. The
//     platform's dead-lettering would move the whole message, siblings and
//     all, and would cost a write, a read and a delete more; a job that fails
//     never holds its siblings back.
//
// A plain single-job message that carries no attempts is not packed and
// keeps the queue's own retries and dead-lettering (processMessage alone).
import type { AsyncPipelineEnv, JobMessage } from "../../env";
import type { Hooks } from "../../hooks";
import type { Config } from "../../lib/config";
import { jobsOf, packJobs } from "../../lib/pack";
import { retryDelay, sendAll } from "../../lib/queue";
import { DELIVERY_MAX_JOBS, JOB_COST } from "../../contract.gen";
import { spendDb } from "../../lib/spend/store";
import { deadLetter, processMessage, type Deferrals } from "./consumer";

/** What a job's stand-in message was told: acked, or retried (with its delay). */
type Outcome = { ack: true } | { ack: false; delaySeconds: number };

/** A Message for one job of a delivered message, keeping what the job's run decided. */
export class JobDelivery implements Message<JobMessage> {
  outcome?: Outcome;
  constructor(
    readonly id: string,
    readonly timestamp: Date,
    readonly body: JobMessage,
    readonly attempts: number,
    private readonly defaultDelay: number,
  ) {}
  ack(): void {
    this.outcome ??= { ack: true };
  }
  retry(opts?: QueueRetryOptions): void {
    this.outcome ??= { ack: false, delaySeconds: opts?.delaySeconds ?? this.defaultDelay };
  }
}

/** Whether a message goes through the pack path: a pack, or one job that carries attempts from a pack. */
export function isPacked(body: unknown): boolean {
  const jobs = jobsOf(body);
  return jobs.length > 1 || (jobs.length === 1 && body !== jobs[0]) || (jobs[0]?.attempts ?? 0) > 0;
}

/** Stand-ins for the jobs of `msg`, each at its own attempt number. */
export function jobDeliveries(msg: Message<unknown>, defaultDelay: number): JobDelivery[] {
  return jobsOf(msg.body).map(
    (job) => new JobDelivery(`${msg.id}/${job.job_id}`, msg.timestamp, job, (job.attempts ?? 0) + msg.attempts, defaultDelay),
  );
}

/** One delivery of a pack (realtime mode). */
export async function processPack(msg: Message<unknown>, env: AsyncPipelineEnv, cfg: Config, hooks: Hooks, shared: Deferrals): Promise<void> {
  const jobs = jobDeliveries(msg, cfg.retryDelaySeconds);
  const left = new Set<string>();
  // The batch's deferral count is shared (to spread the deferrals); the jobs that left are this message's.
  const deferred: Deferrals = {
    get count() {
      return shared.count;
    },
    set count(n: number) {
      shared.count = n;
    },
    left,
  };
  await Promise.all(jobs.map((j) => processMessage(j, env, cfg, hooks, deferred)));
  const failed: JobDelivery[] = [];
  for (const j of jobs) {
    if (j.outcome?.ack) continue;
    if (j.attempts >= cfg.maxRetries + 1 && (await deadAlone(j, env))) continue;
    failed.push(j);
  }
  await settle(msg, env, failed, left.size > 0);
}

/** The job's dead record with its input, as the dead-letter queue's consumer writes it; false when it could not be written. */
async function deadAlone(j: JobDelivery, env: AsyncPipelineEnv): Promise<boolean> {
  const dead = new JobDelivery(j.id, j.timestamp, j.body, j.attempts, 0);
  await deadLetter(dead, env);
  return dead.outcome?.ack === true;
}

const delayOf = (j: JobDelivery) => (j.outcome && !j.outcome.ack ? j.outcome.delaySeconds : 0);

/** Acks the message, retries it whole, or sends its failed jobs on (see the top of this file). */
async function settle(msg: Message<unknown>, env: AsyncPipelineEnv, failed: JobDelivery[], someLeft: boolean): Promise<void> {
  if (failed.length === 0) return msg.ack();
  const delaySeconds = retryDelay(Math.max(...failed.map(delayOf)));
  if (!someLeft) return msg.retry({ delaySeconds });
  const again = packJobs(failed.map((j) => ({ ...j.body, attempts: j.attempts })));
  const { error } = await sendAll(env.JOB_QUEUE, again, { delaySeconds });
  if (error === undefined) return msg.ack();
  // A redelivery runs every job without a final record again (claims guard the model calls).
  console.error(`message ${msg.id}: its failed jobs could not be sent on (retrying it):`, error);
  msg.retry({ delaySeconds });
}

/**
 * Runs `run` on the delivery with every pack opened into its jobs (batch
 * mode, and the dead-letter queue's consumer, which see a pack only when its
 * invocation kept failing), then settles each pack: acked when all its jobs
 * were, else retried whole (its redelivery skips the jobs that ended or were
 * submitted). Plain job messages are passed through as they are.
 */
export async function eachJob(messages: readonly Message<unknown>[], cfg: Config, run: (jobs: Message<unknown>[]) => Promise<unknown>): Promise<void> {
  const opened = messages.map((msg) => ({ msg, jobs: isPacked(msg.body) ? jobDeliveries(msg, cfg.retryDelaySeconds) : null }));
  await run(opened.flatMap(({ msg, jobs }) => jobs ?? [msg]));
  for (const { msg, jobs } of opened) {
    if (!jobs) continue;
    const failed = jobs.filter((j) => !j.outcome?.ack);
    if (failed.length === 0) msg.ack();
    else msg.retry({ delaySeconds: retryDelay(Math.max(...failed.map(delayOf))) });
  }
}

/**
 * What one job of a realtime delivery may make at worst (consumer.ts
 * processMessage, the longest path; stated and explained in Go,
 * internal/contract/invocation JobCost, generated into contract.gen.ts):
 * MODEL_ATTEMPTS (2) model requests; with a spend store 4 D1 queries (the
 * budget check, the record and its one retry, its alerts' claim); 12
 * Cloudflare-service calls, its message's send when it is sent on (passOn,
 * settle, a deferral) among them. Budget alerts are the invocation's, not a
 * job's: ALERT_ROOM fetches and D1 queries are kept for them when there is a
 * spend store (lib/invocation.ts).
 */
export { JOB_COST };

/**
 * Most jobs one realtime delivery runs: as many as fit every limit at their
 * worst (JOB_COST): with a spend store min(floor((50 - 9) / 2), floor((50 -
 * 9) / 4), floor(1000 / 12)) = 10, one full pack; without one
 * min(floor(50 / 2), floor(1000 / 12)) = 25. Derived once, in Go
 * (internal/contract/invocation DeliveryMaxJobs), which also makes
 * floor(that / PACK_MAX_JOBS) full packs (1, or 2 without a spend store) the
 * default batchSize of a realtime product, so that a delivery of full packs
 * sends none on. Before, 100 (what 100 single-job messages ran) could make
 * 200 model requests and 400 D1 queries.
 */
export function deliveryMaxJobs(spendStore: boolean): number {
  return spendStore ? DELIVERY_MAX_JOBS.spendStore : DELIVERY_MAX_JOBS.none;
}

/** Whether this Worker's deliveries count D1 queries: its bundle has the spend guard and SPEND is bound. */
export const hasSpendStore = (env: AsyncPipelineEnv): boolean => __ZEROCOST_SPEND_GUARD__ && spendDb(env) !== null;

/**
 * The delivery's messages to run now (their jobs within `maxJobs`, at least
 * one message: a pack never holds more than deliveryMaxJobs(true), which a
 * test checks) and the rest.
 */
export function splitDelivery(messages: readonly Message<unknown>[], maxJobs: number): { now: Message<unknown>[]; later: Message<unknown>[] } {
  let jobs = 0;
  let i = 0;
  for (; i < messages.length; i++) {
    const n = Math.max(1, jobsOf(messages[i]!.body).length);
    if (i > 0 && jobs + n > maxJobs) break;
    jobs += n;
  }
  return { now: messages.slice(0, i), later: messages.slice(i) };
}

/**
 * A message past the delivery's jobs, sent on as it is (its jobs carrying the
 * failed deliveries they had: every one before this, which ran them all) and
 * acked: a retry would count as a failed attempt of each. If it cannot be
 * sent, it is retried at once.
 */
export async function passOn(msg: Message<unknown>, env: AsyncPipelineEnv): Promise<void> {
  const jobs = jobsOf(msg.body).map((j) => (msg.attempts > 1 ? { ...j, attempts: (j.attempts ?? 0) + msg.attempts - 1 } : j));
  if (jobs.length === 0) return msg.ack();
  const { error } = await sendAll(env.JOB_QUEUE, [jobs.length === 1 ? jobs[0]! : { jobs }]);
  if (error === undefined) return msg.ack();
  console.error(`message ${msg.id}: could not be sent on past the delivery's jobs (retrying it):`, error);
  msg.retry({ delaySeconds: 0 });
}
