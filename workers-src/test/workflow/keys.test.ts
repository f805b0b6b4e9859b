// Customer keys on the workflow runner: the instance carries the customer
// into the job's record (and its data point), and GET /jobs/:id shows the job
// to that customer only, before and after the record exists.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { clearKeyCache } from "../../src/lib/keys";
import { createWorker } from "../../src/patterns/event-agent";
import { call, eventually, expectError, get, jobRecord, newToken, postJson, testEnv } from "../helpers";
import { putKey } from "../keyhelpers";

const worker = createWorker({});
const bearer = (key: string) => ({ authorization: `Bearer ${key}`, "cf-connecting-ip": "198.51.100.9" });

beforeEach(() => clearKeyCache());

describe("runner: workflow with customer keys", () => {
  it("a job is its customer's: the record names them, another customer's key gets 404", async () => {
    expect(env.RUNNER).toBe("workflow");
    const e = testEnv({ ACCESS: "keys", DOOR_STANDARD: { limit: async () => ({ success: true }) } });
    const a = await putKey(e.PRODUCT, "acme");
    const b = await putKey(e.PRODUCT, "globex");
    const res = await call(worker, postJson("/jobs", { input: `wf keys ${newToken()}` }, bearer(a)), e);
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    // Before the record: the id was issued to acme only.
    await expectError(await call(worker, get(`/jobs/${job_id}`, bearer(b)), e), 404, "not_found");
    const done = await eventually(async () => {
      const v = (await (await call(worker, get(`/jobs/${job_id}`, bearer(a)), e)).json()) as { status: string };
      return v.status === "done" ? v : undefined;
    }, 15_000);
    expect(done).toMatchObject({ job_id, status: "done" });
    expect(await jobRecord(job_id)).toMatchObject({ status: "done", customer: "acme" });
    await expectError(await call(worker, get(`/jobs/${job_id}`, bearer(b)), e), 404, "not_found");
  });

  it("customer budgets: the check before the 202 refuses a spent customer (scope customer); the instance records the call on its customer's row", async () => {
    const { monthOf } = await import("../../src/lib/spend/store");
    const open = { limit: async () => ({ success: true }) };
    const e = testEnv({ ACCESS: "keys", DOOR_STANDARD: open, RATE_LIMITER: open });
    const name = `wf-${newToken().slice(3, 15)}`;
    const spent = await putKey(e.PRODUCT, `${name}-spent`, { monthly_budget_usd: 0 });
    const res = await call(worker, postJson("/jobs", { input: `wf spent ${newToken()}` }, bearer(spent)), e);
    expect(((await res.clone().json()) as { error: Record<string, unknown> }).error).toMatchObject({ code: "budget_exhausted", scope: "customer" });
    expect(res.status).toBe(429);

    const key = await putKey(e.PRODUCT, name, { monthly_budget_usd: 1 });
    const ok = await call(worker, postJson("/jobs", { input: `wf budget ${newToken()}` }, bearer(key)), e);
    expect(ok.status).toBe(202);
    const { job_id } = (await ok.json()) as { job_id: string };
    const rec = await eventually(async () => {
      const r = await jobRecord(job_id);
      return r?.status === "done" ? r : undefined;
    }, 15_000);
    // The instance runs with the Worker's own env (its PRODUCT), and records there.
    const row = await env.SPEND!.prepare("SELECT calls, input_tokens, output_tokens FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = ?3")
      .bind(monthOf(), env.PRODUCT, name)
      .first();
    expect(row).toEqual({ calls: 1, input_tokens: rec.usage.input_tokens, output_tokens: rec.usage.output_tokens });
  });
});
