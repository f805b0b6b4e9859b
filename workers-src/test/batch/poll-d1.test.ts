// Batch mode (test/batch/harness.ts): one poll run stays within Workers
// Free's 50 D1 queries per invocation (lib/invocation.ts), which Miniflare
// does not enforce, so the test counts the SPEND binding's round trips
// (test/d1meter.ts). Each succeeded result settled records its spend (one
// query, and its retry, and its alerts' claim: poll.ts D1_PER_SETTLED).
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { pollBatches, POLL_MAX_D1, D1_PER_SETTLED } from "../../src/lib/batch/poll";
import { readConfig } from "../../src/lib/config";
import { FREE_D1_QUERIES } from "../../src/lib/invocation";
import { packJobs } from "../../src/lib/pack";
import { D1Meter } from "../d1meter";
import { jobRecord, type TestEnv } from "../helpers";
import { batchEnv, deliver, job, resetBatchMode } from "./harness";

afterEach(resetBatchMode);

/** Succeeded results one run may settle with a spend store. */
const ROOM = Math.floor(POLL_MAX_D1 / D1_PER_SETTLED);

/** `n` jobs delivered together, packed as POST /jobs packs them: one Message Batch. */
async function oneBatch(e: TestEnv, n: number): Promise<string[]> {
  const jobs = await Promise.all(Array.from({ length: n }, () => job(e)));
  const msgs = packJobs(jobs.map((j) => j.msg.body)).map((body) => ({ id: `msg-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body }));
  const r = await deliver(e, msgs);
  expect(r.explicitAcks).toHaveLength(msgs.length);
  return jobs.map((j) => j.id);
}

/** One poll run; its summary and its D1 round trips. */
async function pollOnce(e: TestEnv, meter: D1Meter) {
  const before = meter.trips.length;
  const sum = await pollBatches(e, readConfig(e), {});
  return { sum, d1: meter.trips.length - before };
}

const spendRecords = (meter: D1Meter) => meter.trips.filter((t) => t.sql.some((s) => s.startsWith("INSERT INTO spend"))).length;

describe("batch mode: the poller's D1 queries", () => {
  it("an ended batch of 60 succeeded jobs settles over several runs, each within 50 D1 queries; every job done and paid once", async () => {
    const meter = new D1Meter(env.SPEND!);
    const e = batchEnv({ SPEND: meter.binding });
    const ids = await oneBatch(e, 60);
    meter.reset();
    const first = await pollOnce(e, meter);
    expect(first.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
    expect(first.sum).toMatchObject({ done: ROOM, finished: 0 }); // the rest waits: the batch record stays
    let runs = 1;
    for (let left = ids.length - ROOM; left > 0; left -= ROOM) {
      const r = await pollOnce(e, meter);
      expect(r.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
      expect(r.sum.done).toBe(Math.min(ROOM, left));
      runs++;
    }
    expect(runs).toBe(Math.ceil(ids.length / ROOM));
    for (const id of ids) expect(await jobRecord(id)).toMatchObject({ status: "done" });
    expect(spendRecords(meter)).toBe(ids.length);
    expect((await pollOnce(e, meter)).sum).toMatchObject({ open: 0, done: 0 }); // the record went with the last job
  }, 30_000);

  it("defers the ended batches whose D1 queries do not fit to the next run", async () => {
    const meter = new D1Meter(env.SPEND!);
    const e = batchEnv({ SPEND: meter.binding });
    const batches = [await oneBatch(e, 10), await oneBatch(e, 10), await oneBatch(e, 10)];
    meter.reset();
    const r = await pollOnce(e, meter);
    expect(r.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
    expect(r.sum).toMatchObject({ finished: 1, done: ROOM, deferred: 1 });
    for (const id of batches[2]!) expect(await jobRecord(id)).toMatchObject({ status: "submitted" });
    // The next runs settle the rest, each within the bound.
    let done = r.sum.done;
    for (let runs = 0; done < 30; runs++) {
      expect(runs).toBeLessThan(5);
      const next = await pollOnce(e, meter);
      expect(next.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
      expect(next.sum.done).toBe(Math.min(ROOM, 30 - done));
      done += next.sum.done;
    }
    for (const id of batches.flat()) expect(await jobRecord(id)).toMatchObject({ status: "done" });
    expect(spendRecords(meter)).toBe(30);
  }, 30_000);
});
