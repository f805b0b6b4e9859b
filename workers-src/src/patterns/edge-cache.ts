// Edge cache: POST /ask answers a question asked before (the same model
// request, lib/cachekey.ts, built from the input lib/normalize.ts cleaned)
// from the Cache API of this location (x-cache: HIT, x-cache-store: edge),
// else from R2 (answers/<hex>.json, stored with its time; x-cache: HIT,
// x-cache-store: r2; the answer is then kept in the Cache API
// for the rest of its CACHE_TTL_SECONDS), else calls the model (x-cache: MISS)
// and stores the answer in R2 and the Cache API after answering. Failures are
// not cached. The Cache API is free and per location (and does nothing on
// workers.dev hostnames, where every hit comes from R2).
//
// Concurrent identical misses in one isolate share one model call: the first
// (the leader) takes the rate limiter and the budget check and calls the model;
// the others await its answer (x-cache: MISS, x-cache-shared: 1) and never
// reach the limiter. A shared call that fails fails them all, except a
// refusal by the limiter, after which each tries on its own. Isolates share
// nothing: another isolate or location makes its own call, and only the
// answer stored in R2 stops the next miss. Coalescing across isolates would
// take a Durable Object per key (a request and a billed duration per miss)
// or a claim in R2 (a Class A write per miss and a poll for the answer).
//
// Every answer served writes one MODEL_USAGE data point with the caller's
// customer: a miss's model call its usage (lib/model.ts), a hit or a shared
// miss one of mode "cache_hit" with no tokens, so the requests per customer
// (cost report --by customer) count the answers a cache served too.
//
// When an op fails as Cloudflare fails one whose daily limit ran out, the
// question is still answered: a failing lookup is a miss, a failing store is
// logged and skipped.
import type { EdgeCacheEnv } from "../env";
import { buildRequest, checkHooks, shapeResult, type Hooks } from "../hooks";
import { logDetail } from "../lib/anthropic";
import { createFetch, createScheduled } from "../lib/app";
import { cacheKey } from "../lib/cachekey";
import { readConfig, type Config } from "../lib/config";
import { doorFor, passDoor } from "../lib/door";
import { HttpError, json } from "../lib/errors";
import { readJson, writeJson } from "../lib/jobs";
import { customerOf, payerOf } from "../lib/keys";
import { callModel, ModelError, recordHit } from "../lib/model";
import { MODEL_SPEND } from "../lib/spend/guard";
import "../features";
import { enforceRateLimit } from "../lib/ratelimit";
import { readInput } from "../lib/validate";

const PATTERN = "edge-cache";
const MODEL_ATTEMPTS = 3;
/**
 * A miss waits for the model while the client stays connected: an HTTP
 * request has no wall-time limit of its own on Workers ("no limit for
 * duration" while the client is connected, developers.cloudflare.com/workers/platform/limits/;
 * a client that disconnects cancels the work). So the only bound is the
 * product's: MODEL_ATTEMPTS attempts of MODEL_TIMEOUT_MS each and the
 * backoff between them (lib/model.ts: at most 8 s a wait).
 */
const modelDeadlineMs = (cfg: Config) => MODEL_ATTEMPTS * cfg.modelTimeoutMs + (MODEL_ATTEMPTS - 1) * 8_000;

/** What answers/<hex>.json holds. */
export interface StoredAnswer {
  answer: unknown;
  /** when it was stored (ISO 8601): fresh for CACHE_TTL_SECONDS from then */
  stored_at: string;
}

export const answerKey = (key: string) => `answers/${key.slice(3)}.json`; // ai:<hex> -> answers/<hex>.json

/**
 * The Cache API entry of a key: a synthetic https URL (never fetched). The
 * product is part of it because caches.default is shared by every Worker on
 * a zone.
 */
export const edgeUrl = (product: string, key: string) =>
  `https://zerocost.cache/${encodeURIComponent(product)}/${key.slice(3)}`;

function edgeResponse(answer: unknown, maxAgeSeconds: number): Response {
  return new Response(JSON.stringify({ answer }), {
    headers: { "content-type": "application/json", "cache-control": `public, max-age=${Math.max(1, Math.floor(maxAgeSeconds))}` },
  });
}

async function fromEdge(url: string): Promise<{ answer: unknown } | null> {
  try {
    const res = await caches.default.match(url);
    if (!res) return null;
    const v = (await res.json()) as { answer?: unknown };
    return typeof v === "object" && v !== null && "answer" in v ? { answer: v.answer } : null;
  } catch (err) {
    console.warn("Cache API lookup failed (treated as a miss):", err);
    return null;
  }
}

/** A fresh answer from R2 and the seconds it stays fresh, or null. */
async function fromStore(env: EdgeCacheEnv, cfg: Config, key: string): Promise<{ answer: unknown; ttl: number } | null> {
  let v: StoredAnswer | null;
  try {
    v = await readJson<StoredAnswer>(env.OUTPUTS, answerKey(key));
  } catch (err) {
    console.warn("R2 lookup failed (treated as a miss):", err);
    return null;
  }
  if (typeof v !== "object" || v === null || !("answer" in v)) return null;
  const stored = Date.parse(v.stored_at);
  if (Number.isNaN(stored)) return null;
  const ttl = cfg.cacheTtlSeconds - (Date.now() - stored) / 1000;
  return ttl >= 1 ? { answer: v.answer, ttl } : null;
}

async function toEdge(url: string, answer: unknown, ttl: number): Promise<void> {
  try {
    await caches.default.put(url, edgeResponse(answer, ttl));
  } catch (err) {
    console.warn("Cache API store failed (skipped):", err);
  }
}

