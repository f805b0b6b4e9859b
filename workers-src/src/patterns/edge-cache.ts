// Edge cache: POST /ask answers from KV when a normalised form of the question
// was answered before (x-cache: HIT), else calls the model and stores the
// answer for CACHE_TTL_SECONDS (x-cache: MISS). Answers larger than
// KV_INLINE_MAX_BYTES go to R2 and KV keeps a pointer. Failures are not cached.
import type { EdgeCacheEnv } from "../env";
import { buildRequest, checkHooks, shapeResult, type Hooks } from "../hooks";
import { createFetch, createScheduled } from "../lib/app";
import { cacheKey, cacheScope } from "../lib/cachekey";
import { readConfig, type Config } from "../lib/config";
import { HttpError, json } from "../lib/errors";
import { jsonBytesFor, readJsonObject } from "../lib/http";
import { readJson, writeJson } from "../lib/jobs";
import { callModel, ModelError } from "../lib/model";
import { enforceRateLimit } from "../lib/ratelimit";
import { validateInput } from "../lib/validate";

const PATTERN = "edge-cache";
const MODEL_DEADLINE_MS = 25_000;

/** A KV cache entry: the answer inline, or the R2 key that holds it. */
type Entry = { answer: unknown } | { r2: string };

export const answerKey = (key: string) => `answers/${key.slice(3)}.json`; // ai:<hex> -> answers/<hex>.json

async function lookup(env: EdgeCacheEnv, key: string): Promise<{ answer: unknown } | null> {
  const raw = await env.CACHE.get(key);
  if (raw === null) return null;
  let entry: Entry;
  try {
    entry = JSON.parse(raw) as Entry;
  } catch {
    return null;
  }
  if (typeof entry !== "object" || entry === null) return null;
  if ("answer" in entry) return { answer: entry.answer };
  if (typeof entry.r2 === "string") return readJson<{ answer: unknown }>(env.OUTPUTS, entry.r2);
  return null;
}

async function store(env: EdgeCacheEnv, cfg: Config, key: string, answer: unknown): Promise<void> {
  const inline = JSON.stringify({ answer });
  const opts = { expirationTtl: cfg.cacheTtlSeconds };
  if (new TextEncoder().encode(inline).byteLength <= cfg.kvInlineMaxBytes) {
    await env.CACHE.put(key, inline, opts);
    return;
  }
  const r2Key = answerKey(key);
  await writeJson(env.OUTPUTS, r2Key, { answer, stored_at: new Date().toISOString() });
  await env.CACHE.put(key, JSON.stringify({ r2: r2Key }), opts);
}

export function createWorker(hooks: Hooks = {}): ExportedHandler<EdgeCacheEnv> {
  checkHooks(hooks);
  return {
    fetch: createFetch<EdgeCacheEnv>(PATTERN, [
      {
        path: "/ask",
        POST: async (request, env, ctx) => {
          const started = Date.now();
          const cfg = readConfig(env);
          const body = await readJsonObject(request, jsonBytesFor(cfg.maxInputChars) + 1024);
          const input = validateInput(body.input, cfg.maxInputChars);
          const key = await cacheKey(input, cacheScope(cfg));
          const hit = await lookup(env, key);
          if (hit) return json({ answer: hit.answer }, 200, { "x-cache": "HIT" });

          await enforceRateLimit(env, cfg, env.CACHE);
          const req = await buildRequest(hooks, input, env, cfg, PATTERN);
          let response;
          try {
            response = await callModel(env, cfg, req, {
              deadline: started + MODEL_DEADLINE_MS,
              pattern: PATTERN,
              maxAttempts: 3,
            });
          } catch (err) {
            if (!(err instanceof ModelError)) throw err;
            const headers: Record<string, string> = {};
            if (err.retryAfter !== undefined) headers["retry-after"] = String(Math.ceil(err.retryAfter));
            throw new HttpError(502, "upstream_error", err.message, headers);
          }
          const answer = await shapeResult(hooks, response, input);
          ctx.waitUntil(store(env, cfg, key, answer).catch((e) => console.error("cache store failed:", e)));
          return json({ answer }, 200, { "x-cache": "MISS" });
        },
      },
    ]),
    scheduled: createScheduled<EdgeCacheEnv>(hooks),
  };
}
