// The spend guard: a hard monthly model budget per product (MONTHLY_BUDGET_USD),
// for the stack (STACK_BUDGET_USD) and per customer of a product with keys
// (the key record's monthly_budget_usd: customer.ts), kept in the spend
// store (store.ts).
//
// A model call costs ONE query before it (the product's month spend and, with
// a stack budget, the stack's month total: a range scan of this month's rows,
// one per product) and ONE upsert after it (one row written, RETURNING the
// new total), then the alerts of the thresholds it crossed (alerts.ts).
//
// The check and the record are separate (a reservation in D1 would cost a
// second write per call): calls already in flight when the budget runs out
// still finish and are recorded. That is the overspend bound: every call that
// passed the check before the record that reached the budget landed. Within
// one isolate the check also counts the calls in flight there at the month's
// average cost per call (before the month's first record: a call's worst
// case), at no D1 cost, which keeps a burst on one isolate near the budget.
import type { BaseEnv, SpendEnv } from "../../env";
import type { Config } from "../config";
import type { SpendHook } from "../model";
import { callCostNanos, nanosToUsd } from "../prices";
import type { ModelPrices } from "../prices";
import { NO_TICKET, type BudgetTicket, type ModelMode, type Payer, type Usage } from "../types";
import { alertsFor } from "./alerts";
import { alertGuard, budgetVar, guardOf, pricesOf, type Guard } from "./config";
import { customerRecordStatement, customerSpentOf, customerSpentStatement, scopeOf, tallyOf, type SpendTally } from "./customer";
import { BudgetExhausted, BudgetUnavailable, unavailable } from "./errors";
import { monthOf, num, resetsAt, run, spendDb, spentOf, spentStatement, type Spent } from "./store";

// This isolate's guarded calls in flight (passed the check, cost not yet
// recorded), by product: ticket -> when it was taken. The check counts them at
// the month's average cost per call, so a burst of simultaneous calls in one
// isolate stops near the budget instead of all passing the same reading.
// A ticket is released once its call's record lands (or the call fails); one
// never released (a bug, a cancelled waitUntil) is forgotten after a minute.
const inFlight = new Map<string, Map<number, number>>();
let nextTicket = 1;
const IN_FLIGHT_TTL_MS = 60_000;

function inFlightCount(product: string, now: number): number {
  const m = inFlight.get(product);
  if (!m) return 0;
  for (const [id, at] of m) if (now - at > IN_FLIGHT_TTL_MS) m.delete(id);
  return m.size;
}

function take(product: string, now: number): BudgetTicket {
  const id = nextTicket++;
  let m = inFlight.get(product);
  if (!m) inFlight.set(product, (m = new Map()));
  m.set(id, now);
  let done = false;
  return {
    release() {
      if (done) return;
      done = true;
      m!.delete(id);
      if (m!.size === 0 && inFlight.get(product) === m) inFlight.delete(product);
    },
  };
}

/**
 * Before a model call: ONE round trip. Throws BudgetExhausted (429) when the
 * product's or the stack's spend this month, or the paying customer's
 * (a payer with a budget), plus this isolate's calls in flight at the
 * month's average cost, has reached its budget; BudgetUnavailable (503) when
 * D1 fails or the calls cannot be priced. Returns the product's spend read
 * (null when there is no product or stack budget to guard).
 */
export async function checkBudget(env: BaseEnv, cfg: Config, now = Date.now(), payer?: Payer): Promise<Spent | null> {
  return (await check(env, cfg, now, false, payer)).spent;
}

/** checkBudget, then a ticket for the call in flight: release it once the call's cost is recorded, or the call failed. */
export async function reserveBudget(env: BaseEnv, cfg: Config, now = Date.now(), payer?: Payer): Promise<BudgetTicket> {
  return (await check(env, cfg, now, true, payer)).ticket;
}

/**
 * What a call in flight is counted at: the month's average cost per call, or
 * before the month's first recorded call its worst case (MAX_INPUT_CHARS as
 * input tokens, MAX_OUTPUT_TOKENS output tokens).
 */
function perCallEstimate(prices: ModelPrices, cfg: Config, nanos: number, calls: number): number {
  if (calls > 0) return Math.ceil(nanos / calls);
  return callCostNanos(prices, { input_tokens: cfg.maxInputChars, output_tokens: cfg.maxOutputTokens });
}

/** The in-flight key of a customer's calls (a product's are keyed by the product alone). */
const customerKey = (product: string, customer: string) => `${product}\u0000${customer}`;

