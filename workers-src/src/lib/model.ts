// A client for Anthropic's Messages API over fetch: per-attempt timeout, an
// overall deadline, retries with exponential backoff and jitter that honour
// retry-after but never pass the deadline, and one Analytics Engine data point
// per successful call.
import type { BaseEnv } from "../env";
import type { Config } from "./config";
import { MODEL_USAGE_POINT } from "../contract.gen";
import { assertPriced, NO_TICKET, recordSpend, reserveBudget, type BudgetTicket } from "./budget";
import "../features";

export interface MessageParam {
  role: "user" | "assistant";
  content: string | Array<Record<string, unknown>>;
}

/** The request body of POST /v1/messages (the fields zerocost sets; others pass through). */
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: MessageParam[];
  system?: string | Array<Record<string, unknown>>;
  [field: string]: unknown;
}

export interface ContentBlock {
  type: string;
  text?: string;
  [field: string]: unknown;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

export interface MessagesResponse {
  id?: string;
  type?: string;
  model?: string;
  content: ContentBlock[];
  stop_reason?: string | null;
  usage?: Usage;
}

/** The model call gave up. status 0 means no HTTP answer (timeout, network). */
export class ModelError extends Error {
  override name = "ModelError";
  constructor(
    message: string,
    readonly status: number,
    readonly retryable: boolean,
    /** seconds, from the last retry-after header */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export interface CallOptions {
  /** epoch ms; no attempt starts or waits past it */
  deadline: number;
  /** the pattern, for the usage data point */
  pattern: string;
  maxAttempts?: number;
  /** give up rather than wait longer than this between attempts (queue retries instead) */
  maxRetryWaitMs?: number;
  /** first backoff step in ms (doubles each attempt, capped at 8 s) */
  baseDelayMs?: number;
  /**
   * The spend guard (lib/budget.ts). Unless `checked` (the caller checked the
   * budget already, as event-agent does before its 202), the call first
   * checks it (one query; throws BudgetExhausted 429 or BudgetUnavailable
   * 503). A successful call's cost is recorded: handed to `waitUntil` when
   * given (no latency added), awaited otherwise.
   */
  budget?: {
    checked?: boolean;
    /** the reservation of a caller that checked (released when the cost is recorded or the call fails) */
    ticket?: BudgetTicket;
    waitUntil?: (p: Promise<unknown>) => void;
  };
}

const RETRYABLE = new Set([429, 500, 502, 503, 504, 529]);
export const ANTHROPIC_VERSION = "2023-06-01";

/** Parses retry-after: delta-seconds or an HTTP date. Returns seconds, or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return secs >= 0 ? secs : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const msg = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof msg === "string") return msg.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || res.statusText;
}

function isMessagesResponse(v: unknown): v is MessagesResponse {
  return typeof v === "object" && v !== null && Array.isArray((v as MessagesResponse).content);
}

async function attempt(url: string, headers: HeadersInit, payload: string, timeoutMs: number): Promise<MessagesResponse> {
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body: payload, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw transportError(err, timeoutMs);
  }
  if (!res.ok) {
    const detail = await errorDetail(res);
    throw new ModelError(
      `model API answered ${res.status}: ${detail}`,
      res.status,
      RETRYABLE.has(res.status),
      parseRetryAfter(res.headers.get("retry-after")),
    );
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw transportError(err, timeoutMs); // cut off or timed out mid-body
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ModelError("model API answered 200 with a body that is not JSON", 502, true);
  }
  if (!isMessagesResponse(data)) throw new ModelError("model API answered 200 without a content array", 502, true);
  return data;
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === "TimeoutError" || name === "AbortError";
}

function transportError(err: unknown, timeoutMs: number): ModelError {
  if (isTimeout(err)) return new ModelError(`model call timed out after ${timeoutMs} ms`, 0, true);
  return new ModelError(`model call failed: ${err instanceof Error ? err.message : String(err)}`, 0, true);
}

type UsagePointBlob = (typeof MODEL_USAGE_POINT.blobs)[number];

/** One data point per call, laid out as MODEL_USAGE_POINT (internal/contract) says. */
/** How a call was billed: the Messages API, or the Message Batches API at its discount. */
export type ModelMode = "realtime" | "batch";

/** Writes the model-usage data point of one successful call (MODEL_USAGE_POINT's layout). */
export function recordUsage(
  env: BaseEnv,
  cfg: Config,
  model: string,
  pattern: string,
  usage: Usage | undefined,
  mode: ModelMode = "realtime",
): void {
  if (!env.MODEL_USAGE) return;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  const blobs: Record<UsagePointBlob, string> = { product: cfg.product, model, pattern, mode };
  try {
    env.MODEL_USAGE.writeDataPoint({
      blobs: MODEL_USAGE_POINT.blobs.map((f) => blobs[f]),
      doubles: MODEL_USAGE_POINT.doubles.map((f) => n(usage?.[f])),
      indexes: MODEL_USAGE_POINT.indexes.map((f) => blobs[f]),
    });
  } catch (err) {
    console.error("MODEL_USAGE.writeDataPoint failed:", err);
  }
}

/** POST {ANTHROPIC_BASE_URL}/v1/messages with retries. Throws ModelError when it gives up. */
export async function callModel(
  env: BaseEnv,
  cfg: Config,
  body: MessagesRequest,
  opts: CallOptions,
): Promise<MessagesResponse> {
  // The spend guard: the check (or the caller's), then the attempts; the
  // reservation ends when the cost is recorded or the call fails.
  let ticket = opts.budget?.ticket ?? NO_TICKET;
  if (__ZEROCOST_SPEND_GUARD__) {
    try {
      assertPriced(env, cfg, body.model);
      if (!opts.budget?.checked) ticket = await reserveBudget(env, cfg);
    } catch (err) {
      ticket.release();
      throw err;
    }
  }
  try {
    return await withRetries(env, cfg, body, opts, ticket);
  } catch (err) {
    ticket.release();
    throw err;
  }
}

async function withRetries(env: BaseEnv, cfg: Config, body: MessagesRequest, opts: CallOptions, ticket: BudgetTicket): Promise<MessagesResponse> {
  const url = `${cfg.baseUrl}/v1/messages`;
  const headers = {
    "content-type": "application/json",
    "x-api-key": env.ANTHROPIC_API_KEY ?? "",
    "anthropic-version": ANTHROPIC_VERSION,
  };
  const payload = JSON.stringify(body);
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const base = opts.baseDelayMs ?? 250;
  for (let n = 1; ; n++) {
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) throw new ModelError("model deadline passed", 0, true);
    let err: ModelError;
    try {
      const data = await attempt(url, headers, payload, Math.min(cfg.modelTimeoutMs, remaining));
      recordUsage(env, cfg, body.model, opts.pattern, data.usage);
      if (__ZEROCOST_SPEND_GUARD__) {
        const recorded = recordSpend(env, cfg, data.usage, "realtime")
          .catch((e) => console.error("spend guard: the call's cost could not be recorded:", e))
          .finally(() => ticket.release());
        if (opts.budget?.waitUntil) opts.budget.waitUntil(recorded);
        else await recorded;
      }
      return data;
    } catch (e) {
      if (!(e instanceof ModelError)) throw e;
      err = e;
    }
    if (!err.retryable || n >= maxAttempts) throw err;
    const backoff = Math.min(8000, base * 2 ** (n - 1));
    let wait = backoff / 2 + Math.random() * (backoff / 2);
    if (err.retryAfter !== undefined) wait = Math.max(wait, err.retryAfter * 1000);
    if (opts.maxRetryWaitMs !== undefined && wait > opts.maxRetryWaitMs) throw err;
    if (Date.now() + wait >= opts.deadline) throw err;
    await sleep(wait);
  }
}

/** The default result: the concatenated text of the text blocks. */
export function textOf(response: MessagesResponse): string {
  return response.content
    .filter((b) => b.type === "text" && typeof b.text === "string")
    .map((b) => b.text)
    .join("");
}
