// Batch mode of the async pipeline (MODEL_MODE = "batch"): the jobs go to
// Anthropic's Message Batches API, which bills half of every token price and
// answers in minutes to hours (at most 24 h) instead of seconds.
//
// The consumer (submitDelivery) turns each delivered queue batch into ONE
// Message Batch (custom_id = job id):
//
//   1. read each job's record (one get per job): a job already submitted or
//      ended, or a stale duplicate of a message the poller has since sent
//      again, is acked and not submitted again;
//   2. build each request with the product's hooks, ask the spend guard once
////      (lib/budget.ts: a spent budget parks the jobs instead), create the
//      batch (one POST /v1/messages/batches);
//   4. put batches/<batch_id>.json (the jobs with their inputs and attempt
//      numbers): this one put is the durable commit of the submission, tried
//      three times. If it cannot be written the batch is canceled (best
//      effort: requests not yet processed are not billed) and the messages
//      retried;
//   5. put each job's record `submitted` with the batch id (a poll shows
//      {"status":"submitted","batch_id":...}); a put that fails is logged,
//      not retried by the queue: the batch record already holds the job;
//   6. ack.
//
// The residual double-submit window (the Batches API has no idempotency
// key): the create succeeded at Anthropic but its batch record was not
// written: the Worker died between the create's answer and the put, the put
// failed three times in a row (and the cancel failed too), or the create's
// answer was lost on the way back (a timeout or a cut connection after
// Anthropic created it). The message is then delivered again and its jobs go
// into a second batch; the first one's results are never applied, as no
// record names it, so the result stays consistent, but those jobs are paid
// twice. Outside that window a redelivery finds the batch record's job
// records `submitted` (or the batch record, for a job whose own put failed)
// and submits nothing.
//
// The poller (pollBatches, from the Worker's cron trigger) lists the open
// batch records (one list), retrieves each batch, and for each that ended
// reads its results (JSONL): succeeded -> the job's record done with the
// shaped result and usage, the usage data point (mode "batch"), the spend;
// errored, expired or canceled -> sent again while its submissions stay
// within MAX_RETRIES + 1 (the message says how many it had), else the dead
// record with the input, as the dead-letter consumer writes it; a request the
// API refused as invalid (invalid_request_error) fails at once, as in
// realtime mode. Every record write is conditional on the record being what
// was read (R2 onlyIf etag), and a job whose record no longer names this
// batch as submitted is skipped, so the poller never overwrites a newer state
// and running it twice writes nothing twice. The batch record is deleted once
// all its results are applied.
//
// Work per poll is bounded by Workers' subrequest limits (Free: 50 external
// fetches, 1,000 binding calls per invocation): at most POLL_MAX_FETCHES
// fetches (a retrieve per open batch, one more for the results of an ended
// one) and POLL_MAX_BINDING_OPS R2 and queue calls (an ended batch of n jobs
// costs at most 3n + 3); the oldest batches go first and the rest waits for
// the next run.
import type { BaseEnv, JobMessage } from "../env";
import { assertPriced, BudgetExhausted, checkBudget, parkJob, recordSpend, UNAVAILABLE_RETRY_AFTER } from "./budget";
import { buildRequest, shapeResult, type Hooks } from "../hooks";
import type { Config } from "./config";
import { describe } from "./errors";
import { isJobId } from "./jobid";
import { jobKey, jobRecord, writeJob, writeJobRetrying, type JobRecord } from "./jobs";
import { ANTHROPIC_VERSION, ModelError, parseRetryAfter, recordUsage, type MessagesRequest, type MessagesResponse, type Usage } from "./model";

const PATTERN = "async-pipeline";

/** The env batch mode needs: the pattern's bindings (OUTPUTS, JOB_QUEUE, MODEL_USAGE) and the API key. */
export interface BatchEnv extends BaseEnv {
  JOB_QUEUE: Queue<JobMessage>;
}

/** One job of a submitted Message Batch. */
export interface BatchJob {
  job_id: string;
  input: string;
  /** which submission of the job this is (1 for the first) */
  attempt: number;
}

