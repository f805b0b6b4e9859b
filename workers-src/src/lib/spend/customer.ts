// The spend guard's customer scope (a product with customer keys): each
// customer's spend per product and month, in the customer_spend table
// (store.ts), exact in nano-USD, calls and tokens. `zerocost cost report --by
// customer` reads that table; its schema is a contract with the reader.
//
// Before a call of a customer with a monthly budget (the key record's
// monthly_budget_usd), the check reads the customer's row in the same D1
// batch as the product's check (one round trip); after a call, the
// customer's row is upserted in the same batch as the product's row (one
// round trip, one more row written). A customer without a budget is not
// read before its calls, but every call of a keyed request is recorded.
//
// The overspend bound, as for the product's budget (guard.ts): the calls of
// the customer that passed the check before the record that reached its
// budget landed. Within an isolate its calls in flight count at its average
// cost, so requests one at a time pass the budget by at most one call.
import { callCostNanos, usdToNanos, type ModelPrices } from "../prices";
import type { ModelMode, Payer, Usage } from "../types";
import { num } from "./store";

/** The customer part of a call: who, the budget (nano-USD; null: none). */
export interface CustomerScope {
  customer: string;
  budget: number | null;
}

/** The scope of a payer with a customer, else null (a public product's call, or none known). */
export function scopeOf(payer: Payer | undefined): CustomerScope | null {
  if (!payer || payer.customer === "") return null;
  const b = payer.budgetUsd;
  return { customer: payer.customer, budget: typeof b === "number" && Number.isFinite(b) && b >= 0 ? usdToNanos(b) : null };
}

/** The customer's spend this month: nano-USD and calls. */
export interface CustomerSpent {
  nanos: number;
  calls: number;
}

/** The query of the customer's month row (its primary key: one row read). */
export function customerSpentStatement(db: D1Database, month: string, product: string, customer: string): D1PreparedStatement {
  return db.prepare("SELECT nanos, calls FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = ?3").bind(month, product, customer);
}

export function customerSpentOf(r: D1Result<Record<string, unknown>>): CustomerSpent {
  const row = r.results[0] ?? {};
  return { nanos: num(row.nanos), calls: num(row.calls) };
}

const tokens = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.round(v) : 0);

/**
 * The upsert of one call into the customer's month row (one row written),
 * RETURNING the customer's new total (nano-USD). input_tokens and
 * output_tokens are the usage's own fields as the API answered them (cache
 * reads and writes are priced into nanos, not added to input_tokens).
 */
export function customerRecordStatement(
  db: D1Database,
  month: string,
  product: string,
  customer: string,
  prices: ModelPrices,
  usage: Usage | undefined,
  mode: ModelMode,
): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO customer_spend (month, product, customer, nanos, calls, input_tokens, output_tokens) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6) " +
        "ON CONFLICT (month, product, customer) DO UPDATE SET nanos = nanos + excluded.nanos, calls = calls + 1, " +
        "input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens " +
        "RETURNING nanos AS customer",
    )
    .bind(month, product, customer, callCostNanos(prices, usage, mode), tokens(usage?.input_tokens), tokens(usage?.output_tokens));
}