async function store(env: EdgeCacheEnv, cfg: Config, key: string, url: string, answer: unknown): Promise<void> {
  try {
    await writeJson(env.OUTPUTS, answerKey(key), { answer, stored_at: new Date().toISOString() } satisfies StoredAnswer);
  } catch (err) {
    console.warn("R2 store failed (skipped; the answer was served):", err);
  }
  await toEdge(url, answer, cfg.cacheTtlSeconds);
}

/** The misses this isolate is answering, by Cache API URL (product and key). */
const inflight = new Map<string, Promise<unknown>>();

/** How many misses are being answered in this isolate (tests). */
export const inflightMisses = () => inflight.size;

function refusedByLimiter(err: unknown): boolean {
  return err instanceof HttpError && err.status === 429 && err.code === "rate_limited";
}

/**
 * Answers a miss with one model call per URL at a time: returns the answer
 * and whether it was another request's call.
 */
async function coalesce(url: string, call: () => Promise<unknown>): Promise<{ answer: unknown; shared: boolean }> {
  const pending = inflight.get(url);
  if (pending) {
    try {
      return { answer: await pending, shared: true };
    } catch (err) {
      if (!refusedByLimiter(err)) throw err;
    }
    return coalesce(url, call); // the leader was refused: try on our own
  }
  const mine = call();
  inflight.set(url, mine);
  try {
    return { answer: await mine, shared: false };
  } finally {
    if (inflight.get(url) === mine) inflight.delete(url);
  }
}

/**
 * A model failure as the caller hears it: zerocost's facts (the API's
 * status, the attempts, the wait it asked for) and a request id that finds
 * the log line with the API's own words, which the caller never sees.
 */
function upstreamError(err: ModelError): HttpError {
  const requestId = crypto.randomUUID();
  logDetail(`upstream_error ${requestId}`, err);
  const headers: Record<string, string> = { "x-request-id": requestId };
  const extra: Record<string, unknown> = { request_id: requestId, upstream_status: err.status, attempts: err.attempts };
  if (err.retryAfter !== undefined) {
    headers["retry-after"] = String(Math.ceil(err.retryAfter));
    extra.retry_after = Math.ceil(err.retryAfter);
  }
  const tries = err.attempts === 1 ? "1 attempt" : `${err.attempts} attempts`;
  return new HttpError(502, "upstream_error", `${err.message} (${tries}); quote request_id ${requestId} to the operator`, headers, extra);
}

/**
 * The model request for an input (already validated and normalised) and its
 * cache key: the key hashes exactly the request a miss sends. scope: see
 * cacheKey.
 */
export async function requestAndKey(hooks: Hooks, input: string, env: EdgeCacheEnv, cfg: Config, scope = "") {
  const req = await buildRequest(hooks, input, env, cfg, PATTERN);
  return { req, key: await cacheKey(req, scope) };
}

/** POST /ask: the answer from the edge, the bucket, or one model call shared by concurrent misses. */
async function ask(hooks: Hooks, request: Request, env: EdgeCacheEnv, ctx: ExecutionContext): Promise<Response> {
  const started = Date.now();
  const cfg = readConfig(env);
  const input = await readInput(request, cfg.maxInputChars);
  // Per caller, hits too (lib/door.ts); misses also meet the model limiter.
  await passDoor(doorFor(env, request));
  const { req, key } = await requestAndKey(hooks, input, env, cfg);
  const url = edgeUrl(cfg.product, key);

  const hit = () => recordHit(env, cfg, req.model, PATTERN, customerOf(request));
  const edge = await fromEdge(url);
  if (edge) {
    hit();
    return json({ answer: edge.answer }, 200, { "x-cache": "HIT", "x-cache-store": "edge" });
  }
  const stored = await fromStore(env, cfg, key);
  if (stored) {
    ctx.waitUntil(toEdge(url, stored.answer, stored.ttl));
    hit();
    return json({ answer: stored.answer }, 200, { "x-cache": "HIT", "x-cache-store": "r2" });
  }

  const { answer, shared } = await coalesce(url, async () => {
    await enforceRateLimit(env, cfg);
    let response;
    try {
      response = await callModel(env, cfg, req, {
        deadline: started + modelDeadlineMs(cfg),
        pattern: PATTERN,
        customer: customerOf(request),
        maxAttempts: MODEL_ATTEMPTS,
        // A miss checks the budget (429 budget_exhausted, 503 when the
        // spend store fails); hits above never reach it. The cost is
        // recorded after the answer.
        budget: __ZEROCOST_SPEND_GUARD__ ? { spend: MODEL_SPEND, waitUntil: (p) => ctx.waitUntil(p), payer: payerOf(request) } : undefined,
      });
    } catch (err) {
      if (!(err instanceof ModelError)) throw err;
      throw upstreamError(err);
    }
    const answer = await shapeResult(hooks, response, input);
    ctx.waitUntil(store(env, cfg, key, url, answer));
    return answer;
  });
  if (shared) {
    hit();
    return json({ answer }, 200, { "x-cache": "MISS", "x-cache-shared": "1" });
  }
  return json({ answer }, 200, { "x-cache": "MISS" });
}

export function createWorker(hooks: Hooks = {}): ExportedHandler<EdgeCacheEnv> {
  checkHooks(hooks);
  return {
    fetch: createFetch<EdgeCacheEnv>(PATTERN, [
      { path: "/ask", POST: (request, env, ctx) => ask(hooks, request, env, ctx) },
    ]),
    scheduled: createScheduled<EdgeCacheEnv>(hooks),
  };
}
