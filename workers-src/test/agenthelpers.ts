// Shared by the event-agent tests (test/event-agent.test.ts and
// test/workflow/event-agent-workflow.test.ts, both runners): POST /jobs and
// GET /jobs/:id through a worker's fetch handler.
import { expect } from "vitest";
import { call, get, postJson, testEnv, type TestEnv } from "./helpers";

type FetchWorker = Parameters<typeof call>[0];

/** submit and view for `worker`: submit's `w` sends one POST to another worker. */
export function jobRoutes(worker: FetchWorker) {
  /** POST /jobs with one input: asserts the 202 and its body; returns the job id. */
  async function submit(input: string, e = testEnv(), w = worker): Promise<string> {
    const res = await call(w, postJson("/jobs", { input }), e);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { job_id: string; status: string };
    expect(body).toEqual({ job_id: expect.stringMatching(/^[0-9a-f]{60}$/), status: "queued" });
    return body.job_id;
  }

  /** GET /jobs/:id: asserts a 200; returns the body. */
  async function view(id: string, e: TestEnv = testEnv()): Promise<Record<string, unknown>> {
    const res = await call(worker, get(`/jobs/${id}`), e);
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  return { submit, view };
}
