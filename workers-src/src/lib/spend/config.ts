// The spend guard's settings, read from the Worker's vars: the budgets
// (MONTHLY_BUDGET_USD per product, STACK_BUDGET_USD for the stack), the alert
// thresholds and webhook, and the prices (MODEL_PRICES).
import type { BaseEnv, SpendEnv } from "../../env";
import type { Config } from "../config";
import { parsePrices, PricesError, usdToNanos, type ModelPrices } from "../prices";
import { BudgetUnavailable } from "./errors";

export const DEFAULT_THRESHOLDS = [50, 80, 100];

export interface Guard {
  db: D1Database;
  product: string;
  /** nano-USD, null: none */
  productBudget: number | null;
  stackBudget: number | null;
  thresholds: number[];
  prices: ModelPrices;
  webhook: string;
}

/** A budget var: "" or missing = none; otherwise a decimal >= 0 (USD), returned in nano-USD. */
export function budgetVar(name: string, raw: unknown): number | null {
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return null;
  const n = typeof raw === "string" && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n)) throw new BudgetUnavailable(`${name} is not a number of USD; the spend guard refuses model calls`);
  return usdToNanos(n);
}

export function parseThresholds(raw: unknown): number[] {
  if (typeof raw !== "string" || raw.trim() === "") return DEFAULT_THRESHOLDS;
  const out = raw
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && n <= 1000);
  return out.length ? [...new Set(out)].sort((a, b) => a - b) : DEFAULT_THRESHOLDS;
}

/** The Worker's MODEL_PRICES; throws BudgetUnavailable when missing or malformed (the guard never lets a call run unpriced). */
export function pricesOf(env: BaseEnv): ModelPrices {
  try {
    return parsePrices((env as BaseEnv & SpendEnv).MODEL_PRICES);
  } catch (err) {
    if (!(err instanceof PricesError)) throw err;
    console.error(`spend guard: ${err.message}; model calls are refused`);
    throw new BudgetUnavailable(`the spend guard cannot price model calls (${err.message}); model calls are refused`);
  }
}

/**
 * The guard of this Worker, or null when it has nothing to guard (no SPEND
 * binding, or neither a product nor a stack budget). Throws BudgetUnavailable
 * when a budget is set but the calls cannot be priced (MODEL_PRICES missing
 * or malformed): the guard never lets a call run unpriced.
 */
export function guardOf(env: BaseEnv, cfg: Config): Guard | null {
  const e = env as BaseEnv & SpendEnv;
  if (!e.SPEND) return null;
  const productBudget = budgetVar("MONTHLY_BUDGET_USD", e.MONTHLY_BUDGET_USD);
  const stackBudget = budgetVar("STACK_BUDGET_USD", e.STACK_BUDGET_USD);
  if (productBudget === null && stackBudget === null) return null;
  return { ...alertGuard(env, cfg, pricesOf(env)), productBudget, stackBudget };
}

/** The guard's alert settings alone (no product or stack budget): a customer's budget alerts on a product without one. */
export function alertGuard(env: BaseEnv, cfg: Config, prices: ModelPrices): Guard {
  const e = env as BaseEnv & SpendEnv;
  return {
    db: e.SPEND!,
    product: cfg.product,
    productBudget: null,
    stackBudget: null,
    thresholds: parseThresholds(e.BUDGET_ALERT_THRESHOLDS),
    prices,
    webhook: typeof e.BUDGET_ALERT_WEBHOOK === "string" ? e.BUDGET_ALERT_WEBHOOK.trim() : "",
  };
}
