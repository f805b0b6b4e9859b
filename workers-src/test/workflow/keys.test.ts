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
});
