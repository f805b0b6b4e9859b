// The shared library, exercised inside workerd against the model stand-in.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { safeEqual } from "../../src/lib/auth";
import { readConfig } from "../../src/lib/config";
import { HttpError } from "../../src/lib/errors";
import { readJsonObject } from "../../src/lib/http";
import { callModel, ModelError, parseRetryAfter, textOf, type MessagesRequest } from "../../src/lib/model";
import { checkRateLimit, enforceRateLimit } from "../../src/lib/ratelimit";
import { validateInput } from "../../src/lib/validate";
import { awayFromMinuteEdge, newToken, postJson, replyTo, standin, testEnv } from "../helpers";

function thrown(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("validateInput", () => {
  it("returns the trimmed input", () => {
    expect(validateInput("  hello \n", 10)).toBe("hello");
  });
  it.each([[5], [null], [undefined], [["a"]], [{ a: 1 }], [true]])("rejects non-strings (%j) with 400", (v) => {
    expect(thrown(() => validateInput(v, 10))).toMatchObject({ status: 400, code: "invalid_input" });
  });
  it("rejects empty and blank strings with 400", () => {
    for (const v of ["", "   ", "\n\t "]) {
      expect(thrown(() => validateInput(v, 10))).toMatchObject({ status: 400, code: "invalid_input" });
    }
  });
  it("counts characters, not UTF-16 units, and rejects longer inputs with 413", () => {
    expect(validateInput("😀".repeat(10), 10)).toHaveLength(20);
    expect(thrown(() => validateInput("😀".repeat(11), 10))).toMatchObject({ status: 413, code: "input_too_large" });
    expect(thrown(() => validateInput("a".repeat(11), 10))).toMatchObject({ status: 413, code: "input_too_large" });
  });
  it("rejects an unpaired surrogate", () => {
    expect(thrown(() => validateInput("ab\ud800cd", 10))).toMatchObject({ status: 400, code: "invalid_input" });
  });
  it("names the label in the message", () => {
    expect(thrown(() => validateInput("", 10, "inputs[3]")).message).toContain("inputs[3]");
  });
});

describe("readJsonObject", () => {
  const read = (r: Request) => readJsonObject(r, 100).then(
    () => null,
    (e: HttpError) => [e.status, e.code],
  );
  it("accepts a JSON object with or without a UTF-8 charset", async () => {
    expect(await readJsonObject(postJson("/", { a: 1 }), 100)).toEqual({ a: 1 });
    const r = postJson("/", { a: 1 }, { "content-type": "Application/JSON; Charset=UTF-8" });
    expect(await readJsonObject(r, 100)).toEqual({ a: 1 });
  });
  it("maps every malformed body to a 4xx", async () => {
    expect(await read(postJson("/", "{"))).toEqual([400, "invalid_json"]);
    expect(await read(postJson("/", ""))).toEqual([400, "invalid_json"]);
    expect(await read(postJson("/", new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d])))).toEqual([400, "invalid_json"]);
    expect(await read(postJson("/", "[1,2]"))).toEqual([400, "invalid_input"]);
    expect(await read(postJson("/", "null"))).toEqual([400, "invalid_input"]);
    expect(await read(postJson("/", '"text"'))).toEqual([400, "invalid_input"]);
    expect(await read(postJson("/", "[".repeat(90)))).toEqual([400, "invalid_json"]);
    expect(await read(postJson("/", "x".repeat(101)))).toEqual([413, "input_too_large"]);
    expect(await read(postJson("/", {}, { "content-type": "text/plain" }))).toEqual([415, "unsupported_media_type"]);
    expect(await read(postJson("/", {}, { "content-type": "application/json; charset=latin1" }))).toEqual([
      415,
      "unsupported_media_type",
    ]);
  });
  it("a body that breaks off while read is a 400, not a 500", async () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent) return c.error(new Error("Network connection lost."));
        sent = true;
        c.enqueue(new TextEncoder().encode('{"input":"cut'));
      },
    });
    const r = new Request("https://w/", { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(await read(r)).toEqual([400, "invalid_json"]);
  });
  it("stops reading a streamed body without content-length at the cap", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(64).fill(0x20));
        if (pulled > 1000) c.close();
      },
    });
    const r = new Request("https://w/", { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(r.headers.get("content-length")).toBeNull();
    expect(await read(r)).toEqual([413, "input_too_large"]);
    expect(pulled).toBeLessThan(10);
  });
});

describe("config", () => {
  it("uses the documented defaults", () => {
    const cfg = readConfig({ PRODUCT: "p" } as Cloudflare.Env);
    expect(cfg).toMatchObject({
      product: "p",
      model: "claude-haiku-4-5",
      baseUrl: "https://api.anthropic.com",
      maxInputChars: 4000,
      maxOutputTokens: 1024,
      modelTimeoutMs: 20000,
      rateLimitPerMinute: 60,
      retryDelaySeconds: 30,
      cacheTtlSeconds: 86400,
    });
  });
  it("clamps the cache TTL to at least 60 s and ignores garbage", () => {
    const cfg = readConfig({
      PRODUCT: "p",
      CACHE_TTL_SECONDS: "0",
      MAX_INPUT_CHARS: "lots",
      ANTHROPIC_BASE_URL: "http://127.0.0.1:1/",
    } as Cloudflare.Env);
    expect(cfg.cacheTtlSeconds).toBe(60);
    expect(cfg.maxInputChars).toBe(4000);
    expect(cfg.baseUrl).toBe("http://127.0.0.1:1");
  });
});

describe("auth compare", () => {
  it("compares in constant time over digests", async () => {
    expect(await safeEqual("secret", "secret")).toBe(true);
    expect(await safeEqual("secret", "secreT")).toBe(false);
    expect(await safeEqual("secret", "secret-longer")).toBe(false);
    expect(await safeEqual("", "x")).toBe(false);
  });
});

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

describe("rate limiter", () => {
  it("uses the RATE_LIMITER binding, keyed by product", async () => {
    const e = testEnv(); // test config: limit 3 per 60 s
    const cfg = readConfig(e);
    await awayFromMinuteEdge();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await checkRateLimit(e, cfg));
    expect(results.map((r) => r.ok)).toEqual([true, true, true, false]);
    expect(results[3]!.retryAfter).toBeGreaterThan(0);
    expect((await checkRateLimit(testEnv(), cfg)).ok).toBe(false); // same product
    const other = testEnv();
    expect((await checkRateLimit(other, readConfig(other))).ok).toBe(true);
  });

  it("a failing binding is a 503 for HTTP handlers, not a 500", async () => {
    const e = testEnv({ RATE_LIMITER: { limit: async () => { throw new Error("limiter down"); } } });
    const err = await enforceRateLimit(e, readConfig(e)).catch((x) => x);
    expect(err).toMatchObject({ status: 503, code: "unavailable", headers: { "retry-after": "30" } });
  });
});
