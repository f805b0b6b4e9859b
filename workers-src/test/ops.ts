// Op counting for the Worker tests: every env binding (and the Message
// Batches API's fetches) wrapped, each call counted under the op names of
// internal/contract (contract.gen.ts, OPS), and
// any op made to fail as Cloudflare fails one whose daily limit ran out (the
// binding throws).
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { OPS } from "../src/contract.gen";
import { D1Meter } from "./d1meter";
import { onBatchCalls, standin, testEnv, type BatchRoute, type TestEnv } from "./helpers";

export type Op = (typeof OPS)[number];
export type Counts = Record<Op, number>;

/** The op a Message Batches API call counts as (a cancel counts as none). */
const BATCH_OPS: Partial<Record<BatchRoute, Op>> = { create: "model.batch_create", retrieve: "model.batch_retrieve", results: "model.batch_results" };

export const zero = (): Counts => Object.fromEntries(OPS.map((o) => [o, 0])) as Counts;

/** The table's ops of an event with every other op 0 (sums several events). */
export function expected(...events: Array<Partial<Record<Op, number>>>): Counts {
  const out = zero();
  for (const e of events) for (const [op, n] of Object.entries(e)) out[op as Op] += n ?? 0;
  return out;
}

/** The error a failing op throws (as Cloudflare's, once a daily limit is spent). */
export class LimitExceeded extends Error {
  constructor(op: Op) {
    super(`${op}: daily limit exceeded (injected by the test)`);
  }
}

/**
 * A test env whose bindings count every call in `counts` and throw for the
 * ops in `fail`. Also wraps caches.default (a global, restored by
 * `restore()`); model calls are counted from the stand-in by token
 * (`countModel`), Worker invocations by `invoke`/`deliver`.
 */
export class Metered {
  readonly counts = zero();
  readonly fail = new Set<Op>();
  readonly env: TestEnv;
  /** the SPEND binding's meter: its rows are counted as d1.rows_read/d1.rows_written */
  readonly d1: D1Meter | undefined;
  private restoreCaches: (() => void) | undefined;
  private restoreFetch: (() => void) | undefined;

