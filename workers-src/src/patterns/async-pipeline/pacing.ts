// When the jobs the product's own limiter refuses come back (async-pipeline).
// The limiter (the RATE_LIMITER binding, RATE_LIMIT_PER_MINUTE a 60 s period)
// does not say when its window ends, so a refused job waits the whole period
// (lib/ratelimit.ts). Spreading the refused jobs one by one at the product's
// rate after that wait (deferralDelay) leaves the first minute after it
// nearly empty, and each batch counted its own spread, so batches came back
// on top of each other: the pipeline reached 74% of a limit equal to the
// model's (docs/BENCHMARKS.md). Here the isolate hands the refused jobs out
// in groups of at most perMinute, due one period and a margin (JITTER_MS)
// apart: instants more than 60 s apart fall in different 60 s windows of the
// limiter, whatever their alignment, so each group meets a window of its own;
// and the model's own limit, which counts a rolling minute (the stand-in's;
// Anthropic's replenishes continuously), has let the previous group's calls
// go by the time the next group calls: a group's calls spread over the
// delivery that runs them (seconds), which groups exactly 60 s apart met
// as 429s (70% and 434 model 429s in the bench). A refused job joins the
// first group due at or after its own wait that has room.
//
// The book is per isolate (module state): deliveries in other isolates keep
// their own, and their groups may meet in one window (then the surplus is
// refused again and rebooked).
import { ModelError } from "../../lib/model";

/** The limiter's period (the binding's `period = 60` in every template). */
const PERIOD_MS = 60_000;
/**
 * How long a group takes to come in and call: after its due time come the
 * queue's batch wait (batchTimeoutSeconds, 1 s in the bench) and the
 * delivery's own work (its model calls took up to 3.8 s in the bench, a 100
 * message delivery on 2 shared cores). Groups are this much more than a period
 * apart, and a job refused when its group came in books the next group, not
 * the one after. A job that still meets a full window is refused and booked
 * again.
 */
const JITTER_MS = 5_000;
/** Queues' longest delay (12 h, https://developers.cloudflare.com/queues/platform/limits/). */
const MAX_DELAY_S = 43_200;

/** The product's own limiter refused the job (not the model): its wait is booked here. */
export class LimiterRefused extends ModelError {
  override name = "LimiterRefused";
}

/** Groups are this far apart: the period, and the margin for a group's calls to spread over its delivery. */
const GROUP_MS = PERIOD_MS + JITTER_MS;

/** Groups of refused jobs, due `anchor + g * GROUP_MS`, counted per group g. */
export class LimiterPacing {
  private anchor = 0;
  private counts: number[] = [];

  /** Seconds until the job may try again: the group it joins. */
  delay(waitSeconds: number, perMinute: number, now = Date.now()): number {
    const earliest = now + Math.max(1, waitSeconds) * 1000;
    if (this.anchor + this.counts.length * GROUP_MS <= now) [this.anchor, this.counts] = [earliest + JITTER_MS, []];
    const room = Math.max(1, Math.floor(perMinute));
    let g = Math.max(0, Math.ceil((earliest - JITTER_MS - this.anchor) / GROUP_MS));
    while ((this.counts[g] ?? 0) >= room && g * GROUP_MS < MAX_DELAY_S * 1000) g++;
    this.counts[g] = (this.counts[g] ?? 0) + 1;
    return Math.min(MAX_DELAY_S, Math.max(1, Math.ceil((this.anchor + g * GROUP_MS - now) / 1000)));
  }
}

/** This isolate's book. */
export const LIMITER_PACING = new LimiterPacing();
