// The model client (lib/model.ts), exercised inside workerd against the
// model stand-in: headers and body, retries and back-off, retry-after,
// deadlines, typed errors, usage data points.
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/lib/config";
import { callModel, ModelError, parseRetryAfter, textOf, type MessagesRequest } from "../../src/lib/model";
import { newToken, replyTo, standin, testEnv } from "../helpers";

describe("model client", () => {
  const request = (token: string): MessagesRequest => ({
    model: "claude-haiku-4-5",
    max_tokens: 64,
    system: "sys",
    messages: [{ role: "user", content: `question ${token}` }],
  });
  const run = (token: string, e = testEnv(), opts: Partial<Parameters<typeof callModel>[3]> = {}) =>
    callModel(e, readConfig(e), request(token), { deadline: Date.now() + 10_000, pattern: "event-agent", ...opts });
  const failure = (p: Promise<unknown>) => p.then(
    () => {
      throw new Error("expected a ModelError");
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(ModelError);
      return e as ModelError;
    },
  );

  it("sends the Messages API headers and body", async () => {
    const t = newToken();
    const res = await run(t);
    expect(textOf(res)).toBe(await replyTo(`question ${t}`));
    const [c] = await standin.calls(t);
    expect(c!.headers).toEqual({
      "x-api-key": "sk-standin-test-key",
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
    });
    expect(c!.body).toEqual(request(t));
  });

  it("retries 429/500/502/503/504/529 and network errors, then succeeds", async () => {
    const t = newToken();
    await standin.script(t, [
      { status: 500 },
      { status: 502 },
      { status: 503 },
      { status: 504 },
      { status: 529 },
      { drop: true },
      { status: 429, retryAfter: "0" },
    ]);
    const res = await run(t, testEnv(), { maxAttempts: 8, baseDelayMs: 5 });
    expect(textOf(res)).toContain(t);
    const calls = await standin.calls(t);
    expect(calls).toHaveLength(8);
    // Each retry says which it is, as Anthropic's SDKs do; the first attempt says nothing.
    expect(calls.map((c) => c.headers["x-stainless-retry-count"])).toEqual([undefined, "1", "2", "3", "4", "5", "6", "7"]);
  });

  it("backs off exponentially between attempts", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 500, times: 3 }]);
    await run(t, testEnv(), { maxAttempts: 4, baseDelayMs: 100 });
    const at = (await standin.calls(t)).map((c) => c.at);
    const gaps = at.slice(1).map((v, i) => v - at[i]!);
    // equal jitter: each wait is between half and all of 100, 200, 400 ms
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95);
    expect(gaps[2]).toBeGreaterThanOrEqual(195);
  });

  it("honours retry-after", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 429, retryAfter: "1" }]);
    const started = Date.now();
    await run(t, testEnv(), { baseDelayMs: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(await standin.calls(t)).toHaveLength(2);
  });

  it("never waits past the deadline, and reports retry-after", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 429, retryAfter: "30", times: -1 }]);
    const started = Date.now();
    const err = await failure(run(t, testEnv(), { deadline: Date.now() + 2_000 }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err).toMatchObject({ status: 429, retryable: true, retryAfter: 30 });
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("gives up after maxAttempts with a typed error", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 529, times: -1 }]);
    const err = await failure(run(t, testEnv(), { maxAttempts: 3, baseDelayMs: 5 }));
    expect(err).toMatchObject({ status: 529, retryable: true });
    expect(err.message).toContain("529");
    expect(await standin.calls(t)).toHaveLength(3);
  });

  it("does not retry 400", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 400, times: -1 }]);
    const err = await failure(run(t));
    expect(err).toMatchObject({ status: 400, retryable: false });
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("times out each attempt after MODEL_TIMEOUT_MS", async () => {
    const t = newToken();
    await standin.script(t, [{ hang: true, times: 2 }]);
    const started = Date.now();
    const res = await run(t, testEnv({ MODEL_TIMEOUT_MS: "150" }), { baseDelayMs: 5 });
    expect(textOf(res)).toContain(t);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const err = await failure(
      (async () => {
        await standin.script(t, [{ hang: true, times: -1 }]);
        return run(t, testEnv({ MODEL_TIMEOUT_MS: "100" }), { maxAttempts: 2, baseDelayMs: 5 });
      })(),
    );
    expect(err).toMatchObject({ status: 0, retryable: true });
    expect(err.message).toMatch(/timed out/);
  });

  it("rejects a 200 that is not a Messages response", async () => {
    const t = newToken();
    await standin.script(t, [{ rawBody: "<html>", times: -1 }]);
    const err = await failure(run(t, testEnv(), { maxAttempts: 2, baseDelayMs: 5 }));
    expect(err).toMatchObject({ status: 502 });
  });

  it("writes one usage data point per successful call", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const e = testEnv({ MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => points.push(p) } });
    const t = newToken();
    await standin.script(t, [{ status: 500 }, { text: "abcdefgh" }]);
    await run(t, e, { baseDelayMs: 5, pattern: "edge-cache" });
    expect(points).toEqual([
      {
        blobs: [e.PRODUCT, "claude-haiku-4-5", "edge-cache", "realtime", ""],
        doubles: [expect.any(Number), 2, 0, 0],
        indexes: [e.PRODUCT],
      },
    ]);
    expect(points[0]!.doubles![0]).toBeGreaterThan(0);
  });

  it("skips usage when MODEL_USAGE is missing, and when it throws", async () => {
    await run(newToken(), testEnv({ MODEL_USAGE: undefined }));
    const broken = { writeDataPoint: () => { throw new Error("boom"); } };
    await run(newToken(), testEnv({ MODEL_USAGE: broken }));
  });

  it("parses retry-after seconds and dates", () => {
    expect(parseRetryAfter("5")).toBe(5);
    expect(parseRetryAfter("1.5")).toBe(1.5);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("-1")).toBeUndefined();
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10);
  });
});
