// The isolate's book of jobs the product's own limiter refused
// (patterns/async-pipeline/pacing.ts): groups of at most perMinute, one
// limiter period (60 s) apart.
import { describe, expect, it } from "vitest";
import { LimiterPacing } from "../src/patterns/async-pipeline/pacing";

describe("LimiterPacing", () => {
  it("books refused jobs in groups of the product's rate, one period apart, across deliveries", () => {
    const p = new LimiterPacing();
    const t0 = 1_000_000_000;
    const first = Array.from({ length: 5 }, () => p.delay(60, 2, t0));
    expect(first).toEqual([60, 60, 120, 120, 180]);
    // A later delivery (10 s on) joins the groups already booked, not a spread of its own.
    expect([p.delay(60, 2, t0 + 10_000), p.delay(60, 2, t0 + 10_000)]).toEqual([170, 230]);
  });

  it("a job refused when its group came in books the next group, not the one after", () => {
    const p = new LimiterPacing();
    const t0 = 2_000_000_000;
    expect(p.delay(60, 1, t0)).toBe(60);
    expect(p.delay(60, 1, t0)).toBe(120);
    // The first group arrives 2 s late; a job refused then joins the group due 60 s after it.
    expect(p.delay(60, 1, t0 + 62_000)).toBe(118); // t0 + 180 s: the group at t0 + 120 s is full
  });

  it("starts afresh once every group is due, and never waits less than asked or more than Queues' 12 h", () => {
    const p = new LimiterPacing();
    const t0 = 3_000_000_000;
    expect(p.delay(60, 1, t0)).toBe(60);
    expect(p.delay(7, 1, t0 + 3_600_000)).toBe(7);
    const many = Array.from({ length: 800 }, () => p.delay(60, 1, t0 + 7_200_000));
    expect(Math.max(...many)).toBe(43_200);
    expect(many[0]).toBe(60);
  });
});
