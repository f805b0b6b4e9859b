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
import type { JobMessage } from "../../src/env";
import { clearKeyCache } from "../../src/lib/keys";
import { monthOf } from "../../src/lib/spend/store";
import { createWorker as asyncPipeline } from "../../src/patterns/async-pipeline";
import { D1Meter } from "../d1meter";
import { call, get, jobRecord, newToken, postJson, standin, type TestEnv } from "../helpers";
import { putKey, sha256hex } from "../keyhelpers";
import { bearer as admin, CALL_USD, fixedCost, guarded, USAGE } from "./harness";

const CALL_NANOS = Math.round(CALL_USD * 1e9);
const QUEUE = "ap-test-workers-test-jobs";
const open = { limit: async () => ({ success: true }) };
const keyHeaders = (key: string) => ({ authorization: `Bearer ${key}`, "cf-connecting-ip": "198.51.100.10" });

beforeEach(() => clearKeyCache());

describe("async-pipeline: customer budgets", () => {
  const worker = asyncPipeline({});
  let n = 0;
  async function deliver(e: TestEnv, bodies: JobMessage[]) {
    const batch = createMessageBatch(
      QUEUE,
      bodies.map((body) => ({ id: `msg-${n++}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue!(batch, e, ctx);
    return getQueueResult(batch, ctx);
  }
  function sink() {
    const sent: JobMessage[] = [];
    const queue = {
      send: async (b: JobMessage) => void sent.push(b),
      sendBatch: async (msgs: Iterable<MessageSendRequest<JobMessage>>) => {
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
    const t = newToken();
    await fixedCost(t);
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
});
