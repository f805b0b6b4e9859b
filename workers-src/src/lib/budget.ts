// The spend guard: a hard monthly model budget per product (MONTHLY_BUDGET_USD)
// and for the stack (STACK_BUDGET_USD), kept in the stack's D1 database (the
// SPEND binding, absent when the stack has no budget: then nothing here runs).
//
// Tables (created here, CREATE TABLE IF NOT EXISTS, once per isolate, in the
// same round trip as the isolate's first query):
//
//   spend(month, product, nanos, calls)            WITHOUT ROWID, PK (month, product)
//   budget_alerts(month, scope, threshold, at)     WITHOUT ROWID, PK (month, scope, threshold)
//   parked_jobs(product, job_id, input, error, at) WITHOUT ROWID, PK (product, job_id)
//
// A model call costs ONE query before it (the product's month spend and, with
// a stack budget, the stack's month total: a range scan of this month's rows,
// one per product) and ONE upsert after it (one row written, RETURNING the
// new total). Spend is in integer nano-USD, so totals are exact and each
// threshold is crossed by exactly one call; the alert for it is claimed with
// INSERT ... ON CONFLICT DO NOTHING, so it is sent once even if that call
// races a retry.
//
// The check and the record are separate (a reservation in D1 would cost a
// second write per call): calls already in flight when the budget runs out
// still finish and are recorded. That is the overspend bound: every call that
// passed the check before the record that reached the budget landed. Within
// one isolate the check also counts the calls in flight there at the month's
// average cost per call (before the month's first record: a call's worst
// case), at no D1 cost, which keeps a burst on one isolate near the budget.
import type { BaseEnv, JobMessage, SpendEnv } from "../env";
import type { Config } from "./config";
import { HttpError } from "./errors";
import { jobRecord, writeJob, type JobRecord } from "./jobs";
import type { ModelMode, Usage } from "./model";
import { callCostNanos, nanosToUsd, parsePrices, PricesError, usdToNanos, type ModelPrices } from "./prices";

export type BudgetScope = "product" | "stack";

/** Seconds a 503 of the guard asks the client to wait. */
export const UNAVAILABLE_RETRY_AFTER = 60;
/** Most parked jobs one resume call sends (each costs an R2 put: Workers allow 1,000 subrequests to Cloudflare services per invocation). */
export const RESUME_MAX = 500;
export const DEFAULT_THRESHOLDS = [50, 80, 100];
const WEBHOOK_TIMEOUT_MS = 5_000;
/** An isolate that lost an alert's claim tries it again after this (the winner may have failed and released it). */
const LOST_CLAIM_RETRY_MS = 10 * 60_000;

// ---------------------------------------------------------------------------
// Errors

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
  ) {
    const whose = scope === "product" ? `product ${product}'s` : "the stack's";
    super(
      429,
      "budget_exhausted",
      `${whose} monthly model budget ($${budgetUsd}) is spent ($${round(spentUsd)} this month); it resets at ${resetsAt}`,
      { "retry-after": String(secondsUntil(resetsAt, now)) },
      { resets_at: resetsAt, scope },
    );
  }
}

/** The guard cannot decide (D1 failed, the prices are missing): model calls are refused, 503. */
export class BudgetUnavailable extends HttpError {
  override name = "BudgetUnavailable";
  constructor(message: string) {
    super(503, "unavailable", message, { "retry-after": String(UNAVAILABLE_RETRY_AFTER) });
  }
}

// ---------------------------------------------------------------------------
// Months

