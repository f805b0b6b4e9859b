// A client for Anthropic's Messages API over fetch: per-attempt timeout, an
// overall deadline, retries (anthropic.ts's withRetries), and one Analytics
// Engine data point per successful call. The spend guard is a hook the caller
// passes (lib/spend/guard.ts's MODEL_SPEND), so this module needs nothing of it.
import type { BaseEnv } from "../env";
import type { Config } from "./config";
import { MODEL_USAGE_POINT, type UsageMode } from "../contract.gen";
import { apiFetch, ModelError, transportError, withRetries, type RetryOptions } from "./anthropic";
import { NO_TICKET, type BudgetTicket, type MessagesRequest, type MessagesResponse, type ModelMode, type Payer, type Usage } from "./types";

export type { ContentBlock, MessageParam, MessagesRequest, MessagesResponse, ModelMode, Usage } from "./types";
export { ANTHROPIC_VERSION, ModelError, parseRetryAfter } from "./anthropic";

/** The spend guard as the client uses it (lib/spend/guard.ts's MODEL_SPEND). */
export interface SpendHook {
  /** Throws BudgetUnavailable (503) when a call of `model` cannot be priced. */
  assertPriced(env: BaseEnv, cfg: Config, model: string, payer?: Payer): void;
  /** The check before a call (one round trip; throws BudgetExhausted 429 or BudgetUnavailable 503) and the call's ticket. */
  reserve(env: BaseEnv, cfg: Config, payer?: Payer): Promise<BudgetTicket>;
  /** Adds a succeeded call's cost (to the payer's row too). */
  record(env: BaseEnv, cfg: Config, usage: Usage | undefined, mode: ModelMode, payer?: Payer): Promise<unknown>;
}

export interface CallOptions extends RetryOptions {
  /** the pattern, for the usage data point */
  pattern: string;
  /** the customer whose key made the request (a product with keys), for the usage data point */
  customer?: string;
  /**
   * The spend guard; none in a bundle without a budget. Unless `checked` (the
   * caller checked the budget already, as event-agent does before its 202),
   * the call first reserves (one query; throws BudgetExhausted 429 or
   * BudgetUnavailable 503). A successful call's cost is recorded: handed to
   * `waitUntil` when given (no latency added), awaited otherwise.
   */
  budget?: {
    spend: SpendHook;
    checked?: boolean;
    /** the reservation of a caller that checked (released when the cost is recorded or the call fails) */
    ticket?: BudgetTicket;
    waitUntil?: (p: Promise<unknown>) => void;
    /** who pays (a keyed request's customer and budget): checked and recorded per customer */
    payer?: Payer;
  };
}

function isMessagesResponse(v: unknown): v is MessagesResponse {
  return typeof v === "object" && v !== null && Array.isArray((v as MessagesResponse).content);
}

/**
 * One attempt, the n-th of the call. A retry says so the way Anthropic's SDKs
 * do (X-Stainless-Retry-Count, @anthropic-ai/sdk client.js): the attempt
 * before it failed as far as this client knows (an error, or no answer in
 * time), so an API log shows which of a job's calls were abandoned.
 */
async function attempt(env: BaseEnv, url: string, payload: string, timeoutMs: number, n: number): Promise<MessagesResponse> {
  const headers = n > 1 ? { "x-stainless-retry-count": String(n - 1) } : undefined;
  const res = await apiFetch(env, url, { method: "POST", body: payload, headers }, timeoutMs);
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

type UsagePointBlob = (typeof MODEL_USAGE_POINT.blobs)[number];

/**
 * Writes the model-usage data point of one successful call (MODEL_USAGE_POINT's
 * layout, internal/contract), or of a request served without a call of its
 * own (mode "cache_hit": recordHit).
 */
export function recordUsage(
  env: BaseEnv,
  cfg: Config,
  model: string,
  pattern: string,
  usage: Usage | undefined,
  mode: UsageMode = "realtime",
  customer = "",
): void {
  if (!env.MODEL_USAGE) return;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  const blobs: Record<UsagePointBlob, string> = { product: cfg.product, model, pattern, mode, customer };
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

/**
 * Writes the data point of a request served without a model call of its own
 * (an edge-cache hit, or a miss that shared another request's call): mode
 * "cache_hit", no tokens, the customer whose key made it. It counts the
 * customer's request (cost report --by customer); the token queries leave it
 * out. One Analytics Engine data point (the ops table's hit events).
 */
export function recordHit(env: BaseEnv, cfg: Config, model: string, pattern: string, customer = ""): void {
  recordUsage(env, cfg, model, pattern, undefined, "cache_hit", customer);
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
  const budget = opts.budget;
  let ticket = budget?.ticket ?? NO_TICKET;
  try {
    if (budget) {
      budget.spend.assertPriced(env, cfg, body.model, budget.payer);
      if (!budget.checked) ticket = await budget.spend.reserve(env, cfg, budget.payer);
    }
    const url = `${cfg.baseUrl}/v1/messages`;
    const payload = JSON.stringify(body);
    const data = await withRetries((remaining, n) => attempt(env, url, payload, Math.min(cfg.modelTimeoutMs, remaining), n), opts);
    recordUsage(env, cfg, body.model, opts.pattern, data.usage, "realtime", opts.customer);
    if (budget) {
      const t = ticket;
      const recorded = budget.spend
        .record(env, cfg, data.usage, "realtime", budget.payer)
        .catch((e) => console.error("spend guard: the call's cost could not be recorded:", e))
        .finally(() => t.release());
      if (budget.waitUntil) budget.waitUntil(recorded);
      else await recorded;
    }
    return data;
  } catch (err) {
    ticket.release();
    throw err;
  }
}

/** The default result: the concatenated text of the text blocks. */
export function textOf(response: MessagesResponse): string {
  return response.content
    .filter((b) => b.type === "text" && typeof b.text === "string")
    .map((b) => b.text)
    .join("");
}