/** What batches/<batch_id>.json holds: the durable record of one submitted Message Batch. */
export interface BatchRecord {
  batch_id: string;
  product: string;
  created_at: string;
  jobs: BatchJob[];
}

export const BATCHES_PREFIX = "batches/";
export const batchKey = (id: string) => `${BATCHES_PREFIX}${id}.json`;

/** Most external fetches one poll makes (Workers Free allows 50 subrequests per invocation; some are left to the product's own cron hook). */
export const POLL_MAX_FETCHES = 40;
/** Most R2 and queue binding calls one poll makes (1,000 per invocation). */
export const POLL_MAX_BINDING_OPS = 800;
/** Most batch records one poll lists (one r2.list). */
export const POLL_LIST_LIMIT = 1000;

/**
 * The spend guard's part in batch mode (lib/budget.ts). Tests replace it.
 */
export interface BatchBudget {
  /** Throws when the product's budget for this month is spent (or the guard cannot tell). */
  check(env: BaseEnv, cfg: Config, models: string[]): Promise<void>;
  /** Whether check's error means the budget is spent (anything else is an outage: the messages are retried). */
  exhausted(err: unknown): boolean;
  /** Parks the jobs (budget_exhausted, inputs kept) instead of submitting them. */
  park(env: BaseEnv, cfg: Config, jobs: Array<{ job_id: string; input: string; prev: JobRecord | null; error: string }>): Promise<void>;
  /** Adds a succeeded batch request's cost, at the batch price. */
  recordSpend(env: BaseEnv, cfg: Config, usage: Usage | undefined): Promise<void>;
}

/** The spend guard: one budget query before a create (not per job), one spend upsert per succeeded result. */
export const SPEND_GUARD: BatchBudget = {
  check: async (env, cfg, models) => {
    for (const m of new Set(models)) assertPriced(env, cfg, m);
    await checkBudget(env, cfg);
  },
  exhausted: (err) => err instanceof BudgetExhausted,
  park: async (env, cfg, jobs) => {
    for (const j of jobs) await parkJob(env, cfg, env.OUTPUTS, { job_id: j.job_id, input: j.input, error: j.error }, j.prev);
  },
  recordSpend: async (env, cfg, usage) => void (await recordSpend(env, cfg, usage, "batch")),
};

/** A bundle without the spend guard (no budget in the stack): nothing to check or record. */
const NO_GUARD: BatchBudget = {
  check: async () => {},
  exhausted: () => false,
  park: async () => {},
  recordSpend: async () => {},
};

export interface BatchOptions {
  budget?: BatchBudget;
}

// ---------------------------------------------------------------------------
// The Message Batches API

/** The message_batch object (the fields used here). */
export interface MessageBatch {
  id: string;
  type?: string;
  processing_status: "in_progress" | "canceling" | "ended" | string;
  results_url?: string | null;
  ended_at?: string | null;
}

/** One line of a batch's results. */
export interface BatchResultLine {
  custom_id: string;
  result:
    | { type: "succeeded"; message: MessagesResponse }
    | { type: "errored"; error?: { type?: string; error?: { type?: string; message?: string } } }
    | { type: "canceled" }
    | { type: "expired" };
}

const RETRYABLE = new Set([429, 500, 502, 503, 504, 529]);

function headers(env: BaseEnv): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-api-key": env.ANTHROPIC_API_KEY ?? "",
    "anthropic-version": ANTHROPIC_VERSION,
  };
}

async function apiError(res: Response, what: string): Promise<ModelError> {
  const text = await res.text().catch(() => "");
  let detail = text.slice(0, 300) || res.statusText;
  try {
    const msg = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof msg === "string") detail = msg.slice(0, 300);
  } catch {
    // not JSON
  }
  return new ModelError(`${what}: model API answered ${res.status}: ${detail}`, res.status, RETRYABLE.has(res.status), parseRetryAfter(res.headers.get("retry-after")));
}

