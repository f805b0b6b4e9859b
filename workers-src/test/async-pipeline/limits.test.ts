// async-pipeline (test/async-pipeline/harness.ts): one delivery stays within
// an invocation's limits on Workers Free (lib/invocation.ts: 50 external
// fetches, 50 D1 queries), which Miniflare does not enforce, so the test
// counts them: the model stand-in's calls per job token, and the SPEND
// binding's round trips (test/d1meter.ts). Every job makes two model requests
// (a 503 then an answer), the most a delivery's job may make.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { JobMessage, QueueBody } from "../../src/env";
import { DELIVERY_MAX_JOBS, JOB_COST } from "../../src/contract.gen";
import { ALERT_ROOM, FREE_D1_QUERIES, FREE_FETCHES } from "../../src/lib/invocation";
import { newJobId } from "../../src/lib/jobid";
import { PACK_MAX_JOBS, packJobs } from "../../src/lib/pack";
import { DEFAULT_THRESHOLDS } from "../../src/lib/spend/config";
import { MODEL_ATTEMPTS } from "../../src/patterns/async-pipeline/consumer";
import { deliveryMaxJobs } from "../../src/patterns/async-pipeline/pack";
import { D1Meter } from "../d1meter";
import { jobRecord, keepingQueue, newToken, standin, testEnv } from "../helpers";
import { QUEUE, runBatch } from "./harness";

/**
 * A consumer batch a user may set (settings.batchSize 5, the default before
 * it followed the packs a delivery runs): more full packs than one delivery
 * runs, so some are sent on.
 */
const BATCH_SIZE = 5;
/** The plan's default batchSize in realtime mode (internal/contract/invocation DeliveryPacks): the full packs a delivery runs. */
const defaultBatchSize = (spendStore: boolean) => Math.floor(deliveryMaxJobs(spendStore) / PACK_MAX_JOBS);

/** Jobs of full packs, one token each, each scripted to fail once (retry-after 0) and then answer. */
async function fullPacks(packs: number): Promise<{ tokens: string[]; bodies: QueueBody[] }> {
  const tokens = Array.from({ length: packs * PACK_MAX_JOBS }, () => newToken());
  await Promise.all(tokens.map((t) => standin.script(t, [{ status: 503, retryAfter: "0", times: 1 }])));
  const jobs: JobMessage[] = await Promise.all(tokens.map(async (t) => ({ job_id: await newJobId(env), input: `lim ${t}` })));
  return { tokens, bodies: packJobs(jobs) };
}

const modelCalls = async (tokens: string[]) => (await Promise.all(tokens.map((t) => standin.calls(t)))).reduce((n, c) => n + c.length, 0);

/**
 * Runs deliveries of at most batchSize messages until no message is left
 * (the ones sent on come back in later deliveries); returns each delivery's
 * model calls and D1 round trips, and how many messages were sent on.
 */