async function check(env: BaseEnv, cfg: Config, now: number, reserve: boolean, payer?: Payer): Promise<{ spent: Spent | null; ticket: BudgetTicket }> {
  const g = guardOf(env, cfg);
  const db = spendDb(env);
  const c = db ? scopeOf(payer) : null;
  const cb = c?.budget ?? null;
  if (!g && (cb === null || !db)) return { spent: null, ticket: NO_TICKET };
  const prices = g ? g.prices : pricesOf(env);
  const month = monthOf(now);
  const withStack = g?.stackBudget != null;
  // The product's check and the customer's row: one batch, one round trip.
  const stmts: D1PreparedStatement[] = [];
  if (g) stmts.push(spentStatement(g.db, g.product, month, withStack));
  if (cb !== null) stmts.push(customerSpentStatement(db!, month, cfg.product, c!.customer));
  let res: D1Result<Record<string, unknown>>[];
  try {
    res = await run(db!, stmts);
  } catch (err) {
    throw unavailable("the budget check", err);
  }
  // Synchronous from here to take(): the counts and the tickets cannot race.
  let spent: Spent | null = null;
  if (g) {
    spent = spentOf(res[0]!, withStack);
    const pending = inFlightCount(g.product, now) * perCallEstimate(prices, cfg, spent.product, spent.calls);
    exhaustedBy(g, { product: spent.product + pending, calls: spent.calls, stack: spent.stack === null ? null : spent.stack + pending }, now);
  }
  const ckey = c ? customerKey(cfg.product, c.customer) : "";
  if (cb !== null) {
    const cs = customerSpentOf(res[res.length - 1]!);
    const total = cs.nanos + inFlightCount(ckey, now) * perCallEstimate(prices, cfg, cs.nanos, cs.calls);
    if (total >= cb) throw new BudgetExhausted("customer", cfg.product, nanosToUsd(cb), nanosToUsd(total), resetsAt(now), now, c!.customer);
  }
  if (!reserve) return { spent, ticket: NO_TICKET };
  const tickets = [g ? take(g.product, now) : NO_TICKET, cb !== null ? take(ckey, now) : NO_TICKET];
  return { spent, ticket: { release: () => tickets.forEach((t) => t.release()) } };
}

/** Throws BudgetExhausted if spent reaches a budget of g. */
function exhaustedBy(g: Guard, spent: Spent, now: number): void {
  if (g.productBudget !== null && spent.product >= g.productBudget) {
    throw new BudgetExhausted("product", g.product, nanosToUsd(g.productBudget), nanosToUsd(spent.product), resetsAt(now), now);
  }
  if (g.stackBudget !== null && spent.stack !== null && spent.stack >= g.stackBudget) {
    throw new BudgetExhausted("stack", g.product, nanosToUsd(g.stackBudget), nanosToUsd(spent.stack), resetsAt(now), now);
  }
}

/** Throws BudgetUnavailable when a call of `model` cannot be priced by this Worker's MODEL_PRICES. */
export function assertPriced(env: BaseEnv, cfg: Config, model: string, payer?: Payer): void {
  const g = guardOf(env, cfg);
  const prices = g ? g.prices : spendDb(env) && scopeOf(payer) ? pricesOf(env) : null;
  if (prices && prices.model !== model) {
    throw new BudgetUnavailable(`the spend guard has prices for ${prices.model}, not ${model}; model calls are refused`);
  }
}

export interface Recorded {
  cost_nanos: number;
  product_nanos: number;
  stack_nanos: number | null;
  /** the paying customer's month total after this call (null: no customer) */
  customer_nanos: number | null;
  /** alerts sent by this call: "product:50", "stack:100", ... */
  alerts: string[];
}

/**
 * After a model call: adds its cost in ONE round trip: the upsert of the
 * (month, product) row when the product or the stack has a budget (one row
 * written, RETURNING the new totals) and, for a customer's call, the upsert
 * of its (month, product, customer) row (one more row written), in one D1
 * batch (one transaction). Then sends the alerts of the product's and the
 * stack's thresholds reached (alerts.ts). Throws when D1 fails twice (the
 * caller logs it: the call was made, its cost is lost from the count).
 */
export async function recordSpend(
  env: BaseEnv,
  cfg: Config,
  usage: Usage | undefined,
  mode: ModelMode = "realtime",
  now = Date.now(),
  payer?: Payer,
): Promise<Recorded | null> {
  return recordCalls(env, cfg, [usage], mode, now, payer);
}

/**
 * recordSpend of several calls of one payer (batch mode settles an ended
 * batch's results so, one record per payer): their tally (customer.ts
 * tallyOf, each call priced alone) in the same ONE round trip, so the rows
 * end exactly as one record per call would leave them. The alerts go by the
 * tally's total: a threshold the calls crossed one by one is crossed by it
 * (spend only grows), and each still claims once (alerts.ts).
 */
