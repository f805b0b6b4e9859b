// async-pipeline (test/async-pipeline/harness.ts): the dead-letter queue, and
// jobs end to end through the real queues.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newJobId } from "../../src/lib/jobid";
import { call, get, newToken, postJson, replyTo, standin } from "../helpers";
import { DLQ, runBatch, seed, settled, status, worker } from "./harness";

describe("dead-letter queue", () => {
  it("writes the record dead, with the input and the last error, and acks, without calling the model", async () => {
    const t = newToken();
    const job = await seed(`doomed ${t}`, { error: "model API answered 503: busy", attempts: 2 });
    const result = await runBatch(DLQ, [job.msg]);
    expect(result.explicitAcks).toEqual([job.msg.id]);
    expect(await status(job.id)).toEqual({
      job_id: job.id,
      status: "dead",
      input: `doomed ${t}`,
      attempts: 2,
      error: "model API answered 503: busy",
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(await standin.calls(t)).toHaveLength(0);
    const v = await call(worker, get(`/jobs/${job.id}`));
    expect(await v.json()).toEqual({ job_id: job.id, status: "dead", error: "model API answered 503: busy" });
  });

  it("records a dead job that has no record yet", async () => {
    const id = await newJobId(env);
    const msg = { id: "m1", timestamp: new Date(), attempts: 4, body: { job_id: id, input: "lost" } };
    expect((await runBatch(DLQ, [msg])).explicitAcks).toEqual(["m1"]);
    expect(await status(id)).toMatchObject({ status: "dead", attempts: 4, input: "lost", error: "retries exhausted" });
  });

  it("leaves a job that ended meanwhile as it is", async () => {
    const job = await seed(`finished ${newToken()}`, { status: "done", result: "r" });
    expect((await runBatch(DLQ, [job.msg])).explicitAcks).toEqual([job.msg.id]);
    expect(await status(job.id)).toMatchObject({ status: "done", result: "r" });
  });
});

describe("end to end through the real queues", () => {
  it("producer -> consumer -> R2: every job ends done", async () => {
    const tokens = [newToken(), newToken(), newToken()];
    await standin.script(tokens[1]!, [{ status: 503 }]); // one transient failure on the way
    const res = await exports.default.fetch(postJson("/jobs", { inputs: tokens.map((t) => `item ${t}`) }));
    expect(res.status).toBe(202);
    const { job_ids } = (await res.json()) as { job_ids: string[] };
    expect(job_ids).toHaveLength(3);
    for (const [i, id] of job_ids.entries()) {
      expect(await settled(id)).toEqual({ job_id: id, status: "done", result: await replyTo(`item ${tokens[i]}`) });
    }
  });

  it("a rate-limited job waits without using up its retries, and ends done", async () => {
    // max_retries = 1: two deliveries. Six 429s take three deliveries of two
    // attempts each; retrying them would have sent the job to the DLQ.
    const t = newToken();
    await standin.script(t, [{ status: 429, retryAfter: "1", times: 6 }]);
    const res = await exports.default.fetch(postJson("/jobs", { input: `patient ${t}` }));
    const { job_id } = (await res.json()) as { job_id: string };
    expect(await settled(job_id, 30_000)).toEqual({ job_id, status: "done", result: await replyTo(`patient ${t}`) });
    expect(await standin.calls(t)).toHaveLength(7);
    expect(await status(job_id)).toMatchObject({ status: "done" });
  }, 40_000);

  it("a job that keeps failing is retried, then dead-lettered", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 500, times: -1 }]);
    const res = await exports.default.fetch(postJson("/jobs", { input: `doomed ${t}` }));
    const { job_id } = (await res.json()) as { job_id: string };
    const final = await settled(job_id);
    expect(final).toEqual({ job_id, status: "dead", error: expect.stringContaining("500") });
    expect(await status(job_id)).toMatchObject({ job_id, status: "dead", input: `doomed ${t}`, attempts: 2 });
    // max_retries = 1: two deliveries, each with two in-worker attempts
    expect(await standin.calls(t)).toHaveLength(4);
  });
});
