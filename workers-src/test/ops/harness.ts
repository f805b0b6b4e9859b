// Shared by test/ops/<pattern>.test.ts: the ops each event of a pattern
// costs, measured in workerd: every binding wrapped and counted
// (test/ops.ts), each event run for real, and the counts (every op, zeros
// included) must equal OPS_PER_EVENT, the table the Go cost model prices
// (internal/contract/ops.go). Each pattern's project runs its own file.
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import { Metered } from "../ops";

const meters: Metered[] = [];
/** A Metered env; its caches wrapper is undone by restoreMeters (each file's afterEach). */
export function meter(overrides: ConstructorParameters<typeof Metered>[0] = {}): Metered {
  const m = new Metered(overrides);
  meters.push(m);
  return m;
}
/** Undoes the caches wrappers of the meters made since the last call. */
export function restoreMeters(): void {
  for (const m of meters.splice(0).reverse()) m.restore();
}

export async function record(id: string): Promise<Record<string, any> | null> {
  const o = await env.OUTPUTS.get(`jobs/${id}.json`);
  return o ? ((await o.json()) as Record<string, any>) : null;
}

// ---------------------------------------------------------------------------
// The spend guard's events (a budgeted product), on top of each pattern's
// events: measured in the steady state (the product's spend row for the month
// exists: the month's first check reads no row). A product budget alone; with
// a stack budget the check and the record read one row per product with spend.

/** Overrides for a budgeted product (the guard on), sharing `product` across meters. */
export const budgeted = (product: string, over: Record<string, unknown> = {}) => ({
  PRODUCT: product,
  MONTHLY_BUDGET_USD: "1",
  STACK_BUDGET_USD: "",
  BUDGET_ALERT_WEBHOOK: "",
  ...over,
});
export const freshProduct = () => `p-${crypto.randomUUID().slice(0, 8)}`;
/**
 * A fresh budgeted product in the steady state: `spend` pays one model call
 * of it on a meter whose counts are dropped, so the month's spend row exists.
 */
export async function steadyProduct(spend: (warm: Metered) => Promise<unknown>): Promise<string> {
  const product = freshProduct();
  await spend(meter(budgeted(product)));
  return product;
}
export async function webhookPosts(key: string): Promise<number> {
  const res = await fetch(`${inject("webhookUrl")}/hooks/${key}`);
  return ((await res.json()) as { posts: unknown[] }).posts.length;
}
