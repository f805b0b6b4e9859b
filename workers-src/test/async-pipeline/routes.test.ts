// async-pipeline (test/async-pipeline/harness.ts): its routes and POST /jobs.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PackMessage } from "../../src/env";
import { PACK_MAX_BYTES, PACK_MAX_JOBS } from "../../src/lib/pack";
import { newJobId } from "../../src/lib/jobid";
import { EXPIRED_ERROR, MAX_BATCH_INPUTS, QUEUED_WINDOW_MS } from "../../src/patterns/async-pipeline";
import { call, expectBearerAuth, expectError, expectHealth, expectPatternBindings, get, jobKeys, postJson, testEnv } from "../helpers";
import { DLQ, status, worker } from "./harness";

describe("routes", () => {
  it("sees the bindings of its rendered config (test/wrangler/async-pipeline.toml)", async () => {
    await expectPatternBindings({ PRODUCT: "ap-test", PATTERN: "async-pipeline", DEAD_LETTER_QUEUE: DLQ, RETRY_DELAY_SECONDS: "1" }, "jobs/none.json");
    expect(typeof env.JOB_QUEUE.send).toBe("function");
  });

  it("GET /health, 404 and 405", async () => {
    await expectHealth("async-pipeline", "ap-test");
    await expectError(await call(worker, get("/ask")), 404, "not_found");
    const r405 = await call(worker, new Request("https://worker.test/jobs", { method: "PUT" }));
    expect(r405.headers.get("allow")).toBe("POST");
    await expectError(r405, 405, "method_not_allowed");
    await expectError(await call(worker, get(`/jobs/${crypto.randomUUID()}`)), 404, "not_found");
  });

  it("AUTH_TOKEN guards the admin routes, not the product's", async () => {
    await expectBearerAuth(worker, "/jobs", 202);
  });
});

describe("POST /jobs", () => {
  const cases: Array<[string, Request, number, string, string?]> = [
    ["invalid JSON", postJson("/jobs", "{"), 400, "invalid_json"],
    ["an array body", postJson("/jobs", ["a"]), 400, "invalid_input"],
    ["neither input nor inputs", postJson("/jobs", {}), 400, "invalid_input"],
    ["both input and inputs", postJson("/jobs", { input: "a", inputs: ["b"] }), 400, "invalid_input"],
    ["inputs not an array", postJson("/jobs", { inputs: "a" }), 400, "invalid_input"],
    ["inputs an object", postJson("/jobs", { inputs: { 0: "a" } }), 400, "invalid_input"],
    ["inputs empty", postJson("/jobs", { inputs: [] }), 400, "invalid_input"],
    ["a bad item", postJson("/jobs", { inputs: ["a", "b", 7, "d"] }), 400, "invalid_input", "inputs[2]"],
    ["a blank item", postJson("/jobs", { inputs: ["a", "  "] }), 400, "invalid_input", "inputs[1]"],
    ["a null item", postJson("/jobs", { inputs: [null] }), 400, "invalid_input", "inputs[0]"],
    ["an item too long", postJson("/jobs", { inputs: ["a", "x".repeat(201)] }), 413, "input_too_large", "inputs[1]"],
    ["too many items", postJson("/jobs", { inputs: Array(MAX_BATCH_INPUTS + 1).fill("a") }), 413, "input_too_large"],
    ["input too long", postJson("/jobs", { input: "x".repeat(201) }), 413, "input_too_large"],
    ["body over the byte cap", postJson("/jobs", { input: "a", pad: "x".repeat(200_000) }), 413, "input_too_large"],
    ["wrong content type", postJson("/jobs", { input: "a" }, { "content-type": "text/json" }), 415, "unsupported_media_type"],
  ];
  it.each(cases)("rejects %s", async (_n, request, code, error, mention) => {
    const before = (await jobKeys()).length;
    const message = await expectError(await call(worker, request), code, error);
    if (mention) expect(message).toContain(mention);
    expect((await jobKeys()).length).toBe(before);
  });

  it("one input: 202 with job_id and job_ids; queued by its signed id, with nothing written", async () => {
    // A worker env whose queue only records, so the job stays queued.
    const sent: unknown[] = [];
    const e = testEnv({ JOB_QUEUE: { send: async (m: unknown) => void sent.push(m), sendBatch: async () => {} } });
    const res = await call(worker, postJson("/jobs", { input: "  one  " }), e);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { job_id: string; job_ids: string[]; status: string };
    expect(body).toEqual({ job_id: body.job_ids[0], job_ids: [expect.stringMatching(/^[0-9a-f]{60}$/)], status: "queued" });
    expect(sent).toEqual([{ job_id: body.job_id, input: "one" }]);
    expect(await status(body.job_id)).toBeNull();
    expect(await (await call(worker, get(`/jobs/${body.job_id}`), e)).json()).toEqual({ job_id: body.job_id, status: "queued" });
    // Another product's Worker did not issue it.
    await expectError(await call(worker, get(`/jobs/${body.job_id}`)), 404, "not_found");
  });

  it("a job with no record reads queued for 25 h (the queue keeps a message 24 h), then failed: expired", async () => {
    const e = testEnv();
    const young = await newJobId(e, Date.now() - 24 * 3600_000);
    expect(await (await call(worker, get(`/jobs/${young}`), e)).json()).toEqual({ job_id: young, status: "queued" });
    const old = await newJobId(e, Date.now() - QUEUED_WINDOW_MS - 1000);
    expect(await (await call(worker, get(`/jobs/${old}`), e)).json()).toEqual({ job_id: old, status: "failed", error: EXPIRED_ERROR });
  });

  it("a queue outage is a 503 with retry-after, and nothing is accepted or written", async () => {
    const e = testEnv({
      JOB_QUEUE: {
        send: async () => {
          throw new Error("queue down");
        },
        sendBatch: async () => {
          throw new Error("queue down");
        },
      },
    });
    const before = (await jobKeys()).length;
    const res = await call(worker, postJson("/jobs", { inputs: ["a", "b"] }), e);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await expectError(res, 503, "unavailable")).toContain("0 of 2");
    expect((await jobKeys()).length).toBe(before);
  });

  it("many inputs go out packed (ten a message, one 64 KB billing unit) with sendBatch, in chunks under the Queues limits", async () => {
    const batches: Array<Array<{ body: PackMessage }>> = [];
    const e = testEnv({
      JOB_QUEUE: { send: async () => {}, sendBatch: async (b: Array<{ body: PackMessage }>) => void batches.push([...b]) },
    });
    const inputs = Array.from({ length: MAX_BATCH_INPUTS }, (_, i) => `${i} ` + "ü".repeat(190));
    const res = await call(worker, postJson("/jobs", { inputs }), e);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { job_ids: string[]; job_id?: string };
    expect(body.job_ids).toHaveLength(MAX_BATCH_INPUTS);
    expect(body.job_id).toBeUndefined();
    const packs = batches.flat().map((m) => m.body);
    expect(packs).toHaveLength(MAX_BATCH_INPUTS / PACK_MAX_JOBS);
    expect(packs.flatMap((p) => p.jobs)).toEqual(body.job_ids.map((job_id, i) => ({ job_id, input: inputs[i] })));
    for (const p of packs) expect(new TextEncoder().encode(JSON.stringify(p)).byteLength).toBeLessThanOrEqual(PACK_MAX_BYTES);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(100);
      expect(new TextEncoder().encode(JSON.stringify(b)).byteLength).toBeLessThan(256_000);
    }
  });
});