/** One fetch, no retry (a create has no idempotency key: the queue retries). Throws ModelError. */
async function api(env: BaseEnv, cfg: Config, url: string, what: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: headers(env), signal: AbortSignal.timeout(cfg.modelTimeoutMs) });
  } catch (err) {
    const name = (err as { name?: unknown } | null)?.name;
    const why = name === "TimeoutError" || name === "AbortError" ? `timed out after ${cfg.modelTimeoutMs} ms` : `failed: ${err instanceof Error ? err.message : String(err)}`;
    throw new ModelError(`${what} ${why}`, 0, true);
  }
  if (!res.ok) throw await apiError(res, what);
  return res;
}

async function apiJson<T>(env: BaseEnv, cfg: Config, url: string, what: string, init?: RequestInit): Promise<T> {
  const res = await api(env, cfg, url, what, init);
  try {
    return (await res.json()) as T;
  } catch {
    throw new ModelError(`${what}: the answer is not JSON`, 502, true);
  }
}

export async function createBatch(env: BaseEnv, cfg: Config, requests: Array<{ custom_id: string; params: MessagesRequest }>): Promise<MessageBatch> {
  const b = await apiJson<MessageBatch>(env, cfg, `${cfg.baseUrl}/v1/messages/batches`, "creating a message batch", {
    method: "POST",
    body: JSON.stringify({ requests }),
  });
  if (typeof b?.id !== "string" || b.id === "") throw new ModelError("creating a message batch: the answer has no batch id", 502, true);
  return b;
}

export async function retrieveBatch(env: BaseEnv, cfg: Config, id: string): Promise<MessageBatch> {
  return apiJson<MessageBatch>(env, cfg, `${cfg.baseUrl}/v1/messages/batches/${encodeURIComponent(id)}`, `retrieving message batch ${id}`);
}

export async function cancelBatch(env: BaseEnv, cfg: Config, id: string): Promise<void> {
  await api(env, cfg, `${cfg.baseUrl}/v1/messages/batches/${encodeURIComponent(id)}/cancel`, `canceling message batch ${id}`, { method: "POST" });
}