export async function recordCalls(
  env: BaseEnv,
  cfg: Config,
  usages: ReadonlyArray<Usage | undefined>,
  mode: ModelMode,
  now: number,
  payer?: Payer,
): Promise<Recorded | null> {
  const g = guardOf(env, cfg);
  const db = spendDb(env);
  const c = db ? scopeOf(payer) : null;
  if ((!g && !c) || usages.length === 0) return null;
  const prices = g ? g.prices : pricesOf(env);
  const t = tallyOf(prices, usages, mode);
  const month = monthOf(now);
  const withStack = g?.stackBudget != null;
  // A product row only for the calls that cost something (as before customers);
  // a customer's row for every call, so its calls and tokens are exact.
  const stmts: D1PreparedStatement[] = [];
  if (g && t.nanos > 0) stmts.push(productRecordStatement(g, month, t, withStack));
  if (c) stmts.push(customerRecordStatement(db!, month, cfg.product, c.customer, t));
  if (!stmts.length) return null;
  let res: D1Result<Record<string, unknown>>[];
  try {
    res = await run(db!, stmts);
  } catch {
    // A batch that failed changed nothing (one transaction): one more try.
    res = await run(db!, stmts);
  }
  const row = g && t.nanos > 0 ? (res[0]!.results[0] ?? {}) : {};
  const product = num(row.product);
  const stack = withStack ? product + num(row.others) : null;
  const customer = c ? num(res[res.length - 1]!.results[0]?.customer) : null;
  // A customer with a budget gets its own alerts, through the product's webhook.
  const cust = c && c.budget !== null && customer !== null ? { customer: c.customer, budget: c.budget, spent: customer } : undefined;
  const ag = g ?? (cust ? alertGuard(env, cfg, prices) : null);
  const alerts = ag && t.nanos > 0 ? await alertsFor(ag, month, t.nanos, g ? product : null, stack, now, cust) : [];
  return { cost_nanos: t.nanos, product_nanos: product, stack_nanos: stack, customer_nanos: customer, alerts };
}

/** The upsert of the product's month row (the tally's paid calls), RETURNING its new total (and, with a stack budget, the other products'). */
function productRecordStatement(g: Guard, month: string, t: SpendTally, withStack: boolean): D1PreparedStatement {
  return g.db
    .prepare(
      "INSERT INTO spend (month, product, nanos, calls) VALUES (?1, ?2, ?3, ?4) " +
        "ON CONFLICT (month, product) DO UPDATE SET nanos = nanos + excluded.nanos, calls = calls + excluded.calls " +
        (withStack
          ? "RETURNING nanos AS product, (SELECT COALESCE(SUM(s.nanos), 0) FROM spend AS s WHERE s.month = ?1 AND s.product <> ?2) AS others"
          : "RETURNING nanos AS product"),
    )
    .bind(month, g.product, t.nanos, t.paid);
}

/** The guard as the model client takes it (lib/model.ts's SpendHook). */
export const MODEL_SPEND: SpendHook = {
  assertPriced,
  reserve: (env, cfg, payer) => reserveBudget(env, cfg, Date.now(), payer),
  record: (env, cfg, usage, mode, payer) => recordSpend(env, cfg, usage, mode, Date.now(), payer),
};

/** What GET /admin/budget answers. */
export interface BudgetStatus {
  product: string;
  month: string;
  spent_usd: number;
  budget_usd: number | null;
  stack_spent_usd: number;
  stack_budget_usd: number | null;
  resets_at: string;
}

/** The month's spend and budgets (one query). Without SPEND: zeros and the vars' budgets. */
export async function budgetStatus(env: BaseEnv, cfg: Config, now = Date.now()): Promise<BudgetStatus> {
  const e = env as BaseEnv & SpendEnv;
  const month = monthOf(now);
  const productBudget = budgetVar("MONTHLY_BUDGET_USD", e.MONTHLY_BUDGET_USD);
  const stackBudget = budgetVar("STACK_BUDGET_USD", e.STACK_BUDGET_USD);
  let spent: Spent = { product: 0, calls: 0, stack: 0 };
  if (e.SPEND) {
    try {
      const [r] = await run(e.SPEND, [spentStatement(e.SPEND, cfg.product, month, true)]);
      spent = spentOf(r!, true);
    } catch (err) {
      throw unavailable("reading the spend", err);
    }
  }
  return {
    product: cfg.product,
    month,
    spent_usd: nanosToUsd(spent.product),
    budget_usd: productBudget === null ? null : nanosToUsd(productBudget),
    stack_spent_usd: nanosToUsd(spent.stack ?? 0),
    stack_budget_usd: stackBudget === null ? null : nanosToUsd(stackBudget),
    resets_at: resetsAt(now),
  };
}