  /**
   * overrides replace the project's bindings UNDER the counting wrappers
   * (e.g. a RATE_LIMITER that says no, a JOB_QUEUE that only records).
   * The spend guard is off (no budget) unless overrides set a budget: the
   * events of the table are an unbudgeted product's, the guard's own events
   * come on top.
   */
  constructor(overrides: Partial<Record<keyof TestEnv, unknown>> = {}) {
    const base = testEnv({ MONTHLY_BUDGET_USD: "", STACK_BUDGET_USD: "", ...overrides });
    const hit = <T>(op: Op, f: () => T): T => {
      this.counts[op]++;
      if (this.fail.has(op)) throw new LimitExceeded(op);
      return f();
    };
    const r2 = base.OUTPUTS;
    const bucket = {
      put: async (...a: Parameters<R2Bucket["put"]>) => hit("r2.put", () => r2.put(...a)),
      get: async (...a: Parameters<R2Bucket["get"]>) => hit("r2.get", () => r2.get(...a)),
      head: async (...a: Parameters<R2Bucket["head"]>) => hit("r2.head", () => r2.head(...a)),
      list: async (...a: Parameters<R2Bucket["list"]>) => hit("r2.list", () => r2.list(...a)),
      delete: async (...a: Parameters<R2Bucket["delete"]>) => hit("r2.delete", () => r2.delete(...a)),
    };
    const env: Record<string, unknown> = {
      ...base,
      OUTPUTS: bucket,
      RATE_LIMITER: { limit: async (o: RateLimitOptions) => hit("ratelimit.limit", () => base.RATE_LIMITER.limit(o)) },
      DOOR_LIMITER: { limit: async (o: RateLimitOptions) => hit("ratelimit.limit", () => base.DOOR_LIMITER.limit(o)) },
      MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => hit("analytics.write", () => base.MODEL_USAGE.writeDataPoint(p)) },
    };
    // Customer keys: the record reads and the two limiters.
    const kv = (base as { KEYS?: KVNamespace }).KEYS;
    if (kv) env.KEYS = { get: (...a: unknown[]) => hit("kv.read", () => (kv.get as (...x: unknown[]) => unknown)(...a)) };
    for (const name of ["KEY_FAILURES", "DOOR_STANDARD"] as const) {
      const rl = (base as unknown as Partial<Record<string, RateLimit>>)[name];
      if (rl) env[name] = { limit: async (o: RateLimitOptions) => hit("ratelimit.limit", () => rl.limit(o)) };
    }
    const spend = (base as { SPEND?: D1Database }).SPEND;
    if (spend) {
      const d1 = new D1Meter(spend);
      d1.onTrip = (t) => {
        this.counts["d1.rows_read"] += t.rows_read;
        this.counts["d1.rows_written"] += t.rows_written;
      };
      env.SPEND = d1.binding;
      this.d1 = d1;
    }
    const q = (base as { JOB_QUEUE?: Queue<unknown> }).JOB_QUEUE;
    if (q) {
      env.JOB_QUEUE = {
        send: async (body: unknown, o?: QueueSendOptions) => hit("queue.write", () => q.send(body, o)),
        sendBatch: async (msgs: Iterable<MessageSendRequest<unknown>>, o?: QueueSendBatchOptions) => {
          const list = [...msgs];
          this.counts["queue.write"] += list.length - 1;
          return hit("queue.write", () => q.sendBatch(list, o));
        },
      };
    }
    const wf = (base as { JOB_WORKFLOW?: Workflow }).JOB_WORKFLOW;
    if (wf) {
      // runner: workflow: an instance created; an instance's status read (get and status() together).
      env.JOB_WORKFLOW = {
        create: async (o?: WorkflowInstanceCreateOptions) => hit("workflow.create", () => wf.create(o)),
        get: async (id: string) => {
          this.counts["workflow.status"]++;
          const instance = await wf.get(id);
          return { id: instance.id, status: () => instance.status() };
        },
      };
    }
    this.env = env as unknown as TestEnv;
    this.wrapCaches(hit);
    this.wrapFetch();
  }

  /**
   * Counts the Message Batches API's calls (batch mode) by route: a create,
   * a retrieve, a results read. (Messages calls are counted by the stand-in,
   * per token: countModel.)
   */
  private wrapFetch(): void {
    this.restoreFetch = onBatchCalls((route) => {
      const op = BATCH_OPS[route];
      if (op) this.counts[op]++;
      return undefined;
    });
  }

  private wrapCaches(hit: <T>(op: Op, f: () => T) => T): void {
    const real = caches.default;
    const wrapped = {
      match: async (req: RequestInfo, o?: CacheQueryOptions) => hit("cache.match", () => real.match(req, o)),
      put: async (req: RequestInfo, res: Response) => hit("cache.put", () => real.put(req, res)),
      delete: async (req: RequestInfo, o?: CacheQueryOptions) => real.delete(req, o),
    };
    const desc = Object.getOwnPropertyDescriptor(globalThis, "caches");
    const realCaches = (globalThis as unknown as { caches: CacheStorage }).caches;
    const proxy = { default: wrapped, open: (name: string) => realCaches.open(name) };
    Object.defineProperty(globalThis, "caches", { value: proxy, configurable: true, writable: true });
    this.restoreCaches = () => {
      if (desc) Object.defineProperty(globalThis, "caches", desc);
      else Object.defineProperty(globalThis, "caches", { value: realCaches, configurable: true, writable: true });
    };
  }

  restore(): void {
    this.restoreCaches?.();
    this.restoreCaches = undefined;
    this.restoreFetch?.();
    this.restoreFetch = undefined;
  }

  /** One cron invocation (a worker.request) of the scheduled handler. */
  async schedule(worker: { scheduled?: ExportedHandler<any>["scheduled"] }, cron = "*/5 * * * *"): Promise<void> {
    this.counts["worker.request"]++;
    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController({ cron, scheduledTime: Date.now() }), this.env, ctx);
    await waitOnExecutionContext(ctx);
  }

  /** Adds the stand-in's calls for token (each request it received), but the first `before`, as model.call. */
  async countModel(token: string, before = 0): Promise<void> {
    this.counts["model.call"] += (await standin.calls(token)).length - before;
  }

  /** One fetch invocation (a worker.request), its waitUntil work included. */
  async invoke(worker: { fetch?: ExportedHandler<any>["fetch"] }, request: Request): Promise<Response> {
    this.counts["worker.request"]++;
    const ctx = createExecutionContext();
    const res = await worker.fetch!(request as any, this.env, ctx);
    // Read the body before waiting, as a client would, then wait for waitUntil.
    const body = await res.arrayBuffer();
    await waitOnExecutionContext(ctx);
    return new Response(body, res);
  }

  /**
   * One queue invocation (a worker.request) on a batch, counted as Queues
   * counts it: a read per message delivered, a delete per message acked
   * (explicitly, by ackAll, or implicitly by the batch ending without a retry).
   */
  async deliver(worker: { queue?: ExportedHandler<any>["queue"] }, queue: string, messages: ServiceBindingQueueMessage<unknown>[]) {
    this.counts["worker.request"]++;
    this.counts["queue.read"] += messages.length;
    const batch = createMessageBatch(queue, messages);
    const ctx = createExecutionContext();
    await worker.queue!(batch, this.env, ctx);
    const result = await getQueueResult(batch, ctx);
    const retried = new Set(result.retryMessages.map((m) => m.msgId));
    const acked = result.outcome !== "ok" || result.retryBatch.retry ? 0 : messages.filter((m) => !retried.has(m.id)).length;
    this.counts["queue.delete"] += acked;
    return result;
  }
}
