// event-agent: POST /jobs -> 202 at once; the model call runs in waitUntil.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createWorker } from "../src/patterns/event-agent";
import { textOf } from "../src/lib/model";
import { createdAt, newJobId } from "../src/lib/jobid";
import { awayFromMinuteEdge, call, eventually, expectError, expectHealth, expectPatternBindings, get, jobKeys, jobRecord, newToken, postJson, replyTo, standin, testEnv } from "./helpers";
import { jobRoutes } from "./agenthelpers";

const worker = createWorker({});

const { submit, view } = jobRoutes(worker);

describe("routes", () => {
  it("sees the bindings of its rendered config (test/wrangler/event-agent.toml)", async () => {
    await expectPatternBindings({ PRODUCT: "ea-test", PATTERN: "event-agent", RATE_LIMIT_PER_MINUTE: "3" }, "jobs/none.json");
  });

  it("GET /health names the pattern and product", async () => {
    await expectHealth("event-agent", "ea-test");
  });

  it("unknown paths are 404 JSON", async () => {
    await expectError(await call(worker, get("/nope")), 404, "not_found");
    await expectError(await call(worker, postJson("/jobs/extra/segment", {})), 404, "not_found");
  });

  it("wrong methods are 405 with Allow", async () => {
    let res = await call(worker, get("/jobs"));
    expect(res.headers.get("allow")).toBe("POST");
    await expectError(res, 405, "method_not_allowed");
    res = await call(worker, new Request("https://worker.test/jobs/abc", { method: "DELETE" }));
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    await expectError(res, 405, "method_not_allowed");
    res = await call(worker, postJson("/health", {}));
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    await expectError(res, 405, "method_not_allowed");
  });

  it("GET /jobs/:id of an unknown, forged or malformed id is 404", async () => {
    await expectError(await call(worker, get(`/jobs/${crypto.randomUUID()}`)), 404, "not_found");
    const e = testEnv();
    const real = await newJobId(e);
    const forged = real.slice(0, 59) + (real[59] === "0" ? "1" : "0");
    await expectError(await call(worker, get(`/jobs/${forged}`), e), 404, "not_found");
    // signed for another product, or with another API key
    await expectError(await call(worker, get(`/jobs/${real}`), testEnv()), 404, "not_found");
    await expectError(await call(worker, get(`/jobs/${real}`), { ...e, ANTHROPIC_API_KEY: "sk-rotated" }), 404, "not_found");
    expect(await (await call(worker, get(`/jobs/${real}`), e)).json()).toEqual({ job_id: real, status: "queued" });
    await expectError(await call(worker, get(`/jobs/${real.toUpperCase()}`), e), 404, "not_found");
    await expectError(await call(worker, get("/jobs/not-an-id")), 404, "not_found");
    await expectError(await call(worker, get("/jobs/%00%ff")), 404, "not_found");
  });
});

describe("POST /jobs rejects bad input before any model call", () => {
  const cases: Array<[string, Request, number, string]> = [
    ["invalid JSON", postJson("/jobs", "{input:"), 400, "invalid_json"],
    ["invalid UTF-8", postJson("/jobs", new Uint8Array([0x7b, 0x22, 0x69, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])), 400, "invalid_json"],
    ["empty body", postJson("/jobs", ""), 400, "invalid_json"],
    ["an array", postJson("/jobs", [{ input: "x" }]), 400, "invalid_input"],
    ["null", postJson("/jobs", "null"), 400, "invalid_input"],
    ["a number", postJson("/jobs", "42"), 400, "invalid_input"],
    ["no input", postJson("/jobs", { prompt: "x" }), 400, "invalid_input"],
    ["input not a string", postJson("/jobs", { input: 42 }), 400, "invalid_input"],
    ["input an array", postJson("/jobs", { input: ["x"] }), 400, "invalid_input"],
    ["input null", postJson("/jobs", { input: null }), 400, "invalid_input"],
    ["empty input", postJson("/jobs", { input: "" }), 400, "invalid_input"],
    ["blank input", postJson("/jobs", { input: " \n\t " }), 400, "invalid_input"],
    ["unpaired surrogate", postJson("/jobs", '{"input":"a\\ud800b"}'), 400, "invalid_input"],
    ["input over MAX_INPUT_CHARS (200)", postJson("/jobs", { input: "x".repeat(201) }), 413, "input_too_large"],
    ["body over the byte cap", postJson("/jobs", { input: "ok", pad: "x".repeat(5000) }), 413, "input_too_large"],
    ["text/plain", postJson("/jobs", { input: "x" }, { "content-type": "text/plain" }), 415, "unsupported_media_type"],
    ["form data", postJson("/jobs", "input=x", { "content-type": "application/x-www-form-urlencoded" }), 415, "unsupported_media_type"],
    ["a non-UTF-8 charset", postJson("/jobs", { input: "x" }, { "content-type": "application/json; charset=iso-8859-1" }), 415, "unsupported_media_type"],
  ];
  it.each(cases)("%s", async (_name, request, status, code) => {
    const e = testEnv();
    const before = (await jobKeys()).length;
    await expectError(await call(worker, request, e), status, code);
    expect((await jobKeys()).length).toBe(before);
  });

  it("a missing content type is 415", async () => {
    const r = new Request("https://worker.test/jobs", { method: "POST", body: new TextEncoder().encode('{"input":"x"}') });
    expect(r.headers.get("content-type")).toBeNull();
    await expectError(await call(worker, r), 415, "unsupported_media_type");
  });

  it("accepts exactly MAX_INPUT_CHARS characters, and a UTF-8 charset", async () => {
    const t = newToken();
    const input = t + " " + "é".repeat(200 - t.length - 1);
    const res = await call(worker, postJson("/jobs", { input }, { "content-type": "application/json; charset=UTF-8" }));
    expect(res.status).toBe(202);
  });
});

