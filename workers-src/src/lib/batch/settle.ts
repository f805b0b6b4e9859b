// Settling an ended batch's succeeded results (apply.ts): each job written
// done with the shaped result and usage (or dead when the product's
// shapeResult throws on the paid answer), its usage data point, then the
// spend of the jobs written, in ONE record per payer (the customer, or none):
// the tally of their usages (lib/spend/guard.ts recordCalls), so settling n
// results of k customers costs k (+1 for the jobs of no customer) spend
// records, not n, and the rows end as n records would leave them.
//
// Order and safety, as with a record per job: a job's record is written done
// (conditional on the record read, R2 onlyIf etag) before its spend is
// recorded, and only the jobs whose write landed are in the tally, so a job's
// spend is recorded at most once (a later run skips a job settled already).
// A run that dies after a payer's writes and before its record loses those
// jobs' spend from the count, as a run that died between a job's write and
// its own record lost that job's; the jobs of a run were written
// concurrently then too, so one crash could lose every write in flight. A
// record that fails (D1 twice) is logged with the jobs' ids: their records
// carry the usage it would have added.
import { shapeResult, type Hooks } from "../../hooks";
import type { Config } from "../config";
import { describe } from "../errors";
import { holdJob } from "../held";
import { customerField, jobRecord, writeJobIf, type JobRecord } from "../jobs";
import { recordUsage } from "../model";
import type { MessagesResponse, Usage } from "../types";
import type { BatchBudget } from "./guard";
import type { Payers } from "./payers";
import { PATTERN, type BatchEnv, type BatchJob } from "./record";

/** A job of the batch and its record as read (etag: the conditional write's). */
export interface Held {
  job: BatchJob;
  rec: JobRecord | null;
  etag?: string;
}

/** What settling needs of the batch's application (apply.ts's Apply). */
export interface Settling {
  env: BatchEnv;
  cfg: Config;
  hooks: Hooks;
  budget: BatchBudget;
  payers: Payers;
  batchId: string;
  sum: { done: number; dead: number; skipped: number };
  /** false once a job could not be settled (the batch record then stays) */
  complete: boolean;
}

/** How many spend records (one per payer) a poll run may still make: their D1 queries (poll.ts). */
export interface SpendRoom {
  records: number;
}

interface Succeeded {
  h: Held;
  message: MessagesResponse;
}

/** The succeeded results of one batch, by payer; each payer takes one record of the run's room. */
export class Settlement {
  private readonly byPayer = new Map<string, Succeeded[]>();

  constructor(
    private readonly a: Settling,
    private readonly room: SpendRoom,
  ) {}

  /** Takes the result in; false when its payer is new here and the run has no record left (the job waits for the next run). */
  add(h: Held, message: MessagesResponse): boolean {
    const key = h.job.customer ?? "";
    let jobs = this.byPayer.get(key);
    if (!jobs) {
      if (this.room.records <= 0) return false;
      this.room.records--;
      this.byPayer.set(key, (jobs = []));
    }
    jobs.push({ h, message });
    return true;
  }

  /** Writes every job taken in, then each payer's one spend record. Never rejects. */
  run(): Promise<void> {
    return Promise.all([...this.byPayer.values()].map((jobs) => settlePayer(this.a, jobs))).then(() => {});
  }
}

/** One payer's jobs: written concurrently, then the spend of those written in one record. */
async function settlePayer(a: Settling, jobs: Succeeded[]): Promise<void> {
  const written = (await Promise.all(jobs.map((s) => writeSucceeded(a, s.h, s.message)))).filter((w) => w !== null);
  if (written.length === 0) return;
  try {
    const payer = await a.payers.of(jobs[0]!.h.job);
    await a.budget.recordSpend(
      a.env,
      a.cfg,
      written.map((w) => w.usage),
      payer,
    );
  } catch (err) {
    const ids = written.map((w) => w.jobId).join(", ");
    console.error(`message batch ${a.batchId}: recording the spend of ${written.length} settled jobs failed (their records carry the usage: ${ids}):`, err);
  }
}

/** A succeeded request's job written done (or dead when shapeResult throws) and its usage data point; null when not written. */
async function writeSucceeded(a: Settling, h: Held, message: MessagesResponse): Promise<{ jobId: string; usage: Usage | undefined } | null> {
  const { job, rec } = h;
  try {
    const model = typeof message?.model === "string" ? message.model : a.cfg.model;
    const common = { model, usage: message?.usage, attempts: job.attempt, batch_id: a.batchId, ...customerField(job) };
    let done: JobRecord;
    try {
      done = jobRecord(job.job_id, { status: "done", result: await shapeResult(a.hooks, message, job.input), ...common }, rec);
    } catch (err) {
      // The product's hook threw on a paid answer: asking again would pay
      // again for the same answer. Dead, with the input, so it can be sent
      // again by hand once the hook is fixed.
      done = jobRecord(job.job_id, { status: "dead", error: `shapeResult failed: ${describe(err)}`, input: job.input, ...common }, rec);
    }
    if (!(await writeJobIf(a.env.OUTPUTS, done, h.etag))) {
      a.sum.skipped++; // changed meanwhile: a newer state wins
      return null;
    }
    if (done.status === "done") a.sum.done++;
    else {
      a.sum.dead++;
      // Kept 31 days under held/; the job is written either way: its spend is recorded.
      await holdJob(a.env.OUTPUTS, done).catch((err) => {
        a.complete = false;
        console.error(`job ${job.job_id}: holding its dead record failed:`, err);
      });
    }
    recordUsage(a.env, a.cfg, model, PATTERN, message?.usage, "batch", job.customer ?? "");
    return { jobId: job.job_id, usage: message?.usage };
  } catch (err) {
    a.complete = false;
    console.error(`job ${job.job_id}: writing its result failed:`, err);
    return null;
  }
}
