// The spend guard: a hard monthly model budget per product (MONTHLY_BUDGET_USD)
// and for the stack (STACK_BUDGET_USD), kept in the spend store (store.ts).
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
import { NO_TICKET, type BudgetTicket, type ModelMode, type Usage } from "../types";
import { alertsFor } from "./alerts";
import { budgetVar, guardOf, type Guard } from "./config";
import { BudgetExhausted, BudgetUnavailable, unavailable } from "./errors";
import { monthOf, num, resetsAt, run, spentOf, spentStatement, type Spent } from "./store";

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
 * Before a model call: ONE query. Throws BudgetExhausted (429) when the
 * product's or the stack's spend this month, plus this isolate's calls in
 * flight at the month's average cost, has reached its budget;
 * BudgetUnavailable (503) when D1 fails or the calls cannot be priced.
 * Returns the spend read (null when there is nothing to guard).
 */
export async function checkBudget(env: BaseEnv, cfg: Config, now = Date.now()): Promise<Spent | null> {
  return (await check(env, cfg, now, false)).spent;
}

/** checkBudget, then a ticket for the call in flight: release it once the call's cost is recorded, or the call failed. */
export async function reserveBudget(env: BaseEnv, cfg: Config, now = Date.now()): Promise<BudgetTicket> {
  return (await check(env, cfg, now, true)).ticket;
}

/**
 * What a call in flight is counted at: the month's average cost per call, or
 * before the month's first recorded call its worst case (MAX_INPUT_CHARS as
 * input tokens, MAX_OUTPUT_TOKENS output tokens).
 */
function perCallEstimate(g: Guard, cfg: Config, spent: Spent): number {
  if (spent.calls > 0) return Math.ceil(spent.product / spent.calls);
  return callCostNanos(g.prices, { input_tokens: cfg.maxInputChars, output_tokens: cfg.maxOutputTokens });
}

async function check(env: BaseEnv, cfg: Config, now: number, reserve: boolean): Promise<{ spent: Spent | null; ticket: BudgetTicket }> {
  const g = guardOf(env, cfg);
  if (!g) return { spent: null, ticket: NO_TICKET };
  const month = monthOf(now);
  const withStack = g.stackBudget !== null;
  let spent: Spent;
  try {
    const [r] = await run(g.db, [spentStatement(g.db, g.product, month, withStack)]);
    spent = spentOf(r!, withStack);
  } catch (err) {
    throw unavailable("the budget check", err);
  }
  // Synchronous from here to take(): the count and the ticket cannot race.
  const pending = inFlightCount(g.product, now) * perCallEstimate(g, cfg, spent);
  exhaustedBy(g, { product: spent.product + pending, calls: spent.calls, stack: spent.stack === null ? null : spent.stack + pending }, now);
  return { spent, ticket: reserve ? take(g.product, now) : NO_TICKET };
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
export function assertPriced(env: BaseEnv, cfg: Config, model: string): void {
  const g = guardOf(env, cfg);
  if (g && g.prices.model !== model) {
    throw new BudgetUnavailable(`the spend guard has prices for ${g.prices.model}, not ${model}; model calls are refused`);
  }
}

export interface Recorded {
  cost_nanos: number;
  product_nanos: number;
  stack_nanos: number | null;
  /** alerts sent by this call: "product:50", "stack:100", ... */
  alerts: string[];
}

/**
 * After a model call: adds its cost in ONE statement (an upsert of the
 * (month, product) row, one row written, RETURNING the new totals), then
 * sends the alerts of the thresholds reached (alerts.ts). Throws when D1
 * fails twice (the caller logs it: the call was made, its cost is lost from
 * the count).
 */
export async function recordSpend(
  env: BaseEnv,
  cfg: Config,
  usage: Usage | undefined,
  mode: ModelMode = "realtime",
  now = Date.now(),
): Promise<Recorded | null> {
  const g = guardOf(env, cfg);
  if (!g) return null;
  const cost = callCostNanos(g.prices, usage, mode);
  if (cost === 0) return null;
  const month = monthOf(now);
  const withStack = g.stackBudget !== null;
  const stmt = g.db
    .prepare(
      "INSERT INTO spend (month, product, nanos, calls) VALUES (?1, ?2, ?3, 1) " +
        "ON CONFLICT (month, product) DO UPDATE SET nanos = nanos + excluded.nanos, calls = calls + 1 " +
        (withStack
          ? "RETURNING nanos AS product, (SELECT COALESCE(SUM(s.nanos), 0) FROM spend AS s WHERE s.month = ?1 AND s.product <> ?2) AS others"
          : "RETURNING nanos AS product"),
    )
    .bind(month, g.product, cost);
  let row: Record<string, unknown>;
  try {
    row = (await run(g.db, [stmt]))[0]!.results[0] ?? {};
  } catch {
    // An upsert that failed changed nothing: one more try.
    row = (await run(g.db, [stmt]))[0]!.results[0] ?? {};
  }
  const product = num(row.product);
  const stack = withStack ? product + num(row.others) : null;
  const alerts = await alertsFor(g, month, cost, product, stack, now);
  return { cost_nanos: cost, product_nanos: product, stack_nanos: stack, alerts };
}

/** The guard as the model client takes it (lib/model.ts's SpendHook). */
export const MODEL_SPEND: SpendHook = {
  assertPriced,
  reserve: (env, cfg) => reserveBudget(env, cfg),
  record: (env, cfg, usage, mode) => recordSpend(env, cfg, usage, mode),
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
