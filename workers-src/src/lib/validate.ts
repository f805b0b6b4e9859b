import { badInput, tooLarge } from "./errors";
import { jsonBytesFor, readJsonObject } from "./http";
import { normalizeInput } from "./normalize";

// An unpaired UTF-16 surrogate: JSON allows "\ud800", the model API does not.
const LONE_SURROGATE = /\p{Cs}/u;

function codePoints(s: string, stopAfter: number): number {
  if (s.length <= stopAfter) return s.length; // code points <= UTF-16 units
  let n = 0;
  for (const _ of s) if (++n > stopAfter) break;
  return n;
}

/**
 * An input is a string of at most maxChars characters (Unicode code points,
 * counted as sent, after trimming) that is not empty once normalised
 * (lib/normalize.ts: invisible characters removed, ends trimmed). Returns
 * the normalised input: what the model receives.
 */
export function validateInput(value: unknown, maxChars: number, label = "input"): string {
  if (typeof value !== "string") throw badInput(`${label} must be a string`);
  const s = value.trim();
  if (s === "") throw badInput(`${label} must not be empty`);
  if (LONE_SURROGATE.test(s)) throw badInput(`${label} contains an unpaired UTF-16 surrogate`);
  if (codePoints(s, maxChars) > maxChars) {
    throw tooLarge(`${label} is longer than ${maxChars} characters`);
  }
  const clean = normalizeInput(s);
  if (clean === "") throw badInput(`${label} has no visible characters (it is empty once invisible and control characters are removed)`);
  return clean;
}

/**
 * Bytes a one-input body may have besides its input's worst-case JSON: its
 * `{"input":}` frame, white space, and other fields a client adds (ignored).
 * A slack of our choosing, not a platform limit: past it the body is a 413
 * before it is parsed.
 */
export const BODY_SLACK_BYTES = 1024;

/**
 * The input of a POST whose JSON body is `{"input": "..."}` (event-agent's
 * POST /jobs, edge-cache's POST /ask): the body read within its cap
 * (lib/http.ts: content type, size, UTF-8, an object), then validated and
 * normalised as validateInput does.
 */
export async function readInput(request: Request, maxChars: number): Promise<string> {
  const body = await readJsonObject(request, jsonBytesFor(maxChars) + BODY_SLACK_BYTES);
  return validateInput(body.input, maxChars);
}
