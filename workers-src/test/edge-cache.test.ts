// edge-cache: POST /ask answers from KV (HIT) or the model (MISS).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { cacheKey, cacheScope } from "../src/lib/cachekey";
import { readConfig } from "../src/lib/config";
import { createWorker } from "../src/patterns/edge-cache";
import { awayFromMinuteEdge, call, expectBearerAuth, expectError, expectHealth, expectPatternBindings, get, newToken, postJson, replyTo, standin, testEnv, type TestEnv } from "./helpers";

const worker = createWorker({});

/** The key the Worker uses for input under env e. */
const keyFor = (input: string, e: TestEnv = testEnv()) => cacheKey(input, cacheScope(readConfig(e)));

async function ask(input: string, e: TestEnv = testEnv()) {
  const res = await call(worker, postJson("/ask", { input }), e);
  const body = (await res.json()) as Record<string, any>;
  return { status: res.status, cache: res.headers.get("x-cache"), body, headers: res.headers };
}

describe("routes", () => {
  it("sees the bindings of its rendered config (test/wrangler/edge-cache.toml)", async () => {
    expect(env).toMatchObject({ PRODUCT: "ec-test", PATTERN: "edge-cache", CACHE_TTL_SECONDS: "86400", KV_INLINE_MAX_BYTES: "16384" });
    await expectPatternBindings(env.CACHE, "ai:none", "answers/none.json");
  });

  it("GET /health, 404, 405", async () => {
    await expectHealth("edge-cache", "ec-test");
    await expectError(await call(worker, get("/jobs")), 404, "not_found");
    const r = await call(worker, get("/ask"));
    expect(r.headers.get("allow")).toBe("POST");
    await expectError(r, 405, "method_not_allowed");
  });

  const cases: Array<[string, Request, number, string]> = [
    ["invalid JSON", postJson("/ask", "{'input': 1}"), 400, "invalid_json"],
    ["invalid UTF-8", postJson("/ask", new Uint8Array([0x7b, 0x22, 0x69, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d])), 400, "invalid_json"],
    ["an array body", postJson("/ask", [1]), 400, "invalid_input"],
    ["no input", postJson("/ask", { question: "x" }), 400, "invalid_input"],
    ["input an object", postJson("/ask", { input: { text: "x" } }), 400, "invalid_input"],
    ["blank input", postJson("/ask", { input: "   " }), 400, "invalid_input"],
    ["input too long", postJson("/ask", { input: "é".repeat(201) }), 413, "input_too_large"],
    ["body over the byte cap", postJson("/ask", { input: "a", pad: "x".repeat(3000) }), 413, "input_too_large"],
    ["wrong content type", postJson("/ask", { input: "a" }, { "content-type": "multipart/form-data" }), 415, "unsupported_media_type"],
  ];
  it.each(cases)("rejects %s", async (_n, request, status, code) => {
    await expectError(await call(worker, request), status, code);
  });

  it("auth: 401 without the token, 200 with it, /health open", async () => {
    await expectBearerAuth(worker, "/ask", 200);
  });
});

