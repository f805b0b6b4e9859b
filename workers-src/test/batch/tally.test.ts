// Batch mode records an ended batch's spend per payer, not per job
// (lib/batch/settle.ts): lib/spend/guard.ts recordCalls adds the tally of a
// payer's calls in one record. The same calls recorded both ways, one record
// per call (recordSpend) in one product and one tally (recordCalls) in
// another, leave the same rows (spend: nanos, calls; customer_spend: nanos,
// calls, input_tokens, output_tokens) and send the same alerts, each once.
// The prices are odd on purpose (a call's cost is rounded up to the nano-USD
// alone), and some calls cost nothing (the product's row does not count
// them, the customer's does).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/lib/config";
import { callCostNanos, parsePrices } from "../../src/lib/prices";
import { recordCalls, recordSpend } from "../../src/lib/spend/guard";
import { monthOf } from "../../src/lib/spend/store";
import type { Usage } from "../../src/lib/types";
import { hookPosts, hooksUrl } from "../budget/harness";
import { testEnv, type TestEnv } from "../helpers";

const ODD_PRICES = '{"model":"claude-haiku-4-5","prices":"2026-11","input":0.333,"output":1.777,"cache_read":0.0333,"cache_write":0.4167,"batch_discount":0.5}';

/** 40 calls of varied usage: odd token counts, cache reads and writes, and calls that cost nothing. */
const USAGES: Array<Usage | undefined> = Array.from({ length: 40 }, (_, i) =>
  i % 13 === 5
    ? undefined
    : i % 11 === 3
      ? { input_tokens: 0, output_tokens: 0 }
      : { input_tokens: 7 * i + 3, output_tokens: 5 * i + 1, cache_read_input_tokens: i % 3 ? 17 * i : null, cache_creation_input_tokens: i % 4 ? 0 : 9 * i + 1 },
);

const prices = parsePrices(ODD_PRICES);
const costs = USAGES.map((u) => callCostNanos(prices, u, "batch"));
const TOTAL = costs.reduce((s, c) => s + c, 0);

/** A product alerting at 50, 80 and 100% of a budget the calls cross (product and customer alike). */
function alerting(): { e: TestEnv; hook: string } {
  const hook = `t${crypto.randomUUID().slice(0, 8)}`;
  const budget = ((TOTAL * 1.1) / 1e9).toFixed(9); // the calls end at ~91%
  const e = testEnv({
    MODEL_PRICES: ODD_PRICES,
    MONTHLY_BUDGET_USD: budget,
    STACK_BUDGET_USD: "",
    BUDGET_ALERT_THRESHOLDS: "50,80,100",
    BUDGET_ALERT_WEBHOOK: hooksUrl(hook),
  });
  return { e, hook };
}

async function rows(product: string, customer: string) {
  const month = monthOf();
  const p = await env.SPEND!.prepare("SELECT nanos, calls FROM spend WHERE month = ?1 AND product = ?2").bind(month, product).first();
  const c = await env.SPEND!.prepare("SELECT nanos, calls, input_tokens, output_tokens FROM customer_spend WHERE month = ?1 AND product = ?2 AND customer = ?3")
    .bind(month, product, customer)
    .first();
  return { product: p, customer: c };
}

/** Whom and which threshold the webhook's alerts name, the product's name taken out (the spend they state is the record's: the tally's total). */
const alertHeads = async (hook: string, product: string) =>
  (await hookPosts(hook)).map((p) => p.body.text.split(" has spent ")[0]!.split(product).join("<product>")).sort();

describe("batch mode: one spend record per payer (recordCalls)", () => {
  it("leaves the product's and the customer's rows exactly as one record per call, and sends the same alerts once each", async () => {
    // The calls differ in cost, some round, some cost nothing: a meaningful comparison.
    expect(new Set(costs).size).toBeGreaterThan(20);
    expect(costs.filter((c) => c === 0).length).toBeGreaterThanOrEqual(2);
    // Priced as one call, the summed usage would cost something else: each call is priced alone.
    const sum = (f: keyof Usage) => USAGES.reduce((s, u) => s + (u?.[f] ?? 0), 0);
    const summed = { input_tokens: sum("input_tokens"), output_tokens: sum("output_tokens"), cache_read_input_tokens: sum("cache_read_input_tokens"), cache_creation_input_tokens: sum("cache_creation_input_tokens") };
    expect(callCostNanos(prices, summed, "batch")).not.toBe(TOTAL);

    const each = alerting();
    const tallied = alerting();
    const budgetUsd = Number(each.e.MONTHLY_BUDGET_USD);
    const payer = { customer: "acme", budgetUsd };
    const now = Date.now();
    const perCall: string[] = [];
    for (const u of USAGES) perCall.push(...((await recordSpend(each.e, readConfig(each.e), u, "batch", now, payer))?.alerts ?? []));
    const one = await recordCalls(tallied.e, readConfig(tallied.e), USAGES, "batch", now, payer);

    const a = await rows(each.e.PRODUCT, "acme");
    const b = await rows(tallied.e.PRODUCT, "acme");
    const paid = costs.filter((c) => c > 0).length;
    expect(a.product).toEqual({ nanos: TOTAL, calls: paid });
    expect(a.customer).toEqual({
      nanos: TOTAL,
      calls: USAGES.length,
      input_tokens: USAGES.reduce((s, u) => s + (u?.input_tokens ?? 0), 0),
      output_tokens: USAGES.reduce((s, u) => s + (u?.output_tokens ?? 0), 0),
    });
    expect(b).toEqual(a);
    expect(one).toMatchObject({ cost_nanos: TOTAL, product_nanos: TOTAL, customer_nanos: TOTAL });

    // Both cross 50 and 80% of the product's and of the customer's budget: one alert each, the same ones.
    const expected = ["customer:50", "customer:80", "product:50", "product:80"];
    expect(perCall.sort()).toEqual(expected);
    expect(one!.alerts).toEqual(expected);
    expect(await alertHeads(tallied.hook, tallied.e.PRODUCT)).toEqual(await alertHeads(each.hook, each.e.PRODUCT));
    expect(await hookPosts(tallied.hook)).toHaveLength(4);
    expect(await hookPosts(each.hook)).toHaveLength(4);

    // A later tally that crosses 100% sends only that threshold's alerts.
    const more = await recordCalls(tallied.e, readConfig(tallied.e), USAGES, "batch", now, payer);
    expect(more!.alerts).toEqual(["customer:100", "product:100"]);
    expect(await hookPosts(tallied.hook)).toHaveLength(6);
  });

  it("no calls: no record; calls that all cost nothing: the customer's row counts them, the product's row is not written", async () => {
    const e = testEnv({ MODEL_PRICES: ODD_PRICES, MONTHLY_BUDGET_USD: "1", STACK_BUDGET_USD: "", BUDGET_ALERT_WEBHOOK: "" });
    const cfg = readConfig(e);
    const payer = { customer: "zero", budgetUsd: null };
    expect(await recordCalls(e, cfg, [], "batch", Date.now(), payer)).toBeNull();
    await recordCalls(e, cfg, [undefined, { input_tokens: 0, output_tokens: 0 }], "batch", Date.now(), payer);
    expect(await rows(e.PRODUCT, "zero")).toEqual({ product: null, customer: { nanos: 0, calls: 2, input_tokens: 0, output_tokens: 0 } });
  });
});
