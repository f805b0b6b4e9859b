// The spend guard's refusals: a spent budget (429 budget_exhausted) and a
// guard that cannot decide (503 unavailable).
import { HttpError } from "../errors";
import { round, secondsUntil } from "./store";

export type BudgetScope = "product" | "stack" | "customer";

/** Seconds a 503 of the guard asks the client to wait. */
export const UNAVAILABLE_RETRY_AFTER = 60;

/** The month's budget is spent: 429 budget_exhausted with retry-after (seconds to the reset). */
export class BudgetExhausted extends HttpError {
  override name = "BudgetExhausted";
  constructor(
    readonly scope: BudgetScope,
    readonly product: string,
    readonly budgetUsd: number,
    readonly spentUsd: number,
    readonly resetsAt: string,
    now = Date.now(),
    readonly customer = "",
  ) {
    // The caller hears when to come back, not the owner's figures (those
    // are in GET /admin/budget and `zerocost cost`, and in the log).
    const whose = scope === "product" ? "this product's" : scope === "customer" ? "your" : "the stack's";
    super(
      429,
      "budget_exhausted",
      `${whose} monthly model budget is spent; it resets at ${resetsAt}`,
      { "retry-after": String(secondsUntil(resetsAt, now)) },
      { resets_at: resetsAt, scope },
    );
    const who = customer ? ` customer ${customer}:` : "";
    console.warn(`spend guard: product ${product}:${who} ${scope} budget $${budgetUsd} spent ($${round(spentUsd)} this month); refused until ${resetsAt}`);
  }
}

/** The guard cannot decide (D1 failed, the prices are missing): model calls are refused, 503. */
export class BudgetUnavailable extends HttpError {
  override name = "BudgetUnavailable";
  constructor(message: string) {
    super(503, "unavailable", message, { "retry-after": String(UNAVAILABLE_RETRY_AFTER) });
  }
}

/** Logs a failure of the spend store and returns the 503 that refuses the call. */
export function unavailable(what: string, err: unknown): BudgetUnavailable {
  console.error(`spend guard: ${what} failed (model calls are refused):`, err);
  return new BudgetUnavailable("the spend store is unavailable; model calls are refused for now");
}
