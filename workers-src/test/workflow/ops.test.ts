// The ops each event of an event agent on runner: workflow costs, measured
// in workerd against OPS_PER_EVENT (internal/contract/ops.go): POST (an
// instance created), the instance's run (its steps counted by a step runner
// of the test's that retries as the engine does, without the waits), and
// the poll that asks the instance. Also: instances past a concurrency limit
// of the test's own wait queued and all end done (Cloudflare queues them
// past the account's limit; Miniflare has none to show).
import { afterEach, describe, expect, it } from "vitest";
import { OPS_PER_EVENT } from "../../src/contract.gen";
import { newJobId } from "../../src/lib/jobid";
import { runJob, STATUS_AFTER_MS, type StepConfig, type Steps } from "../../src/lib/workflow";
import { createWorker } from "../../src/patterns/event-agent";
import { get, newToken, postJson, replyTo, standin } from "../helpers";
import { expected, type Metered } from "../ops";
import { meter, record, restoreMeters } from "../ops/harness";

afterEach(restoreMeters);

/** Runs step.do as the engine does (retries up to the limit, none after a NonRetryableError), counting each step. */
class CountingSteps implements Steps {
  constructor(private readonly m: Metered) {}
  async do<T>(_name: string, config: StepConfig, callback: (ctx: { attempt: number }) => Promise<T>): Promise<T> {
    this.m.counts["workflow.step"]++;
    for (let attempt = 1; ; attempt++) {
      try {
        return await callback({ attempt });
      } catch (err) {
        if ((err as Error).name === "NonRetryableError" || attempt > config.retries.limit) throw err;
      }
    }
  }
}

/** One run of a job's instance: one execution (a worker.request) and its steps. */
async function run(m: Metered, id: string, input: string) {
  m.counts["worker.request"]++;
  return runJob(m.env, {}, id, input, Date.now(), new CountingSteps(m));
}

describe("event-agent (runner: workflow) ops per event", () => {
  const worker = createWorker({});
  const ops = OPS_PER_EVENT["event-agent"];

  it("post_workflow: the limiter, one instance created, 202", async () => {
    const m = meter();
    const res = await m.invoke(worker, postJson("/jobs", { input: `ops ${newToken()}` }));
    expect(res.status).toBe(202);
    expect(m.counts).toEqual(expected(ops.post_workflow));
  });

  it("run: the model step, the record step", async () => {
    const m = meter();
    const t = newToken();
    const id = await newJobId(m.env);
    const rec = await run(m, id, `ops ${t}`);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.run));
    expect(rec.status).toBe("done");
    expect(await record(id)).toMatchObject({ status: "done", result: await replyTo(`ops ${t}`) });
  });

  it("run_failed and step_retry: each attempt a model call, the failed record once", async () => {
    const m = meter();
    const t = newToken();
    await standin.script(t, [{ status: 529, times: -1 }]);
    const id = await newJobId(m.env);
    await run(m, id, `ops ${t}`);
    await m.countModel(t);
    expect(m.counts).toEqual(expected(ops.run_failed, ops.step_retry, ops.step_retry));
    expect(await record(id)).toMatchObject({ status: "failed", error: expect.stringMatching(/^the model API answered 529; 3 attempts over \d+\.\d s$/) });
  });

  it("poll_instance: a job with no record past the age window asks its instance", async () => {
    const m = meter();
    const old = await newJobId(m.env, Date.now() - STATUS_AFTER_MS - 1_000);
    const res = await m.invoke(worker, get(`/jobs/${old}`));
    expect(((await res.json()) as { status: string }).status).toBe("failed");
    expect(m.counts).toEqual(expected(ops.poll_instance));
  });
});

/** A Workflow binding that runs at most `limit` instances at once and queues the rest, as Cloudflare does past the account's concurrency. */
class LimitedWorkflow {
  readonly waiting: Array<() => void> = [];
  readonly runs: Promise<unknown>[] = [];
  private readonly status = new Map<string, string>();
  constructor(private readonly m: Metered, private readonly limit: number) {}
  /** Lets the created instances start: `limit` of them now, the others as those end. */
  open(): void {
    for (let n = 0; n < this.limit; n++) this.waiting.shift()?.();
  }
  async create(o: { id: string; params: { input: string } }) {
    this.status.set(o.id, "queued");
    this.runs.push(
      new Promise<void>((start) => this.waiting.push(start)).then(async () => {
        this.status.set(o.id, "running");
        await runJob(this.m.env, {}, o.id, o.params.input, Date.now(), new CountingSteps(this.m));
        this.status.set(o.id, "complete");
        this.waiting.shift()?.();
      }),
    );
    return { id: o.id };
  }
  async get(id: string) {
    return { id, status: async () => ({ status: this.status.get(id) ?? "unknown" }) };
  }
}

describe("past the concurrency limit (a limit of the test's own: 2)", () => {
  it("every POST is accepted, the instances past the limit wait queued, and every job ends done", async () => {
    const limited: { wf?: LimitedWorkflow } = {};
    const m = meter({
      JOB_WORKFLOW: { create: (o: never) => limited.wf!.create(o), get: (id: string) => limited.wf!.get(id) },
      RATE_LIMITER: { limit: async () => ({ success: true }) }, // the test product's 3 a minute is the limiter tests'
    });
    limited.wf = new LimitedWorkflow(m, 2);
    const worker = createWorker({});
    const inputs = Array.from({ length: 5 }, () => `queued ${newToken()}`);
    const ids: string[] = [];
    for (const input of inputs) {
      const res = await m.invoke(worker, postJson("/jobs", { input }));
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { job_id: string }).job_id);
    }
    limited.wf.open();
    expect(limited.wf.waiting).toHaveLength(3); // past the limit: queued, not refused
    expect((await (await limited.wf.get(ids[4]!)).status()).status).toBe("queued");
    await Promise.all(limited.wf.runs);
    for (const [i, id] of ids.entries()) {
      expect(await record(id)).toMatchObject({ status: "done", result: await replyTo(inputs[i]!) });
    }
  });
});
