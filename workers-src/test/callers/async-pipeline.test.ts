// What a stranger meets at the async pipeline's door: a per-caller limit
// that counts jobs (DOOR_LIMITER, one limit() call per job, lib/door.ts);
// with customer keys, the customer's tier door counts them instead.
import { describe, expect, it } from "vitest";
import { createWorker } from "../../src/patterns/async-pipeline";
import { call, doorLimiter, expectError, get, postJson, testEnv } from "../helpers";
import { jobsOf } from "../../src/lib/pack";
import { clearKeyCache } from "../../src/lib/keys";
import { putKey } from "../keyhelpers";

const worker = createWorker({});

describe("the door (DOOR_LIMITER, per caller, counting jobs)", () => {
  it("counts each job; a POST over the caller's limit queues nothing, and another caller is served", async () => {
    const door = doorLimiter(150);
    const sent: unknown[] = [];
    // Jobs travel packed (lib/pack.ts): counted here one by one.
    const queue = {
      send: async (b: unknown) => void sent.push(...jobsOf(b)),
      sendBatch: async (bs: Array<{ body: unknown }>) => void sent.push(...bs.flatMap((m) => jobsOf(m.body))),
    };
    const e = testEnv({ DOOR_LIMITER: door, JOB_QUEUE: queue });
    const from = (ip: string, n: number) =>
      call(worker, postJson("/jobs", { inputs: Array.from({ length: n }, (_, i) => `job ${i}`) }, { "cf-connecting-ip": ip }), e);
    expect((await from("198.51.100.7", 100)).status).toBe(202);
    expect(door.keys).toHaveLength(100); // one limit() call per job
    const over = await from("198.51.100.7", 60);
    expect(over.headers.get("retry-after")).toBe("60");
    expect(await expectError(over, 429, "rate_limited")).toContain("too many jobs");
    expect(door.keys).toHaveLength(151); // stopped at the first refusal
    expect(sent).toHaveLength(100); // the refused POST queued nothing
    expect((await from("203.0.113.9", 1)).status).toBe(202);
    expect(sent).toHaveLength(101);
  });
});

describe("the door with customer keys (the tier's, per customer, counting jobs)", () => {
  it("a keyed POST of n jobs makes n limit() calls on its tier's door and none on DOOR_LIMITER; a poll passes no door", async () => {
    clearKeyCache();
    const tier = doorLimiter(12);
    const ip = doorLimiter(1_000);
    const sent: unknown[] = [];
    const queue = {
      send: async (b: unknown) => void sent.push(...jobsOf(b)),
      sendBatch: async (bs: Array<{ body: unknown }>) => void sent.push(...bs.flatMap((m) => jobsOf(m.body))),
    };
    const e = testEnv({ ACCESS: "keys", DOOR_STANDARD: tier, DOOR_LIMITER: ip, JOB_QUEUE: queue, KEY_FAILURES: { limit: async () => ({ success: true }) } });
    const key = await putKey(e.PRODUCT, "acme");
    const post = (n: number) =>
      call(worker, postJson("/jobs", { inputs: Array.from({ length: n }, (_, i) => `job ${i}`) }, { authorization: `Bearer ${key}` }), e);
    const ok = await post(10);
    expect(ok.status).toBe(202);
    expect(tier.keys).toEqual(Array(10).fill("acme"));
    const { job_ids } = (await ok.json()) as { job_ids: string[] };
    expect((await call(worker, get(`/jobs/${job_ids[0]}`, { authorization: `Bearer ${key}` }), e)).status).toBe(200);
    expect(tier.keys).toHaveLength(10);
    const over = await post(5);
    expect(await expectError(over, 429, "rate_limited")).toBe("customer acme is over the standard tier's requests a minute");
    expect(tier.keys).toHaveLength(13); // stopped at the first refusal
    expect(sent).toHaveLength(10);
    expect(ip.keys).toEqual([]);
  });
});
