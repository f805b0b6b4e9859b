// lib/claim.ts against workerd's R2: a conditional put claims a job's model
// call once, however many deliveries race for it.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { claimedFor, claimJob, readJobVersion } from "../../src/lib/claim";
import { jobRecord, writeJob } from "../../src/lib/jobs";
import { newJobId } from "../../src/lib/jobid";

const r2 = (env as unknown as { OUTPUTS: R2Bucket }).OUTPUTS;
const newId = () => newJobId(env as never);

describe("claims", () => {
  it("of deliveries racing for a job with no record, exactly one claims", async () => {
    const id = await newId();
    const v = await readJobVersion(r2, id);
    expect(v).toEqual({ rec: null, etag: null });
    const claims = await Promise.all(Array.from({ length: 8 }, () => claimJob(r2, v, id, 1, 60_000)));
    expect(claims.filter((c) => c !== null)).toHaveLength(1);
    const now = await readJobVersion(r2, id);
    expect(now.rec?.status).toBe("running");
    expect(claimedFor(now.rec)).toBeGreaterThan(50);
  });

  it("of deliveries that read the same queued record, exactly one claims; a stale read claims nothing", async () => {
    const id = await newId();
    await writeJob(r2, jobRecord(id, { status: "queued" }));
    const v = await readJobVersion(r2, id);
    const claims = await Promise.all(Array.from({ length: 8 }, () => claimJob(r2, v, id, 2, 60_000)));
    expect(claims.filter((c) => c !== null)).toHaveLength(1);
    await writeJob(r2, jobRecord(id, { status: "done", result: "r" }));
    expect(await claimJob(r2, v, id, 3, 60_000)).toBeNull();
    expect((await readJobVersion(r2, id)).rec?.status).toBe("done");
  });

  it("a lapsed lease is no claim; a done record drops the lease", async () => {
    const id = await newId();
    const v = await readJobVersion(r2, id);
    const claim = await claimJob(r2, v, id, 1, -1000);
    expect(claim).not.toBeNull();
    const rec = claim!.rec;
    expect(claimedFor(rec)).toBe(0);
    expect(claimedFor(jobRecord(id, { status: "queued" }))).toBe(0);
    expect(jobRecord(id, { status: "done" }, rec).lease_until).toBeUndefined();
  });
});