describe("the waitUntil path", () => {
  it("answers 202 before the model finishes, then ends done with the result in R2", async () => {
    const t = newToken();
    await standin.script(t, [{ delayMs: 300 }]);
    const e = testEnv();
    const ctx = createExecutionContext();
    const res = await worker.fetch!(postJson("/jobs", { input: `  summarise ${t}  ` }) as any, e, ctx);
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    expect(await view(job_id, e)).toEqual({ job_id, status: "queued" });
    await waitOnExecutionContext(ctx);

    const answer = await replyTo(`summarise ${t}`);
    expect(await view(job_id, e)).toEqual({ job_id, status: "done", result: answer });
    // One record: jobs/<id>.json, created when the id says.
    const stored = (await jobRecord(job_id))!;
    expect(stored).toMatchObject({ job_id, status: "done", result: answer, model: "claude-haiku-4-5", usage: expect.any(Object) });
    expect(Date.parse(stored.created_at)).toBe(createdAt(job_id));
    expect(Date.parse(stored.updated_at)).toBeGreaterThanOrEqual(Date.parse(stored.created_at));

    const [c] = await standin.calls(t);
    expect(c!.body).toEqual({
      model: "claude-haiku-4-5",
      max_tokens: 256,
      system: "You are the event-agent test product.",
      messages: [{ role: "user", content: `summarise ${t}` }],
    });
  });

  it("retries transient model errors and still ends done", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 529 }, { status: 500 }]);
    const id = await submit(`retry ${t}`);
    expect(await view(id)).toMatchObject({ status: "done", result: await replyTo(`retry ${t}`) });
    expect(await standin.calls(t)).toHaveLength(3);
  });

  it("ends failed with an error when the model keeps failing", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 500, times: -1 }]);
    const id = await submit(`fail ${t}`);
    const v = await view(id);
    expect(v).toEqual({ job_id: id, status: "failed", error: expect.stringContaining("500") });
    expect(await standin.calls(t)).toHaveLength(3);
    expect(await jobRecord(id)).toMatchObject({ status: "failed" });
    expect((await jobRecord(id))!.result).toBeUndefined();
  });

  it("ends failed at once on a non-retryable model error", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 400, times: -1 }]);
    const id = await submit(`bad ${t}`);
    expect(await view(id)).toMatchObject({ status: "failed", error: "model API answered 400" }); // not the API's own words
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("ends failed when every attempt times out", async () => {
    const t = newToken();
    await standin.script(t, [{ hang: true, times: -1 }]);
    const e = testEnv({ MODEL_TIMEOUT_MS: "200" });
    const started = Date.now();
    const id = await submit(`slow ${t}`, e);
    expect(await view(id, e)).toMatchObject({ status: "failed", error: expect.stringMatching(/timed out after 200 ms/) });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await standin.calls(t)).toHaveLength(3);
  });

  it("runs end to end through the Worker's own fetch (polling GET /jobs/:id)", async () => {
    const t = newToken();
    const res = await exports.default.fetch("https://worker.test/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: `e2e ${t}` }),
    });
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    const done = await eventually(async () => {
      const v = (await (await exports.default.fetch(`https://worker.test/jobs/${job_id}`)).json()) as { status: string };
      return v.status === "queued" ? undefined : v;
    });
    expect(done).toEqual({ job_id, status: "done", result: await replyTo(`e2e ${t}`) });
  });

  it("writes a usage data point for the call", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const e = testEnv({ MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => points.push(p) } });
    await submit(`usage ${newToken()}`, e);
    expect(points).toHaveLength(1);
    expect(points[0]!.blobs).toEqual([e.PRODUCT, "claude-haiku-4-5", "event-agent", "realtime", ""]); // a public product: no customer
    expect(points[0]!.indexes).toEqual([e.PRODUCT]);
  });
});

