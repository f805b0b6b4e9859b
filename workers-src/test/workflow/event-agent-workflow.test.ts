// event-agent on runner: workflow (the default): POST /jobs creates one
// Workflow instance (Miniflare's Workflows, the class the test entry exports
// as JobWorkflow) whose id is the job id, and the instance writes the record.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newJobId } from "../../src/lib/jobid";
import { STATUS_AFTER_MS } from "../../src/lib/workflow";
import { createWorker } from "../../src/patterns/event-agent";
import { call, eventually, expectError, jobRecord, newToken, postJson, replyTo, standin, testEnv } from "../helpers";
import { jobRoutes } from "../agenthelpers";

const worker = createWorker({});

const { submit, view } = jobRoutes(worker);

/** Waits (up to timeoutMs) until GET /jobs/:id reads a final status. */
const settled = (id: string, e: ReturnType<typeof testEnv>, timeoutMs = 15_000) =>
  eventually(async () => {
    const v = await view(id, e);
    return v.status === "done" || v.status === "failed" ? v : undefined;
  }, timeoutMs);

describe("runner: workflow", () => {
  it("binds the Workflow and RUNNER of its rendered config", () => {
    expect(env.RUNNER).toBe("workflow");
    expect(typeof env.JOB_WORKFLOW?.create).toBe("function");
  });

  it("POST starts one instance named by the job id; the instance records the result", async () => {
    const e = testEnv();
    const input = `workflow ${newToken()}`;
    const id = await submit(input, e);
    const instance = await env.JOB_WORKFLOW!.get(id);
    expect(instance.id).toBe(id);
    expect(await settled(id, e)).toEqual({ job_id: id, status: "done", result: await replyTo(input) });
    expect(await jobRecord(id)).toMatchObject({ status: "done", model: "claude-haiku-4-5", usage: { output_tokens: expect.any(Number) } });
    expect((await instance.status()).status).toBe("complete");
  });

  it("a non-retryable answer fails the job at once, with zerocost's facts, not the API's text", async () => {
    const e = testEnv();
    const t = newToken();
    await standin.script(t, [{ status: 400, times: -1 }]);
    const id = await submit(`bad ${t}`, e);
    const v = await settled(id, e);
    expect(v).toEqual({ job_id: id, status: "failed", error: expect.stringMatching(/^the model API answered 400; 1 attempt over \d+\.\d s$/) });
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("a retryable failure is retried by the step, and the job is paid once", { timeout: 40_000 }, async () => {
    const e = testEnv();
    const t = newToken();
    await standin.script(t, [{ status: 529, times: 1 }]);
    const input = `retry ${t}`;
    const id = await submit(input, e);
    // The step's first retry waits MODEL_RETRY_DELAY_MS (10 s).
    expect(await settled(id, e, 30_000)).toEqual({ job_id: id, status: "done", result: await replyTo(input) });
    expect(await standin.calls(t)).toHaveLength(2);
  });

  it("GET of a job with no record reads queued, then asks its instance past the age window", async () => {
    const e = testEnv();
    const fresh = await newJobId(e);
    expect(await view(fresh, e)).toEqual({ job_id: fresh, status: "queued" });
    // No instance was ever created for this id: once the window has passed, failed with the reason.
    const old = await newJobId(e, Date.now() - STATUS_AFTER_MS - 1_000);
    expect(await view(old, e)).toEqual({ job_id: old, status: "failed", error: expect.stringContaining("instance is gone") });
  });

  it("an instance that cannot be created is a 503 the client retries, never a lost 202", async () => {
    const e = testEnv({ JOB_WORKFLOW: { create: async () => { throw new Error("too many queued instances"); } } });
    await expectError(await call(worker, postJson("/jobs", { input: "refused" }), e), 503, "unavailable");
  });
});
