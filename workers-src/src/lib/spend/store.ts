// The spend store: the stack's D1 database (the SPEND binding, absent when the
// stack has neither a budget nor a product with customer keys: then nothing in
// lib/spend/ runs), its tables, the one way to run statements on it, and the
// months its rows are kept by.
//
// Tables (created here, CREATE TABLE IF NOT EXISTS, once per isolate, in the
// same round trip as the isolate's first query):
//
//   spend(month, product, nanos, calls)            WITHOUT ROWID, PK (month, product)
//   budget_alerts(month, scope, threshold, at)     WITHOUT ROWID, PK (month, scope, threshold)
//   parked_jobs(product, job_id, input, error, at) WITHOUT ROWID, PK (product, job_id)
//   customer_spend(month, product, customer, nanos, calls, input_tokens, output_tokens)
//                                                  WITHOUT ROWID, PK (month, product, customer)
//   parked_payers(product, job_id, customer, key_hash) WITHOUT ROWID, PK (product, job_id)
//
// customer_spend is read by `zerocost cost report --by customer`: its schema
// is that reader's contract, change it only with it. parked_payers names the
// customer of a parked job (and the hash of the key that sent it, to read the
// customer's budget when the job is resumed): lib/spend/parked.ts.
//
// Spend is in integer nano-USD (lib/prices.ts), so totals are exact.
import type { BaseEnv, SpendEnv } from "../../env";

export const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS spend (month TEXT NOT NULL, product TEXT NOT NULL, nanos INTEGER NOT NULL, calls INTEGER NOT NULL, PRIMARY KEY (month, product)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS budget_alerts (month TEXT NOT NULL, scope TEXT NOT NULL, threshold INTEGER NOT NULL, claimed_at TEXT NOT NULL, PRIMARY KEY (month, scope, threshold)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS parked_jobs (product TEXT NOT NULL, job_id TEXT NOT NULL, input TEXT NOT NULL, error TEXT NOT NULL, parked_at TEXT NOT NULL, PRIMARY KEY (product, job_id)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS customer_spend (month TEXT NOT NULL, product TEXT NOT NULL, customer TEXT NOT NULL, nanos INTEGER NOT NULL DEFAULT 0, calls INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (month, product, customer)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS parked_payers (product TEXT NOT NULL, job_id TEXT NOT NULL, customer TEXT NOT NULL, key_hash TEXT NOT NULL, PRIMARY KEY (product, job_id)) WITHOUT ROWID`,
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

/** The spend store of this Worker, or null (no budget and no customer keys in the stack). */
export function spendDb(env: BaseEnv): D1Database | null {
  return (env as BaseEnv & SpendEnv).SPEND ?? null;
}

/** A number column, 0 when absent. */
export const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** The month's spend of the product and of the stack (all products), nano-USD. */
export interface Spent {
  product: number;
  /** the product's recorded calls this month */
  calls: number;
  stack: number | null;
}

/** The query of the month's spend: the product's row and, withStack, the sum of the month's rows (one per product). */
export function spentStatement(db: D1Database, product: string, month: string, withStack: boolean): D1PreparedStatement {
  return withStack
    ? db
        .prepare(
          "SELECT COALESCE(SUM(CASE WHEN product = ?2 THEN nanos END), 0) AS product, COALESCE(SUM(CASE WHEN product = ?2 THEN calls END), 0) AS calls, " +
            "COALESCE(SUM(nanos), 0) AS stack FROM spend WHERE month = ?1",
        )
        .bind(month, product)
    : db.prepare("SELECT nanos AS product, calls FROM spend WHERE month = ?1 AND product = ?2").bind(month, product);
}

export function spentOf(r: D1Result<Record<string, unknown>>, withStack: boolean): Spent {
  const row = r.results[0] ?? {};
  return { product: num(row.product), calls: num(row.calls), stack: withStack ? num(row.stack) : null };
}

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
/** USD rounded to the micro-dollar, for messages. */
export const round = (usd: number) => Math.round(usd * 1e6) / 1e6;
