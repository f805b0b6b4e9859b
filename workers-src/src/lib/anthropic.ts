// The Anthropic API over fetch, as both model modes use it: the headers, the
// statuses worth retrying, an error's parsing into ModelError, one fetch with
// a timeout, and the one retry loop (exponential backoff with jitter that
// honours retry-after and never passes a deadline). The Messages API client
// (model.ts) retries through it; the Message Batches API client (batch/api.ts)
// does not retry a create (it has no idempotency key: the queue retries).
import type { BaseEnv } from "../env";

export const ANTHROPIC_VERSION = "2023-06-01";

/**
 * Statuses worth another attempt: 429 (rate_limit_error), 500 (api_error) and
 * 529 (overloaded_error), as Anthropic's errors page lists them
 * (https://docs.anthropic.com/en/api/errors), and the gateway errors 502, 503
 * and 504 of whatever stands between.
 */
export const RETRYABLE: ReadonlySet<number> = new Set([429, 500, 502, 503, 504, 529]);

/**
 * The model call gave up. status 0 means no HTTP answer (timeout, network).
 * The message holds zerocost's own facts only (it reaches callers and job
 * records); the API's own words are in `detail`, for the log (logDetail).
 */
export class ModelError extends Error {
  override name = "ModelError";
  /** attempts made when it gave up (withRetries sets it) */
  attempts = 1;
  constructor(
    message: string,
    readonly status: number,
    readonly retryable: boolean,
    /** seconds, from the last retry-after header */
    readonly retryAfter?: number,
    /** what the API (or the network) said: its error.message or body, at most 300 characters; never shown to a caller */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** Logs a ModelError's facts and the API's own words (which callers never see). */
export function logDetail(where: string, err: unknown): void {
  if (!(err instanceof ModelError)) return;
  const said = err.detail ? `; it said: ${err.detail}` : "";
  console.warn(`${where}: ${err.message} (status ${err.status}, ${err.attempts} attempt(s))${said}`);
}

export function apiHeaders(env: BaseEnv): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-api-key": env.ANTHROPIC_API_KEY ?? "",
    "anthropic-version": ANTHROPIC_VERSION,
  };
}

/** Parses retry-after: delta-seconds or an HTTP date. Returns seconds, or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return secs >= 0 ? secs : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

/** The ModelError of a non-2xx answer: its status, retryable by status, its retry-after; its error.message (or its text) as the detail. */
export async function apiError(res: Response, prefix = ""): Promise<ModelError> {
  const text = await res.text().catch(() => "");
  let detail = text.slice(0, 300) || res.statusText;
  try {
    const msg = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof msg === "string") detail = msg.slice(0, 300);
  } catch {
    // not JSON
  }
  return new ModelError(
    `${prefix}model API answered ${res.status}`,
    res.status,
    RETRYABLE.has(res.status),
    parseRetryAfter(res.headers.get("retry-after")),
    detail,
  );
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === "TimeoutError" || name === "AbortError";
}

/** The ModelError of a fetch (or a body read) that got no answer: timed out or failed. */
export function transportError(err: unknown, timeoutMs: number, what = "model call"): ModelError {
  if (isTimeout(err)) return new ModelError(`${what} timed out after ${timeoutMs} ms`, 0, true);
  return new ModelError(`${what} failed: no answer`, 0, true, undefined, err instanceof Error ? err.message : String(err));
}

/**
 * One fetch with the API headers and a timeout. Throws ModelError: a
 * transport failure (named `what`), or a non-2xx answer (prefixed with
 * `what` when `prefixed`).
 */
export async function apiFetch(
  env: BaseEnv,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  what = "model call",
  prefixed = false,
): Promise<Response> {
  let res: Response;
  try {
    const headers = { ...apiHeaders(env), ...(init.headers as Record<string, string> | undefined) };
    res = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw transportError(err, timeoutMs, what);
  }
  if (!res.ok) throw await apiError(res, prefixed ? `${what}: ` : "");
  return res;
}

export interface RetryOptions {
  /** epoch ms; no attempt starts or waits past it */
  deadline: number;
  maxAttempts?: number;
  /** give up rather than wait longer than this between attempts (queue retries instead) */
  maxRetryWaitMs?: number;
  /** first backoff step in ms (doubles each attempt, capped at 8 s) */
  baseDelayMs?: number;
}

/** "3 attempts over 25.0 s": how many attempts a call had, and the whole wait since `since` (epoch ms). */
export const attemptsOver = (n: number, since: number): string =>
  `${n} attempt${n === 1 ? "" : "s"} over ${((Date.now() - since) / 1000).toFixed(1)} s`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt(remainingMs)` until it returns, retrying a retryable
 * ModelError with backoff and jitter (at least its retry-after), within the
 * attempts and the deadline. Anything but a ModelError is thrown at once.
 */
export async function withRetries<T>(attempt: (remainingMs: number, n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const base = opts.baseDelayMs ?? 250;
  for (let n = 1; ; n++) {
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) {
      const late = new ModelError("model deadline passed", 0, true);
      late.attempts = n - 1;
      throw late;
    }
    let err: ModelError;
    try {
      return await attempt(remaining, n);
    } catch (e) {
      if (!(e instanceof ModelError)) throw e;
      err = e;
    }
    err.attempts = n;
    if (!err.retryable || n >= maxAttempts) throw err;
    const backoff = Math.min(8000, base * 2 ** (n - 1));
    let wait = backoff / 2 + Math.random() * (backoff / 2);
    if (err.retryAfter !== undefined) wait = Math.max(wait, err.retryAfter * 1000);
    if (opts.maxRetryWaitMs !== undefined && wait > opts.maxRetryWaitMs) throw err;
    if (Date.now() + wait >= opts.deadline) throw err;
    await sleep(wait);
  }
}
