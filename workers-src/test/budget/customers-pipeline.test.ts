// The spend guard's customer scope in async-pipeline, in workerd (the
// async-pipeline project): POST /jobs with a customer's key puts the
// customer (and its key's hash) into each message; the consumer reads the
// customer's budget from the key's record and checks it with the product's;
// a job of a customer over its budget is parked (input and customer kept),
// another customer's job of the same delivery runs; after the budget is
// raised in the key's record, POST /admin/jobs/resume sends it again with
// its customer and it ends done, its spend on the customer's row.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { JobMessage, QueueBody } from "../../src/env";
import { readConfig } from "../../src/lib/config";
import { newJobId } from "../../src/lib/jobid";
import { clearKeyCache } from "../../src/lib/keys";
import { jobsOf, PACK_MAX_JOBS } from "../../src/lib/pack";
import { parkJob } from "../../src/lib/spend/parked";
import { monthOf } from "../../src/lib/spend/store";
import { createWorker as asyncPipeline } from "../../src/patterns/async-pipeline";
import { D1Meter } from "../d1meter";
import { call, get, jobRecord, postJson, standin, type TestEnv } from "../helpers";
import { putKey, sha256hex } from "../keyhelpers";
import { bearer as admin, CALL_USD, fixedCostToken, guarded, USAGE } from "./harness";

const CALL_NANOS = Math.round(CALL_USD * 1e9);
const QUEUE = "ap-test-workers-test-jobs";
const open = { limit: async () => ({ success: true }) };
const keyHeaders = (key: string) => ({ authorization: `Bearer ${key}`, "cf-connecting-ip": "198.51.100.10" });

beforeEach(() => clearKeyCache());