describe("caching", () => {
  it("MISS, then HIT for the same question in another case and punctuation", async () => {
    const t = newToken();
    const first = await ask(`What is Cloudflare Workers? ${t}`);
    expect(first).toMatchObject({ status: 200, cache: "MISS", body: { answer: await replyTo(`What is Cloudflare Workers? ${t}`) } });
    for (const variant of [`what is cloudflare workers ${t}`, `  WHAT is, Cloudflare   Workers?!  ${t.toUpperCase()}.`]) {
      const again = await ask(variant);
      expect(again).toMatchObject({ status: 200, cache: "HIT", body: first.body });
    }
    expect(await standin.calls(t)).toHaveLength(1);
    const other = await ask(`What is Cloudflare Pages? ${t}`);
    expect(other.cache).toBe("MISS");
  });

  it("normalises Unicode text too", async () => {
    const t = newToken();
    expect((await ask(`¿Qué es ÉL? ${t}`)).cache).toBe("MISS");
    expect((await ask(`qué es él ${t}`)).cache).toBe("HIT");
    expect((await ask(`que es el ${t}`)).cache).toBe("MISS"); // accents are not punctuation
  });

  it("stores the answer inline in KV under ai:<sha-256> with CACHE_TTL_SECONDS", async () => {
    const input = `ttl check ${newToken()}`;
    const { body } = await ask(input);
    const key = await keyFor(input);
    expect(JSON.parse((await env.CACHE.get(key))!)).toEqual({ answer: body.answer });
    const { keys } = await env.CACHE.list({ prefix: key });
    expect(keys[0]!.expiration! - Date.now() / 1000).toBeGreaterThan(86_000);
  });

  it("puts answers over KV_INLINE_MAX_BYTES in R2 and keeps a pointer in KV", async () => {
    const t = newToken();
    await standin.script(t, [{ text: "long answer line. ", repeat: 2000 }]);
    const e = testEnv({ KV_INLINE_MAX_BYTES: "1024" });
    const miss = await ask(`Write an essay ${t}`, e);
    expect(miss.cache).toBe("MISS");
    expect(miss.body.answer).toHaveLength(18 * 2000);

    const key = await keyFor(`Write an essay ${t}`, e);
    const pointer = JSON.parse((await env.CACHE.get(key))!);
    expect(pointer).toEqual({ r2: `answers/${key.slice(3)}.json` });
    expect(((await (await env.OUTPUTS.get(pointer.r2))!.json()) as { answer: string }).answer).toBe(miss.body.answer);

    const hit = await ask(`write an essay ${t}`, e);
    expect(hit).toMatchObject({ cache: "HIT", body: { answer: miss.body.answer } });
    expect(await standin.calls(t)).toHaveLength(1);

    await env.OUTPUTS.delete(pointer.r2); // a dangling pointer is a miss
    expect((await ask(`Write an essay ${t}`, e)).cache).toBe("MISS");
    expect(await standin.calls(t)).toHaveLength(2);
  });

  it("keys answers by model and system prompt too", async () => {
    const q = `scoped question ${newToken()}`;
    expect((await ask(q)).cache).toBe("MISS");
    expect((await ask(q)).cache).toBe("HIT");
    expect((await ask(q, testEnv({ SYSTEM_PROMPT: "Answer in French." }))).cache).toBe("MISS");
    expect((await ask(q, testEnv({ MODEL: "claude-sonnet-4-5" }))).cache).toBe("MISS");
  });

  it("does not cache a model failure: 502, then a MISS", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 500, times: 3 }]);
    const res = await call(worker, postJson("/ask", { input: `flaky ${t}` }));
    expect((await expectError(res, 502, "upstream_error"))).toContain("500");
    expect(await env.CACHE.get(await keyFor(`flaky ${t}`))).toBeNull();
    const next = await ask(`flaky ${t}`);
    expect(next).toMatchObject({ status: 200, cache: "MISS" });
    expect(await standin.calls(t)).toHaveLength(4);
  });

  it("gives up at once when the model's retry-after passes the deadline, passing it on", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 429, retryAfter: "40", times: -1 }]);
    const started = Date.now();
    const res = await call(worker, postJson("/ask", { input: `busy ${t}` }));
    expect(res.headers.get("retry-after")).toBe("40");
    await expectError(res, 502, "upstream_error");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await standin.calls(t)).toHaveLength(1);
  });

  it("retries a 529 and a timeout on the way to an answer", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 529 }, { hang: true }]);
    const r = await ask(`persist ${t}`, testEnv({ MODEL_TIMEOUT_MS: "200" }));
    expect(r).toMatchObject({ status: 200, cache: "MISS" });
    expect(await standin.calls(t)).toHaveLength(3);
  });

  it("shapeResult decides the answer", async () => {
    const hooked = createWorker({ shapeResult: (r) => ({ words: r.content.map((b) => b.text).join("").split(" ").length }) });
    const input = `count ${newToken()}`;
    const res = await call(hooked, postJson("/ask", { input }));
    expect(await res.json()).toEqual({ answer: { words: (await replyTo(input)).split(" ").length } });
  });
});

describe("rate limiting on a miss", () => {
  it("KV fallback: 429 once the minute's budget is spent, while hits are still served", async () => {
    const e = testEnv({ RATE_LIMITER: undefined, RATE_LIMIT_PER_MINUTE: "2" });
    await awayFromMinuteEdge();
    const t = newToken();
    expect((await ask(`one ${t}`, e)).cache).toBe("MISS");
    expect((await ask(`two ${t}`, e)).cache).toBe("MISS");
    const limited = await call(worker, postJson("/ask", { input: `three ${t}` }), e);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await expectError(limited, 429, "rate_limited");
    expect((await ask(`ONE ${t}!`, e)).cache).toBe("HIT");
    expect(await standin.calls(t)).toHaveLength(2);
    expect(await env.CACHE.get(`rl:${e.PRODUCT}:${Math.floor(Date.now() / 60_000)}`)).toBe("2");
  });

  it("RATE_LIMITER binding: 429 when it says no, keyed by product", async () => {
    const keys: string[] = [];
    const e = testEnv({ RATE_LIMITER: { limit: async ({ key }: { key: string }) => (keys.push(key), { success: false }) } });
    const t = newToken();
    await expectError(await call(worker, postJson("/ask", { input: `denied ${t}` }), e), 429, "rate_limited");
    expect(keys).toEqual([e.PRODUCT]);
    expect(await standin.calls(t)).toHaveLength(0);
  });
});

describe("usage", () => {
  it("writes a data point on a miss, none on a hit", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const e = testEnv({ MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => points.push(p) } });
    const input = `metered ${newToken()}`;
    await ask(input, e);
    await ask(input, e);
    expect(points).toHaveLength(1);
    expect(points[0]).toMatchObject({ blobs: [e.PRODUCT, "claude-haiku-4-5", "edge-cache"], indexes: [e.PRODUCT] });
  });
});
