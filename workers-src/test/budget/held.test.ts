// Held records (lib/held.ts) in workerd: dead and parked records are copied
// under held/, which R2 keeps 31 days while jobs/ keeps retentionDays (7 by
// default). Expiry is simulated by deleting the jobs/ record, as R2's
// lifecycle rule would. Runs in the async-pipeline project.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { JobMessage } from "../../src/env";
import { readConfig } from "../../src/lib/config";
import { heldKey } from "../../src/lib/held";
import { newJobId } from "../../src/lib/jobid";
import { parkJob } from "../../src/lib/spend/parked";
import { createWorker as asyncPipeline } from "../../src/patterns/async-pipeline";
import { D1Meter } from "../d1meter";
import { call, get, jobRecord, newToken, postJson, standin, type TestEnv } from "../helpers";
import { bearer, fixedCostToken, guarded } from "./harness";

const HOUR = 3600_000;

describe("async-pipeline: held records", () => {
  const worker = asyncPipeline({});
  const QUEUE = "ap-test-workers-test-jobs";
  const DLQ = "ap-test-workers-test-jobs-dlq";
  const message = (job_id: string, input: string, attempts = 1) => ({
    id: `msg-${crypto.randomUUID()}`,
    timestamp: new Date(),
    attempts,
    body: { job_id, input } as JobMessage,
  });
  async function deliver(e: TestEnv, queue: string, messages: ServiceBindingQueueMessage<unknown>[]) {
    const batch = createMessageBatch(queue, messages);
    const ctx = createExecutionContext();
    await worker.queue!(batch, e, ctx);
    return getQueueResult(batch, ctx);
  }
  const held = async (id: string) => {
    const obj = await env.OUTPUTS.get(heldKey(id));
    return obj ? ((await obj.json()) as Record<string, unknown>) : null;
  };
  const expire = (id: string) => env.OUTPUTS.delete(`jobs/${id}.json`);
  const poll = async (e: TestEnv, id: string) => (await (await call(worker, get(`/jobs/${id}`, bearer), e)).json()) as Record<string, unknown>;
  /** A product of its own, so that its parked rows are this test's only. */
  function product(over: Partial<Record<keyof TestEnv, unknown>> = {}) {
    const sent: JobMessage[] = [];
    const queue = { send: async (b: JobMessage) => void sent.push(b), sendBatch: async (ms: Iterable<MessageSendRequest<JobMessage>>) => void sent.push(...[...ms].map((m) => m.body)) };
    return { sent, e: guarded(new D1Meter(env.SPEND!), { PRODUCT: `held-${newToken().slice(3, 15)}`, JOB_QUEUE: queue, ...over }) };
  }

  it("a parked job outlives its jobs/ record: GET reads held/, resume moves it back and it ends done once", async () => {
    const t = await fixedCostToken();
    const { sent, e } = product({ MONTHLY_BUDGET_USD: "0.000000001" });
    // One paid call spends the tiny budget; the next job is parked.
    await deliver(e, QUEUE, [message(await newJobId(e), `warm ${t}`)]);
    const id = await newJobId(e, Date.now() - 8 * 24 * HOUR);
    const parked = await deliver(e, QUEUE, [message(id, `held ${t}`)]);
    expect(parked.explicitAcks).toHaveLength(1);
    expect(await jobRecord(id)).toMatchObject({ status: "budget_exhausted" });
    expect(await held(id)).toMatchObject({ job_id: id, status: "budget_exhausted", error: expect.stringMatching(/budget/) });

    await expire(id);
    expect(await poll(e, id)).toMatchObject({ job_id: id, status: "budget_exhausted" });

    const raised = { ...e, MONTHLY_BUDGET_USD: "1" } as TestEnv;
    expect(await (await call(worker, postJson("/admin/jobs/resume", {}, bearer), raised)).json()).toEqual({ resumed: 1, remaining: 0 });
    expect(sent.map((m) => m.job_id)).toEqual([id]);
    expect(await jobRecord(id)).toMatchObject({ status: "queued" });
    expect(await held(id)).toBeNull();
    const done = await deliver(raised, QUEUE, sent.map((b) => message(b.job_id, b.input)));
    expect(done.explicitAcks).toHaveLength(1);
    expect(await poll(raised, id)).toMatchObject({ status: "done" });
    expect(await standin.calls(t)).toHaveLength(2); // the warm job and this one, once
  });

  it("a dead job outlives its jobs/ record, with its input", async () => {
    const { e } = product();
    const id = await newJobId(e, Date.now() - 26 * HOUR);
    const res = await deliver(e, DLQ, [message(id, "dead input", 4)]);
    expect(res.explicitAcks).toHaveLength(1);
    expect(await jobRecord(id)).toMatchObject({ status: "dead", input: "dead input" });
    expect(await held(id)).toMatchObject({ status: "dead", input: "dead input" });
    await expire(id);
    expect(await poll(e, id)).toMatchObject({ job_id: id, status: "dead" });
  });

  it("a parked job a redelivery ran drops its held copy: once its done record expires, resume does not pay it again", async () => {
    const t = await fixedCostToken();
    const { sent, e } = product();
    const cfg = readConfig(e);
    const id = await newJobId(e, Date.now() - 26 * HOUR);
    await parkJob(e, cfg, env.OUTPUTS, { job_id: id, input: `again ${t}`, error: "budget spent" }, null);
    expect(await held(id)).toMatchObject({ status: "budget_exhausted" });
    // A message of the job still in the queue runs it (the budget allows it now).
    const ran = await deliver(e, QUEUE, [message(id, `again ${t}`, 2)]);
    expect(ran.explicitAcks).toHaveLength(1);
    expect(await jobRecord(id)).toMatchObject({ status: "done" });
    expect(await held(id)).toBeNull();
    await expire(id);
    expect(await (await call(worker, postJson("/admin/jobs/resume", {}, bearer), e)).json()).toEqual({ resumed: 1, remaining: 0 });
    expect(sent).toEqual([]);
    expect(await standin.calls(t)).toHaveLength(1);
    // Expired and never held: the id's age says what it is.
    expect(await poll(e, id)).toMatchObject({ status: "failed", error: expect.stringMatching(/expired/) });
  });

  it("a young job with no record costs no held/ read: queued by its age", async () => {
    const { e } = product();
    const id = await newJobId(e);
    await env.OUTPUTS.put(heldKey(id), JSON.stringify({ job_id: id, status: "dead", created_at: "", updated_at: "" }));
    expect(await poll(e, id)).toMatchObject({ job_id: id, status: "queued" });
  });
});
