// Shared by test/budget/<pattern>.test.ts: the spend guard (lib/spend/) in
// each pattern, in workerd against the project's D1 (SPEND, from the test
// config) wrapped by D1Meter (every round trip and the rows D1 counts). Model
// calls cost a fixed $0.002 here: the stand-in answers a scripted body with
// 1,000 input and 200 output tokens (claude-haiku-4-5 at $1/$5 per million).
// Budgets are small per-test vars. Alerts go to the local receiver of
// test/node/global-setup.ts.
import { expect, inject } from "vitest";
import { budgetStatus } from "../../src/lib/spend/guard";
import { resetsAt } from "../../src/lib/spend/store";
import { readConfig } from "../../src/lib/config";
import type { D1Meter } from "../d1meter";
import { expectError, newToken, postJson, standin, testEnv, type TestEnv } from "../helpers";

export const CALL_USD = 0.002;
export const USAGE = { input_tokens: 1000, output_tokens: 200 };
export const PRICES = '{"model":"claude-haiku-4-5","prices":"2026-11","input":1,"output":5,"cache_read":0.1,"cache_write":1.25,"batch_discount":0.5}';

/** Every call with this token costs CALL_USD. */
export async function fixedCost(token: string, delayMs = 0): Promise<void> {
  const body = {
    id: "msg_fixed",
    type: "message",
    role: "assistant",
    model: "claude-haiku-4-5",
    content: [{ type: "text", text: "fixed answer" }],
    stop_reason: "end_turn",
    usage: USAGE,
  };
  await standin.script(token, [{ rawBody: JSON.stringify(body), delayMs: delayMs || undefined, times: -1 }]);
}

/** A fresh stand-in token every call of which costs CALL_USD (answered after delayMs). */
export async function fixedCostToken(delayMs = 0): Promise<string> {
  const token = newToken();
  await fixedCost(token, delayMs);
  return token;
}

/** A fresh product whose SPEND is metered, with a product budget of `usd` (and no stack budget unless given). */
export function guarded(meter: D1Meter, over: Partial<Record<keyof TestEnv, unknown>> = {}): TestEnv {
  return testEnv({
    SPEND: meter.binding,
    MODEL_PRICES: PRICES,
    MONTHLY_BUDGET_USD: "1",
    STACK_BUDGET_USD: "",
    BUDGET_ALERT_THRESHOLDS: "50,80,100",
    BUDGET_ALERT_WEBHOOK: "",
    AUTH_TOKEN: "admin-token",
    ...over,
  });
}
export const bearer = { authorization: "Bearer admin-token" };
export const post = (path: string, body: unknown) => postJson(path, body, bearer);

/** The stack's spend so far this month (other tests' products included). */
export async function stackSpent(): Promise<number> {
  return (await budgetStatus(testEnv(), readConfig(testEnv()))).stack_spent_usd;
}

export async function expectExhausted(res: Response, scope: "product" | "stack"): Promise<void> {
  const body = (await res.clone().json()) as { error: Record<string, unknown> };
  await expectError(res, 429, "budget_exhausted");
  const reset = resetsAt();
  expect(body.error).toMatchObject({ code: "budget_exhausted", scope, resets_at: reset });
  // When to come back, never the owner's figures.
  expect(String(body.error.message)).not.toMatch(/\$|\d+\.\d+ this month/);
  expect(reset).toMatch(/^\d{4}-\d{2}-01T00:00:00Z$/);
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(Math.abs(retryAfter - (Date.parse(reset) - Date.now()) / 1000)).toBeLessThan(5);
}

export const hooksUrl = (key: string) => `${inject("webhookUrl")}/hooks/${key}`;
export async function hookPosts(key: string): Promise<Array<{ status: number; body: { text: string; content: string }; at: number }>> {
  return ((await (await fetch(hooksUrl(key))).json()) as { posts: any[] }).posts;
}
