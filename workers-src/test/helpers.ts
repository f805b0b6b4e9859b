// Helpers for tests that run inside workerd.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Step } from "./standin-protocol";

export type TestEnv = Cloudflare.Env;

/** A token that ties a test's inputs to its stand-in scenario. */
export const newToken = () => "tok" + crypto.randomUUID().replaceAll("-", "");

/** Controls the model stand-in (test/node/model-standin.ts) that ANTHROPIC_BASE_URL points at. */
export const standin = {
  async script(token: string, steps: Step[]): Promise<void> {
    const res = await fetch(`${env.ANTHROPIC_BASE_URL}/__standin/script`, {
      method: "POST",
      body: JSON.stringify({ token, steps }),
    });
    expect(res.status).toBe(200);
  },
  async calls(token: string): Promise<Array<{ headers: Record<string, string>; body: any; at: number }>> {
    const res = await fetch(`${env.ANTHROPIC_BASE_URL}/__standin/calls?token=${token}`);
    return ((await res.json()) as { calls: any[] }).calls;
  },
};

/** The project's env with a fresh PRODUCT (so rate-limit keys do not collide) and overrides. */
export function testEnv(overrides: Partial<Record<keyof TestEnv, unknown>> = {}): TestEnv {
  return { ...env, PRODUCT: `p-${crypto.randomUUID().slice(0, 8)}`, ...overrides } as TestEnv;
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(`https://worker.test${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

export function get(path: string, headers: Record<string, string> = {}): Request {
  return new Request(`https://worker.test${path}`, { headers });
}

type FetchWorker = { fetch?: ExportedHandler<any>["fetch"] };

/** Calls a worker's fetch handler directly and waits for its waitUntil work. */
export async function call(worker: FetchWorker, request: Request, e: TestEnv = testEnv()): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch!(request as any, e, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Asserts a JSON error response's status and code; returns its message. */
export async function expectError(res: Response, status: number, code: string): Promise<string> {
  const body = (await res.json()) as { error?: { code?: string; message?: string } };
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(typeof body.error?.message).toBe("string");
  return body.error!.message!;
}

/** Polls until check() returns a value, or fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits out the last 3 s of a wall-clock minute, so a limit test stays inside one window. */
export async function awayFromMinuteEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 3_000) await new Promise((r) => setTimeout(r, left + 100));
}