/** The results of an ended batch, by custom_id (JSONL; lines that do not parse are skipped and logged). */
export async function batchResults(env: BaseEnv, cfg: Config, batch: MessageBatch): Promise<Map<string, BatchResultLine["result"]>> {
  const url = typeof batch.results_url === "string" && batch.results_url !== "" ? batch.results_url : `${cfg.baseUrl}/v1/messages/batches/${encodeURIComponent(batch.id)}/results`;
  const res = await api(env, cfg, url, `reading the results of message batch ${batch.id}`);
  const out = new Map<string, BatchResultLine["result"]>();
  for (const line of (await res.text()).split("\n")) {
    if (line.trim() === "") continue;
    try {
      const v = JSON.parse(line) as BatchResultLine;
      if (typeof v?.custom_id === "string" && typeof v.result?.type === "string") out.set(v.custom_id, v.result);
      else console.error(`message batch ${batch.id}: a results line without custom_id or result type`);
    } catch {
      console.error(`message batch ${batch.id}: a results line that is not JSON`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The consumer

/** The submissions a job had before this message (0 for a new job). */
export function priorAttempts(body: JobMessage): number {
  const n = body.batch_attempts;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 0;
}

function isJobMessage(v: unknown): v is JobMessage {
  const m = v as JobMessage | null;
  return typeof m === "object" && m !== null && typeof m.job_id === "string" && isJobId(m.job_id) && typeof m.input === "string";
}

const ENDED = new Set(["done", "failed", "dead"]);

/**
 * Whether a job's record says it needs no submission for this message: it
 * ended, it is submitted (in a batch the poller will read), it is parked by
 * the budget guard, or the message is a stale duplicate (the poller has
 * since sent the job again after a later submission: the record, written
 * from a batch, counts more submissions than the message).
 */
function settledFor(rec: JobRecord | null, body: JobMessage): string | undefined {
  if (!rec) return undefined;
  if (ENDED.has(rec.status)) return rec.status;
  if (rec.status === "submitted") return `submitted in ${rec.batch_id ?? "a batch"}`;
  if ((rec.status as string) === "budget_exhausted") return "parked";
  if (rec.status === "queued" && rec.batch_id !== undefined && priorAttempts(body) < (rec.attempts ?? 0)) return "a stale duplicate";
  return undefined;
}

async function readRecord(r2: R2Bucket, id: string): Promise<{ rec: JobRecord | null; etag?: string }> {
  const obj = await r2.get(jobKey(id));
  if (!obj) return { rec: null };
  try {
    const v = (await obj.json()) as JobRecord;
    return typeof v === "object" && v !== null && typeof v.status === "string" ? { rec: v, etag: obj.etag } : { rec: null, etag: obj.etag };
  } catch {
    return { rec: null, etag: obj.etag };
  }
}

const PUT_DEADLINE_MS = 10_000;

/**
 * The queue consumer in batch mode: one Message Batch for the delivered
 * messages that need one (see the file's comment for the steps and the
 * order of the writes).
 */
export async function submitDelivery(
  messages: readonly Message<unknown>[],
  env: BatchEnv,
  cfg: Config,
  hooks: Hooks,
  opts: BatchOptions = {},
): Promise<void> {
  const budget = opts.budget ?? (__ZEROCOST_SPEND_GUARD__ ? SPEND_GUARD : NO_GUARD);
  const seen = new Set<string>();
  const candidates: Array<{ msg: Message<unknown>; body: JobMessage }> = [];
  for (const msg of messages) {
    if (!isJobMessage(msg.body)) {
      console.error(`message ${msg.id}: not a job message; dropped`);
      msg.ack();
      continue;
    }
    if (seen.has(msg.body.job_id)) {
      msg.ack(); // the same job twice in one delivery: one submission
      continue;
    }
    seen.add(msg.body.job_id);
    candidates.push({ msg, body: msg.body });
  }

  // 1. The records: what is submitted or over needs nothing.
  const todo: Array<{ msg: Message<unknown>; body: JobMessage; prev: JobRecord | null }> = [];
  await Promise.all(
    candidates.map(async ({ msg, body }) => {
      try {
        const { rec } = await readRecord(env.OUTPUTS, body.job_id);
        const why = settledFor(rec, body);
        if (why !== undefined) {
          msg.ack(); // delivered again: do not pay for it twice
          return;
        }
        todo.push({ msg, body, prev: rec });
      } catch (err) {
        console.error(`job ${body.job_id}: reading its record failed:`, err);
        msg.retry({ delaySeconds: cfg.retryDelaySeconds });
      }
    }),
  );
  if (todo.length === 0) return;

  // 3. The requests, then the one create.
  const requests: Array<{ custom_id: string; params: MessagesRequest }> = [];
  const jobs: BatchJob[] = [];
  const built: typeof todo = [];
  for (const t of todo) {
    try {
      requests.push({ custom_id: t.body.job_id, params: await buildRequest(hooks, t.body.input, env, cfg, PATTERN) });
      jobs.push({ job_id: t.body.job_id, input: t.body.input, attempt: priorAttempts(t.body) + 1 });
      built.push(t);
    } catch (err) {
      console.error(`job ${t.body.job_id}: buildRequest failed:`, err);
      t.msg.retry({ delaySeconds: cfg.retryDelaySeconds });
    }
  }
  if (built.length === 0) return;

  // The budget: one check for the whole batch (its cost is known only at the end).
  try {
    await budget.check(env, cfg, requests.map((r) => r.params.model));
  } catch (err) {
    if (!budget.exhausted(err)) {
      console.error("the budget check failed; retrying the delivery:", err);
      for (const t of built) t.msg.retry({ delaySeconds: UNAVAILABLE_RETRY_AFTER });
      return;
    }
    try {
      await budget.park(env, cfg, built.map((t) => ({ job_id: t.body.job_id, input: t.body.input, prev: t.prev, error: describe(err) })));
      for (const t of built) t.msg.ack();
    } catch (parkErr) {
      console.error("parking the jobs failed; retrying the delivery:", parkErr);
      for (const t of built) t.msg.retry({ delaySeconds: cfg.retryDelaySeconds });
    }
    return;
  }

  let batch: MessageBatch;
  try {
    batch = await createBatch(env, cfg, requests);
  } catch (err) {
    if (err instanceof ModelError && !err.retryable) {
      // The API refused the batch itself: retrying cannot help.
      const error = describe(err);
      await Promise.all(
        built.map((t) =>
          writeJob(env.OUTPUTS, jobRecord(t.body.job_id, { status: "failed", error, attempts: priorAttempts(t.body) + 1 }, t.prev))
            .then(() => t.msg.ack())
            .catch((e) => {
              console.error(`job ${t.body.job_id}:`, e);
              t.msg.retry({ delaySeconds: cfg.retryDelaySeconds });
            }),
        ),
      );
      return;
    }
    console.error("creating the message batch failed; retrying the delivery:", err);
    const after = err instanceof ModelError && err.retryAfter !== undefined ? err.retryAfter : cfg.retryDelaySeconds;
    for (const t of built) t.msg.retry({ delaySeconds: Math.min(43_200, Math.max(0, Math.ceil(after))) });
    return;
  }

  // 4. The batch record: the durable commit.
  const record: BatchRecord = { batch_id: batch.id, product: cfg.product, created_at: new Date().toISOString(), jobs };
  try {
    await putRetrying(
      () =>
        env.OUTPUTS.put(batchKey(batch.id), JSON.stringify(record), {
          httpMetadata: { contentType: "application/json" },
          customMetadata: { jobs: String(jobs.length) },
        }),
      Date.now() + PUT_DEADLINE_MS,
    );
  } catch (err) {
    console.error(`message batch ${batch.id}: its record could not be written; canceling it and retrying the delivery:`, err);
    await cancelBatch(env, cfg, batch.id).catch((e) => console.error(`message batch ${batch.id}: cancel failed (its jobs may be paid twice):`, e));
    for (const t of built) t.msg.retry({ delaySeconds: cfg.retryDelaySeconds });
    return;
  }

  // 5. The job records, then 6. the acks.
  const deadline = Date.now() + PUT_DEADLINE_MS;
  await Promise.all(
    built.map(async (t, i) => {
      const rec = jobRecord(t.body.job_id, { status: "submitted", batch_id: batch.id, attempts: jobs[i]!.attempt }, t.prev);
      await writeJobRetrying(env.OUTPUTS, rec, deadline).catch((e) =>
        console.error(`job ${t.body.job_id}: its submitted record could not be written (the batch record holds it):`, e),
      );
      t.msg.ack();
    }),
  );
}

async function putRetrying(put: () => Promise<unknown>, deadline: number, tries = 3): Promise<void> {
  for (let n = 1; ; n++) {
    try {
      await put();
      return;
    } catch (err) {
      const wait = 250 * 2 ** (n - 1);
      if (n >= tries || Date.now() + wait >= deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

// ---------------------------------------------------------------------------
// The poller

export interface PollSummary {
  /** batch records listed */
  open: number;
  /** batches retrieved */
  retrieved: number;
  /** ended batches whose results were applied and record deleted */
  finished: number;
  /** jobs written done, sent again, dead or failed */
  done: number;
  retried: number;
  dead: number;
  failed: number;
  /** results skipped: the job's record no longer names the batch */
  skipped: number;
  /** batches left for the next run (the per-invocation bounds) */
  deferred: number;
}

/** Why a request did not succeed, for the job's record. */
function failureOf(result: BatchResultLine["result"] | undefined, batchId: string): { error: string; retryable: boolean } {
  if (!result) return { error: `batch ${batchId} ended without a result for the job`, retryable: true };
  if (result.type === "errored") {
    const inner = result.error?.error ?? result.error;
    const type = (inner as { type?: string } | undefined)?.type ?? "api_error";
    const message = (inner as { message?: string } | undefined)?.message ?? "";
    return { error: `batch request errored: ${type}${message ? `: ${message.slice(0, 300)}` : ""}`, retryable: type !== "invalid_request_error" };
  }
  return { error: `batch request ${result.type} (batch ${batchId})`, retryable: true };
}

/**
 * Applies an ended batch's results to its jobs. Returns whether every job was
 * settled (then the batch record may go).
 */
async function applyResults(
  env: BatchEnv,
  cfg: Config,
  hooks: Hooks,
  budget: BatchBudget,
  record: BatchRecord,
  results: Map<string, BatchResultLine["result"]>,
  sum: PollSummary,
): Promise<boolean> {
  const id = record.batch_id;
  const reads = await Promise.all(
    record.jobs.map(async (job) => {
      try {
        return { job, ...(await readRecord(env.OUTPUTS, job.job_id)) };
      } catch (err) {
        console.error(`job ${job.job_id}: reading its record failed:`, err);
        return { job, failedRead: true as const };
      }
    }),
  );
  let complete = true;
  const resend: Array<{ job: BatchJob; rec: JobRecord | null; etag?: string; error: string }> = [];
  const writes: Array<Promise<void>> = [];
  /** A conditional put: only over the record that was read. */
  const put = async (rec: JobRecord, etag: string | undefined): Promise<boolean> => {
    const body = JSON.stringify(rec);
    const opts: R2PutOptions = { httpMetadata: { contentType: "application/json" } };
    if (etag !== undefined) opts.onlyIf = { etagMatches: etag };
    const r = await env.OUTPUTS.put(jobKey(rec.job_id), body, opts);
    return r !== null;
  };
  for (const r of reads) {
    if ("failedRead" in r) {
      complete = false;
      continue;
    }
    const { job, rec, etag } = r;
    // Only a job this batch holds: its record names the batch as submitted,
    // or it has none (or a pre-batch one) because its submitted put failed.
    const mine = rec === null ? true : rec.status === "submitted" ? rec.batch_id === id : rec.batch_id === undefined && !ENDED.has(rec.status) && (rec.status as string) !== "budget_exhausted";
    if (!mine) {
      sum.skipped++;
      continue;
    }
    const result = results.get(job.job_id);
    if (result?.type === "succeeded") {
      writes.push(
        (async () => {
          try {
            const message = result.message;
            const model = typeof message?.model === "string" ? message.model : cfg.model;
            let done: JobRecord;
            try {
              const shaped = await shapeResult(hooks, message, job.input);
              done = jobRecord(job.job_id, { status: "done", result: shaped, model, usage: message?.usage, attempts: job.attempt, batch_id: id }, rec);
            } catch (err) {
              // The product's hook threw on a paid answer: asking again would
              // pay again for the same answer. Dead, with the input, so it can
              // be sent again by hand once the hook is fixed.
              const error = `shapeResult failed: ${describe(err)}`;
              done = jobRecord(job.job_id, { status: "dead", error, model, usage: message?.usage, attempts: job.attempt, input: job.input, batch_id: id }, rec);
            }
            if (!(await put(done, etag))) {
              sum.skipped++; // changed meanwhile: a newer state wins
              return;
            }
            if (done.status === "done") sum.done++;
            else sum.dead++;
            recordUsage(env, cfg, model, PATTERN, message?.usage, "batch");
            await budget.recordSpend(env, cfg, message?.usage).catch((e) => console.error(`job ${job.job_id}: recording its spend failed:`, e));
          } catch (err) {
            complete = false;
            console.error(`job ${job.job_id}: writing its result failed:`, err);
          }
        })(),
      );
      continue;
    }
    const { error, retryable } = failureOf(result, id);
    if (!retryable) {
      writes.push(
        put(jobRecord(job.job_id, { status: "failed", error, attempts: job.attempt, batch_id: id }, rec), etag)
          .then((ok) => void (ok ? sum.failed++ : sum.skipped++))
          .catch((err) => {
            complete = false;
            console.error(`job ${job.job_id}:`, err);
          }),
      );
    } else if (job.attempt <= cfg.maxRetries) {
      resend.push({ job, rec, etag, error });
    } else {
      const dead = jobRecord(job.job_id, { status: "dead", error, attempts: job.attempt, input: job.input, batch_id: id }, rec);
      writes.push(
        put(dead, etag)
          .then((ok) => void (ok ? sum.dead++ : sum.skipped++))
          .catch((err) => {
            complete = false;
            console.error(`job ${job.job_id}:`, err);
          }),
      );
    }
  }
  // Sent again first, then the record: a record written queued with no
  // message behind it would lose the job; a message with no record behind it
  // is at worst a duplicate the consumer acks.
  if (resend.length > 0) {
    try {
      await env.JOB_QUEUE.sendBatch(
        resend.map(({ job }) => ({ body: { job_id: job.job_id, input: job.input, batch_attempts: job.attempt }, contentType: "json" as const, delaySeconds: cfg.retryDelaySeconds })),
      );
      for (const { job, rec, etag, error } of resend) {
        // Queued again, from this batch: a stale duplicate of an earlier message is then acked unsubmitted.
        const queued = jobRecord(job.job_id, { status: "queued", error, attempts: job.attempt, batch_id: id }, rec);
        writes.push(
          put(queued, etag)
            .then((ok) => void (ok ? sum.retried++ : sum.skipped++))
            .catch((err) => {
              complete = false;
              console.error(`job ${job.job_id}:`, err);
            }),
        );
      }
    } catch (err) {
      complete = false;
      console.error(`message batch ${id}: sending ${resend.length} jobs again failed:`, err);
    }
  }
  await Promise.all(writes);
  return complete;
}

/**
 * The poller: applies the results of the batches that ended, within the
 * per-invocation bounds (see the file's comment). Never throws for one
 * batch's trouble: that batch waits for the next run.
 */
export async function pollBatches(env: BatchEnv, cfg: Config, hooks: Hooks, opts: BatchOptions = {}): Promise<PollSummary> {
  const budget = opts.budget ?? (__ZEROCOST_SPEND_GUARD__ ? SPEND_GUARD : NO_GUARD);
  const sum: PollSummary = { open: 0, retrieved: 0, finished: 0, done: 0, retried: 0, dead: 0, failed: 0, skipped: 0, deferred: 0 };
  const listing = await env.OUTPUTS.list({ prefix: BATCHES_PREFIX, limit: POLL_LIST_LIMIT, include: ["customMetadata"] });
  const objects = [...listing.objects].sort((a, b) => a.uploaded.getTime() - b.uploaded.getTime());
  sum.open = objects.length;
  let fetches = 0;
  let bindingOps = 1; // the list
  for (const [i, obj] of objects.entries()) {
    const id = obj.key.slice(BATCHES_PREFIX.length, -".json".length);
    const n = Number(obj.customMetadata?.jobs) || 100;
    if (fetches + 1 > POLL_MAX_FETCHES) {
      sum.deferred = objects.length - i;
      break;
    }
    let batch: MessageBatch;
    let gone = false;
    try {
      fetches++;
      sum.retrieved++;
      batch = await retrieveBatch(env, cfg, id);
    } catch (err) {
      if (err instanceof ModelError && err.status === 404) {
        // Deleted or never there: its requests will not end; each is retried as expired.
        batch = { id, processing_status: "ended", results_url: null };
        gone = true;
      } else {
        console.error(`message batch ${id}: retrieve failed (next run tries again):`, err);
        continue;
      }
    }
    if (batch.processing_status !== "ended") continue;
    if (fetches + 1 > POLL_MAX_FETCHES || bindingOps + 3 * n + 3 > POLL_MAX_BINDING_OPS) {
      sum.deferred = objects.length - i;
      break;
    }
    try {
      bindingOps++;
      const obj2 = await env.OUTPUTS.get(obj.key);
      const record = obj2 ? ((await obj2.json()) as BatchRecord) : null;
      if (!record || !Array.isArray(record.jobs)) {
        console.error(`message batch ${id}: its record is unreadable; left in place`);
        continue;
      }
      let results = new Map<string, BatchResultLine["result"]>();
      if (!gone) {
        fetches++;
        try {
          results = await batchResults(env, cfg, batch);
        } catch (err) {
          if (!(err instanceof ModelError && err.status === 404)) throw err;
          // Results gone (kept 29 days): every request counts as expired.
        }
      }
      bindingOps += 3 * record.jobs.length + 1;
      if (await applyResults(env, cfg, hooks, budget, record, results, sum)) {
        await env.OUTPUTS.delete(obj.key);
        sum.finished++;
      }
    } catch (err) {
      console.error(`message batch ${id}: applying its results failed (next run tries again):`, err);
    }
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
