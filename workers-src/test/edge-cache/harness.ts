// Shared by test/edge-cache/*.test.ts: edge-cache, POST /ask answers from the
// Cache API or R2 (HIT) or the model (MISS).
import { readConfig } from "../../src/lib/config";
import { validateInput } from "../../src/lib/validate";
import { createWorker, requestAndKey } from "../../src/patterns/edge-cache";
import { call, postJson, testEnv, type TestEnv } from "../helpers";

export const worker = createWorker({});

/** The key the Worker uses for input under env e. */
export const keyFor = async (input: string, e: TestEnv = testEnv()) =>
  (await requestAndKey({}, validateInput(input, 4000), e, readConfig(e))).key;

export async function ask(input: string, e: TestEnv = testEnv()) {
  const res = await call(worker, postJson("/ask", { input }), e);
  const body = (await res.json()) as Record<string, any>;
  return { status: res.status, cache: res.headers.get("x-cache"), body, headers: res.headers };
}
