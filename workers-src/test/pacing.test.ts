// The isolate's book of jobs the product's own limiter refused
// (patterns/async-pipeline/pacing.ts): groups of at most perMinute, one
// limiter period (60 s) and a 5 s margin apart.
import { describe, expect, it } from "vitest";
import { LimiterPacing } from "../src/patterns/async-pipeline/pacing";

describe("LimiterPacing", () => {
  it("books refused jobs in groups of the product's rate, 65 s apart, across deliveries", () => {
    const p = new LimiterPacing();
    const t0 = 1_000_000_000;
    const first = Array.from({ length: 5 }, () => p.delay(60, 2, t0));
    expect(first).toEqual([65, 65, 130, 130, 195]);
    // A later delivery (10 s on) joins the groups already booked, not a spread of its own.
    expect([p.delay(60, 2, t0 + 10_000), p.delay(60, 2, t0 + 10_000)]).toEqual([185, 250]);
  });

  it("a job refused when its group came in books the next group, not the one after", () => {
    const p = new LimiterPacing();
    const t0 = 2_000_000_000;
    expect(p.delay(60, 1, t0)).toBe(65);
    // The group arrives 2 s late and its job is refused again: it joins the group due 65 s after the first.
    expect(p.delay(60, 1, t0 + 67_000)).toBe(63);
  });

  it("starts afresh once every group is due, and never waits less than asked or more than Queues' 12 h", () => {
    const p = new LimiterPacing();
    const t0 = 3_000_000_000;
    expect(p.delay(60, 1, t0)).toBe(65);
    expect(p.delay(7, 1, t0 + 3_600_000)).toBe(12); // a fresh book: the wait and the margin
    const many = Array.from({ length: 800 }, () => p.delay(60, 1, t0 + 7_200_000));
    expect(Math.max(...many)).toBe(43_200);
    expect(many[0]).toBe(65);
  });
});
