// The spend guard's part in batch mode (lib/spend/): one budget query before
// a create (not per job), one spend record per payer (customer, or none) of
// an ended batch's succeeded results, their tally in one upsert (lib/spend/
// guard.ts recordCalls), on the payer its customer's key names now
// (payers.ts reads it once per customer per poll run). A bundle without the spend guard uses NO_GUARD; tests pass
// their own.
import type { BaseEnv } from "../../env";
import "../../features";
import type { Config } from "../config";
import type { JobRecord } from "../jobs";
import { BudgetExhausted } from "../spend/errors";
import { assertPriced, checkBudget, recordCalls } from "../spend/guard";
import { parkJobs } from "../spend/parked";
import { payerByKey } from "../keys";
import { payerFor, type Payer, type Usage } from "../types";

export interface BatchBudget {
  /** Throws when the product's budget for this month is spent, or the customer's (or the guard cannot tell). */
  check(env: BaseEnv, cfg: Config, models: string[], who?: { customer: string; key_hash: string }): Promise<void>;
  /** Whether check's error means the budget is spent (anything else is an outage: the messages are retried). */
  exhausted(err: unknown): boolean;
  /** Parks the jobs (budget_exhausted, inputs kept) instead of submitting them. */
  park(env: BaseEnv, cfg: Config, jobs: Array<{ job_id: string; input: string; prev: JobRecord | null; error: string; customer?: string; key_hash?: string }>): Promise<void>;
  /** Adds the cost of succeeded batch requests of one payer, at the batch price, in one record (to the payer's row too; a payer with a budget gets its alerts). */
  recordSpend(env: BaseEnv, cfg: Config, usages: ReadonlyArray<Usage | undefined>, payer?: Payer): Promise<void>;
  /**
   * The payer of a settled job of `customer` sent with the key of hash
   * `keyHash`: its budget as the key's record says now (one KV read unless
   * the isolate's key cache has it); a revoked or deleted key gives no
   * budget. Throws when KV fails.
   */
  payer(env: BaseEnv, customer: string, keyHash: string): Promise<Payer | undefined>;
}

/** The customer's payer as its key's record says now (`live`: a revoked key gives no budget). */
const payerNow = async (env: BaseEnv, customer: string, keyHash: string, live: boolean): Promise<Payer | undefined> =>
  __ZEROCOST_KEYS__ ? await payerByKey(env, customer, keyHash, Date.now(), live) : payerFor(customer);

export const SPEND_GUARD: BatchBudget = {
  check: async (env, cfg, models, who) => {
    // The customer's budget as its key's record says now (a raise applies to a resumed job).
    const payer = who ? await payerNow(env, who.customer, who.key_hash, false) : undefined;
    for (const m of new Set(models)) assertPriced(env, cfg, m, payer);
    await checkBudget(env, cfg, Date.now(), payer);
  },
  exhausted: (err) => err instanceof BudgetExhausted,
  park: async (env, cfg, jobs) => {
    // One D1 round trip for the delivery's jobs (parked.ts parkJobs).
    const parked = jobs.map((j) => ({ job: { job_id: j.job_id, input: j.input, error: j.error, customer: j.customer, key_hash: j.key_hash }, prev: j.prev }));
    await parkJobs(env, cfg, env.OUTPUTS, parked);
  },
  recordSpend: async (env, cfg, usages, payer) => void (await recordCalls(env, cfg, usages, "batch", Date.now(), payer)),
  payer: (env, customer, keyHash) => payerNow(env, customer, keyHash, true),
};

/** A bundle without the spend guard (no budget in the stack): nothing to check or record. */
const NO_GUARD: BatchBudget = {
  check: async () => {},
  exhausted: () => false,
  park: async () => {},
  recordSpend: async () => {},
  payer: async (_env, customer) => payerFor(customer),
};

export interface BatchOptions {
  budget?: BatchBudget;
}

/** The guard of a call: the options', else the bundle's. */
export const budgetOf = (opts: BatchOptions): BatchBudget => opts.budget ?? (__ZEROCOST_SPEND_GUARD__ ? SPEND_GUARD : NO_GUARD);
