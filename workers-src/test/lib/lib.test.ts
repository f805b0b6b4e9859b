// The shared library, exercised inside workerd (the model client: model.test.ts).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { safeEqual } from "../../src/lib/auth";
import { readConfig } from "../../src/lib/config";
import { HttpError } from "../../src/lib/errors";
import { readJsonObject } from "../../src/lib/http";
import { checkRateLimit, enforceRateLimit } from "../../src/lib/ratelimit";
import { validateInput } from "../../src/lib/validate";
import { awayFromMinuteEdge, postJson, testEnv } from "../helpers";

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
