// What a stranger meets at the async pipeline's door: a per-caller limit
// that counts jobs (DOOR_LIMITER, one limit() call per job, lib/door.ts).
import { describe, expect, it } from "vitest";
import { createWorker } from "../../src/patterns/async-pipeline";
import { call, doorLimiter, expectError, postJson, testEnv } from "../helpers";
import { jobsOf } from "../../src/lib/pack";

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
