// When the jobs the product's own limiter refuses come back (async-pipeline).
// The limiter (the RATE_LIMITER binding, RATE_LIMIT_PER_MINUTE a 60 s period)
// does not say when its window ends, so a refused job waits the whole period
// (lib/ratelimit.ts). Spreading the refused jobs one by one at the product's
// rate after that wait (deferralDelay) leaves the first minute after it
// nearly empty, and each batch counted its own spread, so batches came back
// on top of each other: the pipeline reached 74% of a limit equal to the
// model's (docs/BENCHMARKS.md). Here the isolate hands the refused jobs out
// in groups of at most perMinute, due exactly one period apart: any two
// instants 60 s apart fall in different 60 s windows of the limiter, whatever
// their alignment, so each group meets a window of its own, and a group
// spread over a window boundary shares the next window only with the
// matching part of the group before it. A refused job joins the first group
// due at or after its own wait that has room.
//
// The book is per isolate (module state): deliveries in other isolates keep
// their own, and their groups may meet in one window (then the surplus is
// refused again and rebooked).
import { ModelError } from "../../lib/model";

/** The limiter's period (the binding's `period = 60` in every template). */
const PERIOD_MS = 60_000;
/**
 * How late a group may arrive and still count as on time: a job refused when
 * its group came in (after the group's due time come the queue's batch wait,
 * batchTimeoutSeconds, and the delivery's own work) books the next group, not
 * the one after. If it meets the same window, it is refused
 * and booked again.
 */
const JITTER_MS = 5_000;
/** Queues' longest delay (12 h, https://developers.cloudflare.com/queues/platform/limits/). */
const MAX_DELAY_S = 43_200;

/** The product's own limiter refused the job (not the model): its wait is booked here. */
export class LimiterRefused extends ModelError {
  override name = "LimiterRefused";
}

/** Groups of refused jobs, due `anchor + g * PERIOD_MS`, counted per group g. */
export class LimiterPacing {
  private anchor = 0;
  private counts: number[] = [];

  /** Seconds until the job may try again: the group it joins. */
  delay(waitSeconds: number, perMinute: number, now = Date.now()): number {
    const earliest = now + Math.max(1, waitSeconds) * 1000;
    if (this.anchor + this.counts.length * PERIOD_MS <= now) [this.anchor, this.counts] = [earliest, []];
    const room = Math.max(1, Math.floor(perMinute));
    let g = Math.max(0, Math.ceil((earliest - JITTER_MS - this.anchor) / PERIOD_MS));
    while ((this.counts[g] ?? 0) >= room && g * PERIOD_MS < MAX_DELAY_S * 1000) g++;
    this.counts[g] = (this.counts[g] ?? 0) + 1;
    return Math.min(MAX_DELAY_S, Math.max(1, Math.ceil((this.anchor + g * PERIOD_MS - now) / 1000)));
  }
}

/** This isolate's book. */
export const LIMITER_PACING = new LimiterPacing();