/** "2026-12" for a time in December 2026 (UTC). */
export function monthOf(now = Date.now()): string {
  const d = new Date(now);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** 00:00 UTC on the 1st of the next month, "2027-01-01T00:00:00Z". */
export function resetsAt(now = Date.now()): string {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString().replace(".000Z", "Z");
}

export const secondsUntil = (iso: string, now = Date.now()) => Math.max(1, Math.ceil((Date.parse(iso) - now) / 1000));
const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

// ---------------------------------------------------------------------------
// Config

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

/** A budget var: "" or missing = none; otherwise a decimal >= 0 (USD). */
function budgetVar(name: string, raw: unknown): number | null {
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
  let prices: ModelPrices;
  try {
    prices = parsePrices(e.MODEL_PRICES);
  } catch (err) {
    if (!(err instanceof PricesError)) throw err;
    console.error(`spend guard: ${err.message}; model calls are refused`);
    throw new BudgetUnavailable(`the spend guard cannot price model calls (${err.message}); model calls are refused`);
  }
  return {
    db: e.SPEND,
    product: cfg.product,
    productBudget,
    stackBudget,
    thresholds: parseThresholds(e.BUDGET_ALERT_THRESHOLDS),
    prices,
    webhook: typeof e.BUDGET_ALERT_WEBHOOK === "string" ? e.BUDGET_ALERT_WEBHOOK.trim() : "",
  };
}

// ---------------------------------------------------------------------------
// D1

export const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS spend (month TEXT NOT NULL, product TEXT NOT NULL, nanos INTEGER NOT NULL, calls INTEGER NOT NULL, PRIMARY KEY (month, product)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS budget_alerts (month TEXT NOT NULL, scope TEXT NOT NULL, threshold INTEGER NOT NULL, claimed_at TEXT NOT NULL, PRIMARY KEY (month, scope, threshold)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS parked_jobs (product TEXT NOT NULL, job_id TEXT NOT NULL, input TEXT NOT NULL, error TEXT NOT NULL, parked_at TEXT NOT NULL, PRIMARY KEY (product, job_id)) WITHOUT ROWID`,
];

/** The tables exist (this isolate created or found them). One SPEND per Worker, so one flag. */
let schemaReady = false;

/**
 * Runs statements in one round trip (db.batch: one transaction), with the
 * CREATE TABLEs in front the first time this isolate uses this database (or
 * after a "no such table"). Returns the results of `stmts`.
 */
export async function run(db: D1Database, stmts: D1PreparedStatement[]): Promise<D1Result<Record<string, unknown>>[]> {
  for (let n = 0; ; n++) {
    const ready = schemaReady;
    const all = ready ? stmts : [...SCHEMA.map((s) => db.prepare(s)), ...stmts];
    try {
      const res = await (all.length === 1 ? all[0]!.all().then((r) => [r]) : db.batch<Record<string, unknown>>(all));
      schemaReady = true;
      return ready ? res : res.slice(SCHEMA.length);
    } catch (err) {
      if (n === 0 && ready && /no such table/i.test(String((err as Error)?.message))) {
        schemaReady = false;
        continue;
      }
      throw err;
    }
  }
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** The month's spend of the product and of the stack (all products), nano-USD. */
interface Spent {
  product: number;
  /** the product's recorded calls this month */
  calls: number;
  stack: number | null;
}

function spentStatement(db: D1Database, product: string, month: string, withStack: boolean): D1PreparedStatement {
  return withStack
    ? db
        .prepare(
          "SELECT COALESCE(SUM(CASE WHEN product = ?2 THEN nanos END), 0) AS product, COALESCE(SUM(CASE WHEN product = ?2 THEN calls END), 0) AS calls, " +
            "COALESCE(SUM(nanos), 0) AS stack FROM spend WHERE month = ?1",
        )
        .bind(month, product)
    : db.prepare("SELECT nanos AS product, calls FROM spend WHERE month = ?1 AND product = ?2").bind(month, product);
}

function spentOf(r: D1Result<Record<string, unknown>>, withStack: boolean): Spent {
  const row = r.results[0] ?? {};
  return { product: num(row.product), calls: num(row.calls), stack: withStack ? num(row.stack) : null };
}

function unavailable(what: string, err: unknown): BudgetUnavailable {
  console.error(`spend guard: ${what} failed (model calls are refused):`, err);
  return new BudgetUnavailable("the spend store is unavailable; model calls are refused for now");
}

// ---------------------------------------------------------------------------
// Check and record

// This isolate's guarded calls in flight (passed the check, cost not yet
// recorded), by product: ticket -> when it was taken. The check counts them at
// the month's average cost per call, so a burst of simultaneous calls in one
// isolate stops near the budget instead of all passing the same reading.
// A ticket is released once its call's record lands (or the call fails); one
// never released (a bug, a cancelled waitUntil) is forgotten after a minute.
const inFlight = new Map<string, Map<number, number>>();
let nextTicket = 1;
const IN_FLIGHT_TTL_MS = 60_000;

/** A reservation of a call in flight; release() is idempotent. */
export interface BudgetTicket {
  release(): void;
}
export const NO_TICKET: BudgetTicket = { release() {} };

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
 * (month, product) row, one row written, RETURNING the new totals), then, for
 * each alert threshold reached, claims the alert and POSTs the webhook (see
 * alert). Throws when D1 fails twice (the caller logs it: the call was made,
 * its cost is lost from the count).
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
  } catch (err) {
    // An upsert that failed changed nothing: one more try.
    row = (await run(g.db, [stmt]))[0]!.results[0] ?? {};
  }
  const product = num(row.product);
  const stack = withStack ? product + num(row.others) : null;
  const rec: Recorded = { cost_nanos: cost, product_nanos: product, stack_nanos: stack, alerts: [] };
  if (g.webhook !== "") {
    const reached: Array<{ scope: string; threshold: number; budget: number; spent: number; before: number }> = [];
    const add = (scope: string, budget: number | null, spent: number | null) => {
      if (budget === null || spent === null) return;
      for (const t of g.thresholds) {
        if (spent >= level(budget, t)) reached.push({ scope, threshold: t, budget, spent, before: spent - cost });
      }
    };
    add(`product:${g.product}`, g.productBudget, product);
    add("stack", g.stackBudget, stack);
    if (reached.length) rec.alerts = await alert(g, month, reached, now);
  }
  return rec;
}

/** The spend at which threshold t% of budget is reached (nano-USD, rounded up). */
const level = (budget: number, t: number) => Math.ceil((budget * t) / 100);

// Per isolate: alerts this isolate sent (never again this month) or saw
// claimed by another call (not tried again for LOST_CLAIM_RETRY_MS).
const sent = new Set<string>();
const lost = new Map<string, number>();

/**
 * For each threshold reached and not known to be sent, claims the alert
 * (INSERT ... ON CONFLICT DO NOTHING on (month, scope, threshold), all in one
 * round trip); for each claim won, POSTs the webhook; a POST that fails
 * releases its claim (DELETE), so a later call that finds the threshold
 * reached tries again. Returns the alerts sent. Never throws, never logs the
 * webhook URL.
 */
async function alert(
  g: Guard,
  month: string,
  reached: Array<{ scope: string; threshold: number; budget: number; spent: number; before: number }>,
  now: number,
): Promise<string[]> {
  const todo = reached.filter((r) => {
    const key = `${month}|${r.scope}|${r.threshold}`;
    if (sent.has(key)) return false;
    const at = lost.get(key);
    // A call that crossed the level itself always tries; others only when not seen claimed lately.
    return r.before < level(r.budget, r.threshold) || at === undefined || now - at > LOST_CLAIM_RETRY_MS;
  });
  if (!todo.length) return [];
  const claimedAt = new Date(now).toISOString();
  let won: typeof todo;
  try {
    const res = await run(
      g.db,
      todo.map((r) =>
        g.db
          .prepare(
            "INSERT INTO budget_alerts (month, scope, threshold, claimed_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING RETURNING threshold",
          )
          .bind(month, r.scope, r.threshold, claimedAt),
      ),
    );
    won = todo.filter((r, i) => {
      const ok = (res[i]?.results.length ?? 0) > 0;
      if (!ok) lost.set(`${month}|${r.scope}|${r.threshold}`, now);
      return ok;
    });
  } catch (err) {
    console.error("spend guard: could not claim budget alerts (a later call tries again):", err);
    return [];
  }
  const out: string[] = [];
  await Promise.all(
    won.map(async (r) => {
      const key = `${month}|${r.scope}|${r.threshold}`;
      const ok = await postWebhook(g.webhook, alertText(g, month, r));
      if (ok) {
        sent.add(key);
        lost.delete(key);
        out.push(`${r.scope === "stack" ? "stack" : "product"}:${r.threshold}`);
        return;
      }
      try {
        await run(g.db, [
          g.db.prepare("DELETE FROM budget_alerts WHERE month = ?1 AND scope = ?2 AND threshold = ?3").bind(month, r.scope, r.threshold),
        ]);
      } catch (err) {
        console.error(`spend guard: could not release the ${r.scope} ${r.threshold}% alert claim (it will not be retried):`, err);
      }
    }),
  );
  return out.sort();
}

function alertText(g: Guard, month: string, r: { scope: string; threshold: number; budget: number; spent: number }): string {
  const who = r.scope === "stack" ? "The stack" : `Product ${g.product}`;
  const pct = Math.floor((r.spent * 100) / r.budget);
  const spent = `$${round(nanosToUsd(r.spent))} of its $${nanosToUsd(r.budget)} monthly model budget`;
  const tail =
    r.threshold >= 100
      ? `The budget is spent: model calls are refused until ${resetsAt(Date.parse(`${month}-01T00:00:00Z`))}.`
      : `The budget resets at ${resetsAt(Date.parse(`${month}-01T00:00:00Z`))}.`;
  return `zerocost budget alert (${r.threshold}%): ${who} has spent ${spent} in ${month} (${pct}%). ${tail}`;
}

/**
 * POSTs {"text","content"} (Slack's and Discord's incoming webhooks each read
 * theirs and ignore the other). True on a 2xx. Logs failures without the URL.
 */
async function postWebhook(url: string, text: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text, content: text }),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await res.body?.cancel().catch(() => {});
    if (res.ok) return true;
    console.error(`spend guard: the budget alert webhook answered ${res.status} (the alert will be retried)`);
  } catch (err) {
    console.error(`spend guard: the budget alert webhook failed (the alert will be retried): ${redact(err, url)}`);
  }
  return false;
}

/** An error's name and message with the URL, its origin and host taken out. */
function redact(err: unknown, url: string): string {
  let msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const parts = [url];
  try {
    const u = new URL(url);
    parts.push(u.origin, u.host, u.pathname);
  } catch {
    // not a URL: the whole string is redacted
  }
  for (const p of parts) if (p && p !== "/") msg = msg.split(p).join("<webhook>");
  return msg.slice(0, 300);
}

// ---------------------------------------------------------------------------
// Status (GET /admin/budget)

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

// ---------------------------------------------------------------------------
// Parked jobs (async-pipeline)

export interface ParkedJob {
  job_id: string;
  input: string;
  /** why it was parked (the BudgetExhausted message) */
  error: string;
}

function spendDb(env: BaseEnv): D1Database | null {
  return (env as BaseEnv & SpendEnv).SPEND ?? null;
}

/**
 * Keeps a job whose budget is spent: its input in parked_jobs (one row; a
 * job parked again keeps its first row) and its R2 record set to
 * budget_exhausted, so a poll shows it. Throws when either write fails (the
 * caller retries the message: nothing is lost).
 */
export async function parkJob(env: BaseEnv, cfg: Config, r2: R2Bucket, job: ParkedJob, prev: JobRecord | null, attempts?: number): Promise<void> {
  const db = spendDb(env);
  if (!db) throw new BudgetUnavailable("no spend store to park the job in");
  await run(db, [
    db
      .prepare(
        "INSERT INTO parked_jobs (product, job_id, input, error, parked_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product, job_id) DO NOTHING",
      )
      .bind(cfg.product, job.job_id, job.input, job.error, new Date().toISOString()),
  ]);
  const patch: Parameters<typeof jobRecord>[1] = { status: "budget_exhausted", error: job.error };
  if (attempts !== undefined) patch.attempts = attempts;
  await writeJob(r2, jobRecord(job.job_id, patch, prev));
}

export interface ParkedView {
  job_id: string;
  status: "budget_exhausted";
  parked_at: string;
  error: string;
  input_chars: number;
}

/** A page of the product's parked jobs, by job id; cursor: the last id of the page, null at the end. */
export async function listParked(
  env: BaseEnv,
  cfg: Config,
  limit: number,
  cursor: string | null,
): Promise<{ jobs: ParkedView[]; cursor: string | null }> {
  const db = spendDb(env);
  if (!db) return { jobs: [], cursor: null };
  let res: D1Result<Record<string, unknown>>;
  try {
    [res] = (await run(db, [
      db
        .prepare(
          "SELECT job_id, parked_at, error, length(input) AS input_chars FROM parked_jobs WHERE product = ?1 AND job_id > ?2 ORDER BY job_id LIMIT ?3",
        )
        .bind(cfg.product, cursor ?? "", limit + 1),
    ])) as [D1Result<Record<string, unknown>>];
  } catch (err) {
    throw unavailable("listing parked jobs", err);
  }
  const rows = res.results;
  const page = rows.slice(0, limit).map((r) => ({
    job_id: String(r.job_id),
    status: "budget_exhausted" as const,
    parked_at: String(r.parked_at),
    error: String(r.error),
    input_chars: num(r.input_chars),
  }));
  return { jobs: page, cursor: rows.length > limit ? page[page.length - 1]!.job_id : null };
}

// Queues: at most 100 messages and 256 KB per sendBatch.
const SEND_MAX_MESSAGES = 100;
const SEND_MAX_BYTES = 200_000;
/** D1 allows 100 bound parameters per statement. */
const DELETE_CHUNK = 90;

async function sendAll(queue: Queue<JobMessage>, messages: JobMessage[]): Promise<void> {
  const enc = new TextEncoder();
  let chunk: MessageSendRequest<JobMessage>[] = [];
  let bytes = 0;
  for (const body of messages) {
    const size = enc.encode(JSON.stringify(body)).byteLength + 100;
    if (chunk.length === SEND_MAX_MESSAGES || (chunk.length > 0 && bytes + size > SEND_MAX_BYTES)) {
      await queue.sendBatch(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push({ body, contentType: "json" });
    bytes += size;
  }
  if (chunk.length) await queue.sendBatch(chunk);
}

/**
 * Re-queues up to `limit` (at most RESUME_MAX) of the product's parked jobs,
 * oldest id first: refuses with BudgetExhausted while the budget is still
 * spent; sends them (each message carries resumed_at), sets their records
 * back to queued, then deletes their parked rows. A failure part-way leaves
 * the rows (a job may then run twice; a job already done is not paid for
 * again: the consumer acks a redelivery of a done job). Returns how many were
 * resumed and how many stay parked.
 */
export async function resumeParked(
  env: BaseEnv,
  cfg: Config,
  queue: Queue<JobMessage>,
  limit: number = RESUME_MAX,
  r2?: R2Bucket,
): Promise<{ resumed: number; remaining: number }> {
  const db = spendDb(env);
  if (!db) return { resumed: 0, remaining: 0 };
  await checkBudget(env, cfg);
  const n = Math.max(1, Math.min(RESUME_MAX, Math.floor(limit)));
  let rows: Array<{ job_id: string; input: string }>;
  try {
    const [res] = await run(db, [
      db.prepare("SELECT job_id, input FROM parked_jobs WHERE product = ?1 ORDER BY job_id LIMIT ?2").bind(cfg.product, n),
    ]);
    rows = res!.results.map((r) => ({ job_id: String(r.job_id), input: String(r.input) }));
  } catch (err) {
    throw unavailable("reading parked jobs", err);
  }
  if (rows.length) {
    // Records first (queued), then the messages: a consumer that finishes a
    // job is never overwritten by its queued record. One put per job, no read.
    const bucket = r2 ?? (env as BaseEnv & { OUTPUTS: R2Bucket }).OUTPUTS;
    for (let i = 0; i < rows.length; i += 50) {
      await Promise.all(
        rows.slice(i, i + 50).map((r) =>
          writeJob(bucket, jobRecord(r.job_id, { status: "queued" })).catch((err) => {
            console.error(`resume: job ${r.job_id}: its queued record could not be written:`, err);
            throw new HttpError(503, "unavailable", "job records cannot be written right now; retry later", { "retry-after": "30" });
          }),
        ),
      );
    }
    const resumedAt = Date.now();
    try {
      await sendAll(queue, rows.map((r) => ({ job_id: r.job_id, input: r.input, resumed_at: resumedAt })));
    } catch (err) {
      console.error("resume: JOB_QUEUE send failed:", err);
      throw new HttpError(503, "unavailable", "the job queue is unavailable; the jobs stay parked (some may run)", { "retry-after": "5" });
    }
    const deletes: D1PreparedStatement[] = [];
    for (let i = 0; i < rows.length; i += DELETE_CHUNK) {
      const ids = rows.slice(i, i + DELETE_CHUNK).map((r) => r.job_id);
      deletes.push(
        db
          .prepare(`DELETE FROM parked_jobs WHERE product = ?1 AND job_id IN (${ids.map((_, k) => `?${k + 2}`).join(", ")})`)
          .bind(cfg.product, ...ids),
      );
    }
    try {
      await run(db, deletes);
    } catch (err) {
      throw unavailable("deleting resumed jobs' parked rows (they were queued; a later resume may queue them again)", err);
    }
  }
  let remaining = 0;
  try {
    const [res] = await run(db, [db.prepare("SELECT COUNT(*) AS n FROM parked_jobs WHERE product = ?1").bind(cfg.product)]);
    remaining = num(res!.results[0]?.n);
  } catch (err) {
    console.error("resume: counting the parked jobs left failed:", err);
  }
  return { resumed: rows.length, remaining };
}
