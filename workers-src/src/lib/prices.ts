// The product model's prices (the MODEL_PRICES var: JSON rendered from the
// same dated price file `zerocost cost` uses, internal/contract ModelPrices)
// and the cost of one call from its usage. Costs are integers in nano-USD
// (1e-9 USD), so sums in the spend store are exact and a threshold is crossed
// by exactly one call.
import type { ModelMode, Usage } from "./types";

/** USD per million tokens, as MODEL_PRICES holds them. */
export interface ModelPrices {
  model: string;
  /** the price file they come from ("2026-11") */
  prices: string;
  input: number;
  output: number;
  cache_read: number;
  cache_write: number;
  /** the fraction taken off every price for the Message Batches API (0.5) */
  batch_discount: number;
}

/** MODEL_PRICES is missing or malformed: the guard cannot price a call. */
export class PricesError extends Error {
  override name = "PricesError";
}

const FIELDS = ["input", "output", "cache_read", "cache_write"] as const;

const cache = new Map<string, ModelPrices>();

/** Parses MODEL_PRICES. Throws PricesError unless every price is a finite number >= 0. */
export function parsePrices(raw: unknown): ModelPrices {
  if (typeof raw !== "string" || raw.trim() === "") throw new PricesError("MODEL_PRICES is not set");
  const hit = cache.get(raw);
  if (hit) return hit;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new PricesError("MODEL_PRICES is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PricesError("MODEL_PRICES must be a JSON object");
  const num = (k: string, def?: number): number => {
    const n = v[k] ?? def;
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0) throw new PricesError(`MODEL_PRICES.${k} must be a number >= 0`);
    return n;
  };
  if (typeof v.model !== "string" || v.model === "") throw new PricesError("MODEL_PRICES.model must name the model");
  const p: ModelPrices = {
    model: v.model,
    prices: typeof v.prices === "string" ? v.prices : "",
    input: num("input"),
    output: num("output"),
    cache_read: num("cache_read", 0),
    cache_write: num("cache_write", 0),
    batch_discount: num("batch_discount", 0),
  };
  if (p.batch_discount > 1) throw new PricesError("MODEL_PRICES.batch_discount must be between 0 and 1");
  if (cache.size > 16) cache.clear();
  cache.set(raw, p);
  return p;
}

const tokens = (n: unknown) => (typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0);

/**
 * A call's cost in nano-USD (integer): input, output, cache-read and
 * cache-write tokens at their prices (USD per million tokens = nano-USD per
 * token x 1,000), less the batch discount in batch mode. Rounded up, so a
 * budget is never under-counted.
 */
export function callCostNanos(prices: ModelPrices, usage: Usage | undefined, mode: ModelMode = "realtime"): number {
  const perToken = {
    input: tokens(usage?.input_tokens),
    output: tokens(usage?.output_tokens),
    cache_read: tokens(usage?.cache_read_input_tokens),
    cache_write: tokens(usage?.cache_creation_input_tokens),
  };
  let nanos = 0;
  for (const f of FIELDS) nanos += perToken[f] * prices[f] * 1000;
  if (mode === "batch") nanos *= 1 - prices.batch_discount;
  // 1e-6 absorbs float noise (0.1 * 3 = 0.30000000000000004) before rounding up.
  return Math.max(0, Math.ceil(nanos - 1e-6));
}

/** A call's cost in USD. */
export function callCostUsd(prices: ModelPrices, usage: Usage | undefined, mode: ModelMode = "realtime"): number {
  return callCostNanos(prices, usage, mode) / 1e9;
}

/** USD -> nano-USD (integer), for budgets. */
export const usdToNanos = (usd: number) => Math.round(usd * 1e9);
export const nanosToUsd = (nanos: number) => Math.round(nanos) / 1e9;
