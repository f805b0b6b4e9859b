// Budget alerts: when a recorded call takes a budget's spend over a threshold
// (BUDGET_ALERT_THRESHOLDS, percent), the alert is claimed in D1 (INSERT ...
// ON CONFLICT DO NOTHING, so it is sent once even if that call races a retry)
// and POSTed to BUDGET_ALERT_WEBHOOK. Spend is exact (nano-USD), so each
// threshold is crossed by exactly one record (a call's, or in batch mode the
// tally of a payer's settled calls, guard.ts recordCalls).
import { nanosToUsd } from "../prices";
import type { Guard } from "./config";
import { resetsAt, round, run } from "./store";

const WEBHOOK_TIMEOUT_MS = 5_000;
/** An isolate that lost an alert's claim tries it again after this (the winner may have failed and released it). */
const LOST_CLAIM_RETRY_MS = 10 * 60_000;

interface Reached {
  scope: string;
  threshold: number;
  budget: number;
  spent: number;
  before: number;
}

/** The spend at which threshold t% of budget is reached (nano-USD, rounded up). */
const level = (budget: number, t: number) => Math.ceil((budget * t) / 100);

// Per isolate: alerts this isolate sent (never again this month) or saw
// claimed by another call (not tried again for LOST_CLAIM_RETRY_MS).
const sent = new Set<string>();
const lost = new Map<string, number>();

/** A customer's month spend against its budget (nano-USD), for its alerts. */
export interface CustomerSpend {
  customer: string;
  budget: number;
  spent: number;
}

/**
 * After a call of `cost` took the spend to `product` (the stack's to `stack`,
 * its customer's to `customer.spent`): sends the alert of every threshold
 * reached and not known to be sent. Returns the alerts sent ("product:50",
 * "stack:100", "customer:80", ...). Never throws.
 */
export async function alertsFor(
  g: Guard,
  month: string,
  cost: number,
  product: number | null,
  stack: number | null,
  now: number,
  customer?: CustomerSpend,
): Promise<string[]> {
  if (g.webhook === "") return [];
  const reached: Reached[] = [];
  const add = (scope: string, budget: number | null, spent: number | null) => {
    if (budget === null || spent === null) return;
    for (const t of g.thresholds) {
      if (spent >= level(budget, t)) reached.push({ scope, threshold: t, budget, spent, before: spent - cost });
    }
  };
  add(`product:${g.product}`, g.productBudget, product);
  add("stack", g.stackBudget, stack);
  if (customer) add(`customer:${g.product}:${customer.customer}`, customer.budget, customer.spent);
  return reached.length ? alert(g, month, reached, now) : [];
}

/** The reached thresholds this isolate should try: not sent, and not seen claimed lately unless this call crossed the level. */
function toTry(month: string, reached: Reached[], now: number): Reached[] {
  return reached.filter((r) => {
    const key = `${month}|${r.scope}|${r.threshold}`;
    if (sent.has(key)) return false;
    const at = lost.get(key);
    // A call that crossed the level itself always tries; others only when not seen claimed lately.
    return r.before < level(r.budget, r.threshold) || at === undefined || now - at > LOST_CLAIM_RETRY_MS;
  });
}

/** Claims the alerts (one round trip); returns the claims won. Throws when D1 fails. */
async function claim(g: Guard, month: string, todo: Reached[], now: number): Promise<Reached[]> {
  const claimedAt = new Date(now).toISOString();
  const res = await run(
    g.db,
    todo.map((r) =>
      g.db
        .prepare("INSERT INTO budget_alerts (month, scope, threshold, claimed_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING RETURNING threshold")
        .bind(month, r.scope, r.threshold, claimedAt),
    ),
  );
  return todo.filter((r, i) => {
    const ok = (res[i]?.results.length ?? 0) > 0;
    if (!ok) lost.set(`${month}|${r.scope}|${r.threshold}`, now);
    return ok;
  });
}

/**
 * For each threshold reached and not known to be sent, claims the alert
 * (INSERT ... ON CONFLICT DO NOTHING on (month, scope, threshold), all in one
 * round trip); for each claim won, POSTs the webhook; a POST that fails
 * releases its claim (DELETE), so a later call that finds the threshold
 * reached tries again. Returns the alerts sent. Never throws, never logs the
 * webhook URL.
 */
async function alert(g: Guard, month: string, reached: Reached[], now: number): Promise<string[]> {
  const todo = toTry(month, reached, now);
  if (!todo.length) return [];
  let won: Reached[];
  try {
    won = await claim(g, month, todo, now);
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
        out.push(`${r.scope.split(":")[0]}:${r.threshold}`);
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

function alertText(g: Guard, month: string, r: Reached): string {
  const customer = r.scope.startsWith("customer:") ? r.scope.slice(`customer:${g.product}:`.length) : null;
  const who = r.scope === "stack" ? "The stack" : customer !== null ? `Customer ${customer} of product ${g.product}` : `Product ${g.product}`;
  const pct = Math.floor((r.spent * 100) / r.budget);
  const spent = `$${round(nanosToUsd(r.spent))} of its $${nanosToUsd(r.budget)} monthly model budget`;
  const tail =
    r.threshold >= 100
      ? `The budget is spent: ${customer !== null ? "its model calls" : "model calls"} are refused until ${resetsAt(Date.parse(`${month}-01T00:00:00Z`))}.`
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