async function deliverAll(bodies: QueueBody[], tokens: string[], spend: D1Meter | null, batchSize = BATCH_SIZE) {
  const q = keepingQueue<QueueBody>();
  const e = testEnv({ JOB_QUEUE: q.queue, ...(spend ? { SPEND: spend.binding } : { SPEND: undefined }) });
  const per: Array<{ fetches: number; d1: number; sentOn: number }> = [];
  let pending = bodies;
  while (pending.length > 0) {
    expect(per.length).toBeLessThan(20); // each delivery runs at least one message
    const now = pending.slice(0, batchSize);
    pending = pending.slice(batchSize);
    const [callsBefore, tripsBefore] = [await modelCalls(tokens), spend?.trips.length ?? 0];
    q.sent.length = 0;
    const msgs = now.map((body) => ({ id: `msg-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body }));
    const r = await runBatch(QUEUE, msgs, e);
    expect(r.explicitAcks.sort()).toEqual(msgs.map((m) => m.id).sort());
    per.push({ fetches: (await modelCalls(tokens)) - callsBefore, d1: (spend?.trips.length ?? 0) - tripsBefore, sentOn: q.sent.length });
    pending = [...pending, ...q.sent.map((s) => s.body)];
  }
  return per;
}

/** Every job done, with exactly two model requests (its failed one and its answer). */
async function expectAllDoneOnce(bodies: QueueBody[], tokens: string[]) {
  for (const t of tokens) expect(await standin.calls(t)).toHaveLength(2);
  const ids = bodies.flatMap((b) => ("jobs" in b ? b.jobs : [b])).map((j) => j.job_id);
  for (const id of ids) expect(await jobRecord(id)).toMatchObject({ status: "done" });
}

describe("one delivery within an invocation's limits", () => {
  it("a pack never holds more jobs than a delivery with a spend store may run", () => {
    // splitDelivery runs at least one message whatever its size.
    expect(deliveryMaxJobs(true)).toBeGreaterThanOrEqual(PACK_MAX_JOBS);
    expect(deliveryMaxJobs(false)).toBeGreaterThanOrEqual(deliveryMaxJobs(true));
  });

  it("the generated numbers are the Worker's: a job's model attempts, the default thresholds' alert room, the derivation", () => {
    expect(JOB_COST.fetches).toBe(MODEL_ATTEMPTS);
    expect(ALERT_ROOM).toBe(DEFAULT_THRESHOLDS.length * 3);
    const alerts = ALERT_ROOM;
    expect(DELIVERY_MAX_JOBS.spendStore).toBe(
      Math.min(Math.floor((FREE_FETCHES - alerts) / JOB_COST.fetches), Math.floor((FREE_D1_QUERIES - alerts) / JOB_COST.d1)),
    );
    expect(DELIVERY_MAX_JOBS.none).toBe(Math.floor(FREE_FETCHES / JOB_COST.fetches));
    expect([defaultBatchSize(true), defaultBatchSize(false)]).toEqual([1, 2]);
  });

  for (const spendStore of [true, false]) {
    it(`the default batchSize (${spendStore ? "with" : "without"} a spend store) sends no full pack on`, async () => {
      const size = defaultBatchSize(spendStore);
      const { tokens, bodies } = await fullPacks(size * 2);
      const per = await deliverAll(bodies, tokens, spendStore ? new D1Meter(env.SPEND!) : null, size);
      expect(per.map((d) => d.sentOn)).toEqual([0, 0]);
      expect(per.map((d) => d.fetches)).toEqual([2 * size * PACK_MAX_JOBS, 2 * size * PACK_MAX_JOBS]);
      await expectAllDoneOnce(bodies, tokens);
    }, 60_000);
  }

  it("with a spend store: at most 50 model requests and 50 D1 queries per delivery; every job done and paid once", async () => {
    const { tokens, bodies } = await fullPacks(BATCH_SIZE);
    const meter = new D1Meter(env.SPEND!);
    const per = await deliverAll(bodies, tokens, meter);
    for (const d of per) {
      expect(d.fetches).toBeLessThanOrEqual(FREE_FETCHES);
      expect(d.d1).toBeLessThanOrEqual(FREE_D1_QUERIES);
    }
    expect(per[0]!.fetches).toBe(2 * deliveryMaxJobs(true)); // the first delivery ran what fits, the rest came later
    expect(per.length).toBeGreaterThan(1);
    await expectAllDoneOnce(bodies, tokens);
    // Paid once: one spend record per job over all the deliveries.
    const records = meter.trips.filter((t) => t.sql.some((s) => s.startsWith("INSERT INTO spend")));
    expect(records).toHaveLength(tokens.length);
  }, 60_000);

  it("without a spend store: at most 50 model requests per delivery, and more jobs a delivery than with one", async () => {
    const { tokens, bodies } = await fullPacks(BATCH_SIZE);
    const per = await deliverAll(bodies, tokens, null);
    for (const d of per) expect(d.fetches).toBeLessThanOrEqual(FREE_FETCHES);
    const maxJobs = deliveryMaxJobs(false);
    expect(per[0]!.fetches).toBe(2 * Math.floor(maxJobs / PACK_MAX_JOBS) * PACK_MAX_JOBS);
    await expectAllDoneOnce(bodies, tokens);
  }, 60_000);
});
