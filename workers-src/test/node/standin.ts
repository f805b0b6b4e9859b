// What the Node tests of the model stand-in share: its URL (from
// global-setup.ts), a fresh script token, and the stand-in's test routes
// (standin-protocol.ts) to script a token's replies and read its calls.
import { randomUUID } from "node:crypto";
import { expect, inject } from "vitest";
import { CALLS_PATH, SCRIPT_PATH, type StandinCall, type Step } from "../standin-protocol";

export const url = inject("modelUrl");
export const newToken = () => "tok" + randomUUID().replaceAll("-", "");

export async function script(token: string, steps: Step[]): Promise<void> {
  const res = await fetch(`${url}${SCRIPT_PATH}`, { method: "POST", body: JSON.stringify({ token, steps }) });
  expect(res.status).toBe(200);
}

export async function calls(token: string): Promise<StandinCall[]> {
  const res = await fetch(`${url}${CALLS_PATH}?token=${token}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { calls: StandinCall[] }).calls;
}
