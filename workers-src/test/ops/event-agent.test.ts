// The ops each event of event-agent costs, measured in workerd: every binding
// wrapped and counted (test/ops.ts), each event run for real, and the counts
// (every op, zeros included) must equal OPS_PER_EVENT, the table the Go cost
// model prices (internal/contract/ops.go). Runs in the event-agent project
// (test/ops/<pattern>.test.ts: one file per pattern). Also: what the pattern
// does when an op fails as Cloudflare fails one whose daily limit ran out.
import { afterEach, describe, expect, inject, it } from "vitest";
import { OPS_PER_EVENT } from "../../src/contract.gen";
import { newJobId } from "../../src/lib/jobid";
import { createWorker as eventAgent, LOST_ERROR } from "../../src/patterns/event-agent";
import { expectError, get, newToken, postJson, replyTo, standin } from "../helpers";
import { expected } from "../ops";
import { budgeted, freshProduct, meter, record, restoreMeters, steadyProduct, webhookPosts } from "./harness";

afterEach(restoreMeters);

describe("event-agent ops per event", () => {
  const worker = eventAgent({});
  const ops = OPS_PER_EVENT["event-agent"];

  it("post: 202, then the limiter, the model call, its data point and the record", async () => {
    const t = newToken();
    const m = meter();
    const res = await m.invoke(worker, postJson("/jobs", { input: `ops ${t}` }));
    expect(res.status).toBe(202);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.post));
    const { job_id } = (await res.json()) as { job_id: string };
    expect(await record(job_id)).toMatchObject({ status: "done", result: await replyTo(`ops ${t}`) });
  });

  it("post_failed: a non-retryable model error, the failed record", async () => {
    const t = newToken();
    await standin.script(t, [{ status: 400, times: -1 }]);
    const m = meter();
    const res = await m.invoke(worker, postJson("/jobs", { input: `ops ${t}` }));
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.post_failed));
    const { job_id } = (await res.json()) as { job_id: string };
    expect(await record(job_id)).toMatchObject({ status: "failed", error: expect.stringContaining("400") });
  });

  it("poll: one read, with a record and without one", async () => {
    const first = meter();
    const { job_id } = (await (await first.invoke(worker, postJson("/jobs", { input: `ops ${newToken()}` }))).json()) as { job_id: string };
    const m = meter({ PRODUCT: first.env.PRODUCT });
    expect(await (await m.invoke(worker, get(`/jobs/${job_id}`))).json()).toMatchObject({ status: "done" });
    expect(m.counts).toEqual(expected(ops.poll));

    const unrecorded = await newJobId(first.env);
    const m2 = meter({ PRODUCT: first.env.PRODUCT });
    expect(await (await m2.invoke(worker, get(`/jobs/${unrecorded}`))).json()).toEqual({ job_id: unrecorded, status: "queued" });
    expect(m2.counts).toEqual(expected(ops.poll));
  });

  it("a malformed id costs no read", async () => {
    const m = meter();
    await expectError(await m.invoke(worker, get("/jobs/not-an-id")), 404, "not_found");
    expect(m.counts).toEqual(expected({ "worker.request": 1 }));
  });

  it("degrades: a record that cannot be written makes the next POSTs 503, and the job reads failed once lost", async () => {
    const m = meter();
    m.fail.add("r2.put");
    const t = newToken();
    const res = await m.invoke(worker, postJson("/jobs", { input: `lost ${t}` }));
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    expect(m.counts["r2.put"]).toBe(3); // tried three times inside the waitUntil budget
    const next = await m.invoke(worker, postJson("/jobs", { input: `refused ${newToken()}` }));
    expect(Number(next.headers.get("retry-after"))).toBeGreaterThan(0);
    await expectError(next, 503, "unavailable");
    // No record: queued while it could still get one...
    expect(await (await m.invoke(worker, get(`/jobs/${job_id}`))).json()).toEqual({ job_id, status: "queued" });
    // ...and failed once the waitUntil that would write it has surely ended.
    const old = await newJobId(m.env, Date.now() - 61_000);
    expect(await (await m.invoke(worker, get(`/jobs/${old}`))).json()).toEqual({ job_id: old, status: "failed", error: LOST_ERROR });
  });
});

// ---------------------------------------------------------------------------
// The spend guard's events (a budgeted product): on top of the events above.
// Measured in the steady state (the product's spend row for the month exists:
// the month's first check reads no row). A product budget alone; with a stack
// budget the check and the record read one row per product with spend.
// (budgeted(), steadyProduct(): test/ops/harness.ts.)

describe("event-agent: the spend guard's ops", () => {
  const worker = eventAgent({});
  const ops = OPS_PER_EVENT["event-agent"];

  it("post of a budgeted product: post + budget_check + budget_record; budget_refused; budget_alert", async () => {
    const product = await steadyProduct(async (warm) => expect((await warm.invoke(worker, postJson("/jobs", { input: `warm ${newToken()}` }))).status).toBe(202));

    const t = newToken();
    const m = meter(budgeted(product));
    expect((await m.invoke(worker, postJson("/jobs", { input: `ops ${t}` }))).status).toBe(202);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.post, ops.budget_check, ops.budget_record));

    const refused = meter(budgeted(product, { MONTHLY_BUDGET_USD: "0.000000001" }));
    await expectError(await refused.invoke(worker, postJson("/jobs", { input: `no ${newToken()}` })), 429, "budget_exhausted");
    expect(refused.counts).toEqual(expected(ops.budget_refused));

    // A call that crosses 100% of a budget: one alert (the month's first
    // call of a fresh product, so its check reads no row).
    const key = `ops${crypto.randomUUID().slice(0, 8)}`;
    const t3 = newToken();
    const b = meter(budgeted(freshProduct(), { MONTHLY_BUDGET_USD: "0.000001", BUDGET_ALERT_THRESHOLDS: "100", BUDGET_ALERT_WEBHOOK: `${inject("webhookUrl")}/hooks/${key}` }));
    expect((await b.invoke(worker, postJson("/jobs", { input: `al ${t3}` }))).status).toBe(202);
    await b.countModel(t3);
    b.counts["webhook.post"] += await webhookPosts(key);
    expect(b.counts).toEqual(expected(ops.post, ops.budget_check, ops.budget_record, ops.budget_alert, { "d1.rows_read": -1 }));
  });
});
