// The payers of the jobs one poll run settles (apply.ts): a keyed customer's
// monthly budget as its key's record says now, so that the settled spend on
// its customer_spend row sets off the customer's budget alerts through the
// product's webhook, once per threshold a month, as on the realtime paths.
//
// Cost, KV reads per apply pass (one poll run): at most ONE per customer with
// a job settled in it, whatever the number of its jobs and batches (fewer
// when the isolate's 60 s key cache still holds the record, lib/keys.ts). Its
// jobs' spend goes in one record per batch (settle.ts), and the records of
// its batches in one run share the one read (the promise is kept).
// The read goes by the key hash of the customer's first job: budgets belong
// to the customer (`zerocost keys rotate` keeps them, `keys create` rewrites
// every live key's), so one key's record answers for all of them.
//
// A key revoked or deleted since its job was sent: the spend is still
// recorded on the customer's row (the work was done and paid), with no
// budget, so no alert from that record. So is a customer whose key could not
// be read (KV failed). A threshold missed that way is not lost: the
// customer's next record with a budget finds it reached and unclaimed and
// sends it (lib/spend/alerts.ts).
import type { BaseEnv } from "../../env";
import type { Payer } from "../types";
import type { BatchBudget } from "./guard";
import type { BatchJob } from "./record";

export class Payers {
  private readonly byCustomer = new Map<string, Promise<Payer | undefined>>();

  constructor(
    private readonly env: BaseEnv,
    private readonly budget: BatchBudget,
  ) {}

  /** Customers resolved so far: the most KV reads this pass made for them. */
  get reads(): number {
    return this.byCustomer.size;
  }

  /** The job's payer (undefined: no customer). Never rejects. */
  of(job: BatchJob): Promise<Payer | undefined> {
    const customer = job.customer ?? "";
    if (customer === "") return Promise.resolve(undefined);
    let p = this.byCustomer.get(customer);
    if (!p) {
      p = this.budget.payer(this.env, customer, job.key_hash ?? "").catch((err) => {
        console.error(`customer ${customer}: reading its key's budget failed (its spend is recorded without one):`, err);
        return { customer, budgetUsd: null };
      });
      this.byCustomer.set(customer, p);
    }
    return p;
  }
}
