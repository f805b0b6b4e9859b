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
 * What a set of calls of one payer adds to its rows, each call priced alone
 * (callCostNanos rounds a call's cost up to the nano-USD), so one record of
 * the tally leaves the rows exactly as one record per call would: nanos the
 * sum of the calls' costs; `calls` every call (the customer's row counts
 * each); `paid` the calls that cost something (the product's row counts only
 * those); the usage's own input and output tokens.
 */
export interface SpendTally {
  calls: number;
  paid: number;
  nanos: number;
  input_tokens: number;
  output_tokens: number;
}

export function tallyOf(prices: ModelPrices, usages: ReadonlyArray<Usage | undefined>, mode: ModelMode): SpendTally {
  const t: SpendTally = { calls: 0, paid: 0, nanos: 0, input_tokens: 0, output_tokens: 0 };
  for (const usage of usages) {
    const cost = callCostNanos(prices, usage, mode);
    t.calls++;
    if (cost > 0) t.paid++;
    t.nanos += cost;
    t.input_tokens += tokens(usage?.input_tokens);
    t.output_tokens += tokens(usage?.output_tokens);
  }
  return t;
}

/**
 * The upsert of the tallied calls into the customer's month row (one row
 * written), RETURNING the customer's new total (nano-USD). input_tokens and
 * output_tokens are the usage's own fields as the API answered them (cache
 * reads and writes are priced into nanos, not added to input_tokens).
 */
export function customerRecordStatement(db: D1Database, month: string, product: string, customer: string, t: SpendTally): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO customer_spend (month, product, customer, nanos, calls, input_tokens, output_tokens) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) " +
        "ON CONFLICT (month, product, customer) DO UPDATE SET nanos = nanos + excluded.nanos, calls = calls + excluded.calls, " +
        "input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens " +
        "RETURNING nanos AS customer",
    )
    .bind(month, product, customer, t.nanos, t.calls, t.input_tokens, t.output_tokens);
}
