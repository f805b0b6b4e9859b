// edge-cache (test/edge-cache/harness.ts): misses under the rate limiter and
// concurrency, the usage data points, and customer keys.
import { describe, expect, it } from "vitest";
import { inflightMisses } from "../../src/patterns/edge-cache";
import { putKey } from "../keyhelpers";
import { call, expectError, newToken, postJson, standin, testEnv } from "../helpers";
import { ask, worker } from "./harness";

describe("rate limiting on a miss", () => {
  it("429 once the limiter says no, while hits are still served", async () => {
    let allow = 2;
    const e = testEnv({ RATE_LIMITER: { limit: async () => ({ success: allow-- > 0 }) } });
    const t = newToken();
    expect((await ask(`one ${t}`, e)).cache).toBe("MISS");
    expect((await ask(`two ${t}`, e)).cache).toBe("MISS");
    const limited = await call(worker, postJson("/ask", { input: `three ${t}` }), e);
    expect(limited.headers.get("retry-after")).toBe("60");
    await expectError(limited, 429, "rate_limited");
    expect((await ask(` one ${t}\r\n`, e)).cache).toBe("HIT");
    expect(await standin.calls(t)).toHaveLength(2);
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

describe("concurrent identical misses", () => {
  it("share one model call in an isolate; only the leader meets the limiter", async () => {
    let limiterCalls = 0;
    const e = testEnv({ RATE_LIMITER: { limit: async () => (limiterCalls++, { success: true }) } });
    const t = newToken();
    await standin.script(t, [{ delayMs: 300 }]);
    const all = await Promise.all(Array.from({ length: 20 }, () => ask(`Same question ${t}`, e)));
    expect(all.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(all.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(all.filter((r) => r.headers.get("x-cache-shared") === "1")).toHaveLength(19);
    expect(await standin.calls(t)).toHaveLength(1);
    expect(limiterCalls).toBe(1);
    expect(inflightMisses()).toBe(0);
  });

  it("a leader refused by the limiter refuses only itself; a failed call fails its waiters", async () => {
    let n = 0;
    const e = testEnv({ RATE_LIMITER: { limit: async () => ({ success: n++ > 0 }) } });
    const t = newToken();
    await standin.script(t, [{ delayMs: 200 }]);
    const all = await Promise.all(Array.from({ length: 5 }, () => ask(`refused first ${t}`, e)));
    expect(all.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 429]);
    expect(await standin.calls(t)).toHaveLength(1);

    const u = newToken();
    await standin.script(u, [{ status: 400, delayMs: 300, times: -1 }]);
    const one = testEnv();
    const failed = await Promise.all(Array.from({ length: 4 }, () => ask(`bad request ${u}`, one)));
    expect(failed.map((r) => r.status)).toEqual([502, 502, 502, 502]);
    expect(await standin.calls(u)).toHaveLength(1);
    expect(inflightMisses()).toBe(0);
  });
});

describe("usage", () => {
  it("a miss writes its call's data point, a hit one of mode cache_hit with no tokens", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const e = testEnv({ MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => points.push(p) } });
    const input = `metered ${newToken()}`;
    expect((await ask(input, e)).cache).toBe("MISS");
    expect((await ask(input, e)).cache).toBe("HIT");
    expect(points).toHaveLength(2);
    expect(points[0]).toMatchObject({ blobs: [e.PRODUCT, "claude-haiku-4-5", "edge-cache", "realtime", ""], indexes: [e.PRODUCT] });
    expect(points[0]!.doubles?.some((d) => d > 0)).toBe(true);
    expect(points[1]).toEqual({ blobs: [e.PRODUCT, "claude-haiku-4-5", "edge-cache", "cache_hit", ""], doubles: [0, 0, 0, 0], indexes: [e.PRODUCT] });
  });

  it("concurrent identical misses: the leader's call point, one cache_hit point per waiter", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const e = testEnv({ MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => points.push(p) } });
    const t = newToken();
    await standin.script(t, [{ delayMs: 300 }]);
    const all = await Promise.all(Array.from({ length: 5 }, () => ask(`Shared point ${t}`, e)));
    expect(all.filter((r) => r.headers.get("x-cache-shared") === "1")).toHaveLength(4);
    expect(points.map((p) => p.blobs?.[3]).sort()).toEqual(["cache_hit", "cache_hit", "cache_hit", "cache_hit", "realtime"]);
    expect(await standin.calls(t)).toHaveLength(1);
  });
});

// The edge cache is shared by every customer of a product: an answer depends
// on the product's model, system prompt and the normalised question only, so
// a question one customer paid for answers another's from the cache (docs/keys.md).
describe("customer keys", () => {
  it("one customer's cached answer answers another customer (x-cache HIT), each with its own key", async () => {
    const e = testEnv({ ACCESS: "keys" });
    const [a, b] = [await putKey(e.PRODUCT, "acme"), await putKey(e.PRODUCT, "globex")];
    const q = `What is shared ${newToken()}?`;
    const first = await call(worker, postJson("/ask", { input: q }, { authorization: `Bearer ${a}` }), e);
    expect(first.headers.get("x-cache")).toBe("MISS");
    const second = await call(worker, postJson("/ask", { input: q }, { authorization: `Bearer ${b}` }), e);
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(await second.json()).toEqual(await first.json());
    await expectError(await call(worker, postJson("/ask", { input: q }), e), 401, "invalid_key");
  });

  it("each customer's request writes a data point with its customer: the miss its tokens, the hit none (mode cache_hit)", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const e = testEnv({ ACCESS: "keys", MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => points.push(p) } });
    const [a, b] = [await putKey(e.PRODUCT, "acme"), await putKey(e.PRODUCT, "globex")];
    const q = `Who asked ${newToken()}?`;
    expect((await call(worker, postJson("/ask", { input: q }, { authorization: `Bearer ${a}` }), e)).headers.get("x-cache")).toBe("MISS");
    expect((await call(worker, postJson("/ask", { input: q }, { "x-api-key": b }), e)).headers.get("x-cache")).toBe("HIT");
    expect(points.map((p) => [p.blobs?.[3], p.blobs?.[4]])).toEqual([
      ["realtime", "acme"],
      ["cache_hit", "globex"],
    ]);
    expect(points[1]!.doubles).toEqual([0, 0, 0, 0]);
    // refused: no point
    await expectError(await call(worker, postJson("/ask", { input: q }), e), 401, "invalid_key");
    expect(points).toHaveLength(2);
    await expectError(await call(worker, postJson("/ask", { input: q }), e), 401, "invalid_key");
  });
});