describe("async-pipeline: customer budgets", () => {
  const worker = asyncPipeline({});
  let n = 0;
  async function deliver(e: TestEnv, bodies: QueueBody[]) {
    const batch = createMessageBatch(
      QUEUE,
      bodies.map((body) => ({ id: `msg-${n++}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue!(batch, e, ctx);
    return getQueueResult(batch, ctx);
  }
  function sink<T = JobMessage>() {
    const sent: T[] = [];
    const queue = {
      send: async (b: T) => void sent.push(b),
      sendBatch: async (msgs: Iterable<MessageSendRequest<T>>) => {
        for (const m of msgs) sent.push(m.body);
      },
    };
    return { sent, queue };
  }
  const row = (product: string, customer: string) =>
    env.SPEND!.prepare("SELECT nanos, calls, input_tokens, output_tokens FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = ?3")
      .bind(monthOf(), product, customer)
      .first();

  it("a job of a customer over its budget is parked, not lost; the other customer's runs; after a raise it resumes and ends done", async () => {
    const t = await fixedCostToken();
    const q = sink();
    const e = guarded(new D1Meter(env.SPEND!), {
      ACCESS: "keys", MONTHLY_BUDGET_USD: "", JOB_QUEUE: q.queue, DOOR_STANDARD: open, KEY_FAILURES: open, DOOR_LIMITER: open, RATE_LIMITER: open,
    });
    const small = await putKey(e.PRODUCT, "small", { monthly_budget_usd: CALL_USD });
    const big = await putKey(e.PRODUCT, "big", { monthly_budget_usd: 1 });
    const post = async (key: string, inputs: string[]) => {
      const res = await call(worker, postJson("/jobs", { inputs }, keyHeaders(key)), e);
      expect(res.status).toBe(202);
      return ((await res.json()) as { job_ids: string[] }).job_ids;
    };
    // One job a POST, so each is a message of its own (jobs posted together travel packed: lib/pack.ts).
    const [s1] = await post(small, [`s1 ${t}`]);
    const [s2] = await post(small, [`s2 ${t}`]);
    const [b1] = await post(big, [`b1 ${t}`]);
    expect(q.sent.map((m) => m.customer)).toEqual(["small", "small", "big"]);
    expect(q.sent[0]!.key_hash).toBe(await sha256hex(small));

    // s1 spends the small customer's budget; s2 is parked; b1 runs.
    expect((await deliver(e, [q.sent[0]!])).explicitAcks).toHaveLength(1);
    const second = await deliver(e, [q.sent[1]!, q.sent[2]!]);
    expect(second.explicitAcks).toHaveLength(2);
    expect(second.retryMessages).toEqual([]);
    expect(await jobRecord(s1!)).toMatchObject({ status: "done", customer: "small" });
    expect(await jobRecord(s2!)).toMatchObject({ status: "budget_exhausted", error: expect.stringMatching(/your monthly model budget/) });
    expect(await jobRecord(b1!)).toMatchObject({ status: "done", customer: "big" });
    expect(await standin.calls(t)).toHaveLength(2);
    // The admin list names the parked job's customer (zerocost jobs list's CUSTOMER).
    const listed = (await (await call(worker, get("/admin/jobs?status=budget_exhausted", admin), e)).json()) as { jobs: { job_id: string; customer?: string }[] };
    expect(listed.jobs).toMatchObject([{ job_id: s2, customer: "small" }]);

    // Still spent: the resume sends it, and the consumer parks it again (nothing lost).
    q.sent.length = 0;
    expect(await (await call(worker, postJson("/admin/jobs/resume", {}, admin), e)).json()).toEqual({ resumed: 1, remaining: 0 });
    expect(q.sent).toMatchObject([{ job_id: s2, input: `s2 ${t}`, customer: "small", key_hash: await sha256hex(small) }]);
    await deliver(e, [q.sent[0]!]);
    expect(await jobRecord(s2!)).toMatchObject({ status: "budget_exhausted" });

    // The budget raised in the key's record (zerocost keys create rewrites the customer's live keys).
    const k = `k:${await sha256hex(small)}`;
    const rec = (await env.KEYS!.get(k, "json")) as Record<string, unknown>;
    await env.KEYS!.put(k, JSON.stringify({ ...rec, monthly_budget_usd: 1 }));
    clearKeyCache(); // past the isolate's 60 s cache
    q.sent.length = 0;
    expect(await (await call(worker, postJson("/admin/jobs/resume", {}, admin), e)).json()).toEqual({ resumed: 1, remaining: 0 });
    expect((await deliver(e, [q.sent[0]!])).explicitAcks).toHaveLength(1);
    expect(await jobRecord(s2!)).toMatchObject({ status: "done", customer: "small" });
    expect(await standin.calls(t)).toHaveLength(3);
    expect(await row(e.PRODUCT, "small")).toEqual({ nanos: 2 * CALL_NANOS, calls: 2, input_tokens: 2 * USAGE.input_tokens, output_tokens: 2 * USAGE.output_tokens });
    expect(await row(e.PRODUCT, "big")).toEqual({ nanos: CALL_NANOS, calls: 1, input_tokens: USAGE.input_tokens, output_tokens: USAGE.output_tokens });
  });

  it("resume re-packs: N parked jobs travel in ceil(N / PACK_MAX_JOBS) messages; each ends done and paid once, with its customer", async () => {
    const t = await fixedCostToken();
    const q = sink<QueueBody>();
    const e = guarded(new D1Meter(env.SPEND!), {
      ACCESS: "keys", MONTHLY_BUDGET_USD: "", JOB_QUEUE: q.queue, DOOR_STANDARD: open, KEY_FAILURES: open, DOOR_LIMITER: open, RATE_LIMITER: open,
    });
    const keys = { a: await putKey(e.PRODUCT, "a", { monthly_budget_usd: 1 }), b: await putKey(e.PRODUCT, "b", { monthly_budget_usd: 1 }) };
    // Two full packs and a partial one; the customers alternate.
    const n = 2 * PACK_MAX_JOBS + 3;
    const customers = Array.from({ length: n }, (_, i) => (i % 2 ? "b" : "a") as keyof typeof keys);
    const ids: string[] = [];
    for (const [i, customer] of customers.entries()) {
      const job_id = await newJobId(e, Date.now(), customer);
      const key_hash = await sha256hex(keys[customer]);
      expect(await parkJob(e, readConfig(e), env.OUTPUTS, { job_id, input: `r${i} ${t}`, error: "budget spent", customer, key_hash }, null)).toBe(true);
      ids.push(job_id);
    }

    const before = Date.now();
    expect(await (await call(worker, postJson("/admin/jobs/resume", {}, admin), e)).json()).toEqual({ resumed: n, remaining: 0 });
    expect(q.sent).toHaveLength(Math.ceil(n / PACK_MAX_JOBS));
    const jobs = q.sent.flatMap(jobsOf);
    expect(jobs.map((j) => j.job_id).sort()).toEqual([...ids].sort());
    for (const j of jobs) {
      const i = ids.indexOf(j.job_id);
      expect(j).toEqual({ job_id: ids[i], input: `r${i} ${t}`, resumed_at: expect.any(Number), customer: customers[i], key_hash: await sha256hex(keys[customers[i]!]) });
      expect(j.resumed_at).toBeGreaterThanOrEqual(before);
    }

    // The consumer runs the packs, one a delivery (a delivery with a spend
    // store runs one full pack: patterns/async-pipeline/pack.ts): every job
    // done once, on its customer's row, and nothing sent on.
    for (const pack of q.sent.splice(0)) {
      const run = await deliver(e, [pack]);
      expect(run.explicitAcks).toHaveLength(1);
      expect(run.retryMessages).toEqual([]);
    }
    expect(q.sent).toEqual([]);
    for (const [i, id] of ids.entries()) expect(await jobRecord(id)).toMatchObject({ status: "done", customer: customers[i] });
    expect(await standin.calls(t)).toHaveLength(n);
    for (const c of ["a", "b"] as const) {
      const k = customers.filter((x) => x === c).length;
      expect(await row(e.PRODUCT, c)).toEqual({ nanos: k * CALL_NANOS, calls: k, input_tokens: k * USAGE.input_tokens, output_tokens: k * USAGE.output_tokens });
    }
  });

  it("a resumed job of a pack keeps resumed_at: deferred past a day of its creation, it is sent again carrying it", async () => {
    const q = sink<QueueBody>();
    const e = guarded(new D1Meter(env.SPEND!), {
      ACCESS: "keys", MONTHLY_BUDGET_USD: "", JOB_QUEUE: q.queue, DOOR_STANDARD: open, KEY_FAILURES: open, DOOR_LIMITER: open,
      RATE_LIMITER: { limit: async () => ({ success: false }) },
    });
    const key = await putKey(e.PRODUCT, "old", { monthly_budget_usd: 1 });
    // Created 25 h ago: without its resumed_at a deferral would be refused (past the queue's day).
    const created = Date.now() - 25 * 3600_000;
    const ids = [await newJobId(e, created, "old"), await newJobId(e, created, "old")];
    for (const job_id of ids) await parkJob(e, readConfig(e), env.OUTPUTS, { job_id, input: `old ${job_id}`, error: "budget spent", customer: "old", key_hash: await sha256hex(key) }, null);
    expect(await (await call(worker, postJson("/admin/jobs/resume", {}, admin), e)).json()).toEqual({ resumed: 2, remaining: 0 });
    expect(q.sent).toHaveLength(1);
    const [pack] = q.sent.splice(0);
    const resumedAt = jobsOf(pack)[0]!.resumed_at;
    expect(jobsOf(pack).map((j) => j.resumed_at)).toEqual([resumedAt, resumedAt]);

    // The limiter says wait: each job is deferred (sent again alone), not retried.
    const run = await deliver(e, [pack!]);
    expect(run.explicitAcks).toHaveLength(1);
    expect(run.retryMessages).toEqual([]);
    expect(q.sent).toHaveLength(2);
    for (const again of q.sent) expect(again).toMatchObject({ deferrals: 1, resumed_at: resumedAt, customer: "old" });
  });
});