describe("rate limiting at POST time", () => {
  it("answers 429 from the RATE_LIMITER binding before creating a job", async () => {
    const e = testEnv(); // test config: limit 3 per 60 s, keyed by PRODUCT
    await awayFromMinuteEdge();
    for (let i = 0; i < 3; i++) await submit(`rl ${i} ${newToken()}`, e);
    const t = newToken();
    const before = (await jobKeys()).length;
    const res = await call(worker, postJson("/jobs", { input: `over ${t}` }), e);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    await expectError(res, 429, "rate_limited");
    expect((await jobKeys()).length).toBe(before);
    expect(await standin.calls(t)).toHaveLength(0);
  });

  it("a failing limiter is a 503 JSON error, and no job", async () => {
    const t = newToken();
    const e = testEnv({ RATE_LIMITER: { limit: async () => { throw new Error("limiter down"); } } });
    const res = await call(worker, postJson("/jobs", { input: `nolimit ${t}` }), e);
    expect(res.headers.get("retry-after")).toBe("30");
    await expectError(res, 503, "unavailable");
    expect(await standin.calls(t)).toHaveLength(0);
  });
});

describe("hooks", () => {
  it("buildRequest and shapeResult replace the defaults", async () => {
    const hooked = createWorker({
      buildRequest: (input, ctx) => ({
        ...ctx.defaultRequest,
        system: `${ctx.product}/${ctx.pattern}: be brief`,
        messages: [{ role: "user", content: `Q: ${input}` }],
        temperature: 0,
      }),
      shapeResult: (response, input) => ({ input, answer: textOf(response), stop: response.stop_reason }),
    });
    const t = newToken();
    const e = testEnv();
    const id = await submit(`hook ${t}`, e, hooked);
    expect(await view(id, e)).toMatchObject({
      status: "done",
      result: { input: `hook ${t}`, answer: await replyTo(`Q: hook ${t}`), stop: "end_turn" },
    });
    const [c] = await standin.calls(t);
    expect(c!.body).toMatchObject({ system: `${e.PRODUCT}/event-agent: be brief`, temperature: 0, max_tokens: 256 });
  });

  it("a buildRequest that leaves out model and max_tokens gets the vars", async () => {
    const hooked = createWorker({ buildRequest: (input) => ({ messages: [{ role: "user", content: input }] }) });
    const t = newToken();
    await submit(`partial ${t}`, testEnv(), hooked);
    const [c] = await standin.calls(t);
    expect(c!.body).toEqual({ model: "claude-haiku-4-5", max_tokens: 256, messages: [{ role: "user", content: `partial ${t}` }] });
  });

  it("a hook that throws fails the job instead of leaving it queued", async () => {
    const hooked = createWorker({
      shapeResult: () => {
        throw new Error("shape exploded");
      },
    });
    const id = await submit(`throws ${newToken()}`, testEnv(), hooked);
    expect(await view(id)).toMatchObject({ status: "failed", error: "shape exploded" });
  });

  it("scheduled calls hooks.scheduled with env; without it, does nothing", async () => {
    const seen: unknown[] = [];
    const w = createWorker({ scheduled: (e) => void seen.push(e.PRODUCT) });
    const ctx = createExecutionContext();
    await w.scheduled!(createScheduledController({ cron: "0 * * * *" }), env, ctx);
    expect(seen).toEqual(["ea-test"]);
    await worker.scheduled!(createScheduledController(), env, ctx);
  });

  it("rejects a hooks module whose members are not functions", () => {
    expect(() => createWorker({ shapeResult: "nope" } as never)).toThrow(TypeError);
  });
});
