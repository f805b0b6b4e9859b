// What a stranger meets at the edge cache's door: a per-caller limit that
// counts every POST, hits too (DOOR_LIMITER, lib/door.ts).
import { describe, expect, it } from "vitest";
import { createWorker } from "../../src/patterns/edge-cache";
import { call, doorLimiter, expectError, newToken, postJson, testEnv } from "../helpers";

const worker = createWorker({});

describe("the door (DOOR_LIMITER, per caller)", () => {
  it("counts hits too: one abusive caller meets 429 while another is served", async () => {
    const door = doorLimiter(2);
    const e = testEnv({ DOOR_LIMITER: door });
    const q = `door ${newToken()}`;
    const from = (ip: string) => call(worker, postJson("/ask", { input: q }, { "cf-connecting-ip": ip }), e);
    expect((await from("198.51.100.7")).headers.get("x-cache")).toBe("MISS");
    expect((await from("198.51.100.7")).headers.get("x-cache")).toBe("HIT");
    await expectError(await from("198.51.100.7"), 429, "rate_limited");
    expect((await from("203.0.113.9")).status).toBe(200);
    expect(new Set(door.keys)).toEqual(new Set(["ip:198.51.100.7", "ip:203.0.113.9"]));
  });
});
