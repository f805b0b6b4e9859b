// Customer keys (a product with ACCESS "keys", the default): every request
// but GET /health and the admin routes carries a key, in
// `Authorization: Bearer <key>` or `x-api-key: <key>`.
//
// A key is `zck_` + 30 random base62 characters + 6 base62 characters of the
// CRC32 (IEEE) of those 30 (internal/apikeys, `zerocost keys create`). A
// string of another shape, or with a wrong checksum, is refused before any
// read. The product's KV namespace (KEYS) holds one record per key under
// `k:<lowercase hex SHA-256 of the key>`; the lookup goes by that hash, so a
// wrong key's timing says nothing about a stored one.
//
// Each isolate keeps what it read for CACHE_TTL_MS, found or not, so a
// customer sending 60 or more requests a minute costs at most one KV read a
// minute per isolate; a revoked key works for at most that long here, plus
// KV's own propagation when deployed (about 60 s, Cloudflare's docs): at most
// 2 minutes in all, 60 s under `zerocost dev` (Miniflare has no propagation).
//
// Failed lookups are counted per client address (cf-connecting-ip) on
// KEY_FAILURES; an address over its limit gets 429 for the rest of the minute
// before any further KV read, so a flood of made-up keys cannot spend KV's
// 100,000 free reads a day. The customer's requests that start work then
// pass one door, the door limit of its tier (DOOR_<TIER>, keyed by customer):
// lib/door.ts's doorFor, at each pattern's POST, counting what it counts.
import type { BaseEnv } from "../env";
import { HttpError } from "./errors";
import type { Payer } from "./types";

/** A key's record in KEYS (and its KV metadata): internal/apikeys.Record. */
export interface KeyRecord {
  v: number;
  customer: string;
  prefix: string;
  product: string;
  tier: string;
  monthly_budget_usd: number | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

/** Who is calling: the customer of a live key. */
export interface Customer {
  customer: string;
  tier: string;
  prefix: string;
  monthlyBudgetUsd: number | null;
  /** the key's SHA-256 (hex), its name in KEYS: a job carries it to read the customer's budget when it runs */
  hash: string;
}

/** How long an isolate trusts what it read of a key (the spec's bound on revocation, here). */
export const CACHE_TTL_MS = 60_000;
/** Entries an isolate keeps at most; the oldest go first (each is about 300 bytes: 3 MB of the 128 MB an isolate has, per Cloudflare's Workers limits). */
export const CACHE_MAX = 10_000;
/** KV's own edge cache for a read, in seconds: 60 is the least KV allows (developers.cloudflare.com/kv/api/read-key-value-pairs/). */
const KV_CACHE_TTL_S = 60;

const KEY_SHAPE = /^zck_[0-9A-Za-z]{36}$/;
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const REALM = { "www-authenticate": 'Bearer realm="zerocost"' };

type Entry = { rec: KeyRecord | null; until: number };
const cache = new Map<string, Entry>(); // by product and key hash
const blocked = new Map<string, number>(); // client address -> until (ms)
const customers = new WeakMap<Request, Customer>();

const invalid = (message: string) => new HttpError(401, "invalid_key", message, REALM);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32 (IEEE) of an ASCII string, as base62 padded with '0' to 6 characters. */
export function checksum(s: string): string {
  let c = 0xffffffff;
  for (let i = 0; i < s.length; i++) c = CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xff]! ^ (c >>> 8);
  let v = (c ^ 0xffffffff) >>> 0;
  let out = "";
  for (let i = 0; i < 6; i++) {
    out = ALPHABET[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/** Whether s has a key's shape and checksum (no I/O). */
export function isWellFormed(s: string): boolean {
  return KEY_SHAPE.test(s) && checksum(s.slice(4, 34)) === s.slice(34);
}

/** The key a request carries, or a 401 saying what is wrong with what it sent. */
export function keyOf(request: Request): string {
  const auth = request.headers.get("authorization");
  const xkey = request.headers.get("x-api-key");
  let bearer: string | null = null;
  if (auth !== null) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (!m) throw invalid("the Authorization header is not `Bearer <key>`");
    bearer = m[1]!;
  }
  if (bearer !== null && xkey !== null && bearer !== xkey.trim()) throw invalid("Authorization and x-api-key carry different keys");
  const key = bearer ?? xkey?.trim() ?? null;
  if (key === null || key === "") throw invalid("a customer key is needed: send `Authorization: Bearer <key>` or `x-api-key: <key>`");
  if (!isWellFormed(key)) throw invalid("malformed key");
  return key;
}

async function sha256hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

function isRecord(v: unknown): v is KeyRecord {
  const r = v as KeyRecord | null;
  return typeof r === "object" && r !== null && typeof r.customer === "string" && typeof r.tier === "string";
}

/** Why a record does not let its key in now, or "" when it does. */
function refusal(rec: KeyRecord | null, product: string, now: number): string {
  if (!rec || rec.product !== product) return "unknown key";
  if (rec.revoked_at) return `key ${rec.prefix} was revoked`;
  if (rec.expires_at && !(Date.parse(rec.expires_at) > now)) return `key ${rec.prefix} expired at ${rec.expires_at}`;
  return "";
}

type KeysEnv = BaseEnv & { KEYS?: KVNamespace; KEY_FAILURES?: RateLimit };

/** Reads a key's record: the isolate's cache, else KV (one read), counting failed reads per address. */
async function lookup(env: KeysEnv, request: Request, product: string, hash: string, now: number): Promise<KeyRecord | null> {
  const id = `${product}\u0000${hash}`;
  const hit = cache.get(id);
  if (hit && hit.until > now) return hit.rec;
  const addr = request.headers.get("cf-connecting-ip") ?? "unknown";
  if ((blocked.get(addr) ?? 0) > now) {
    throw new HttpError(429, "rate_limited", "too many failed key checks from this address; retry in a minute", { "retry-after": "60" });
  }
  if (!env.KEYS) throw new HttpError(503, "unavailable", "the product needs customer keys but has no KEYS namespace bound");
  const v = await env.KEYS.get(`k:${hash}`, { type: "json", cacheTtl: KV_CACHE_TTL_S });
  const rec = isRecord(v) ? v : null;
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(id, { rec, until: now + CACHE_TTL_MS });
  if (refusal(rec, product, now) && env.KEY_FAILURES) {
    const { success } = await env.KEY_FAILURES.limit({ key: addr });
    if (!success) {
      if (blocked.size >= CACHE_MAX) blocked.clear();
      blocked.set(addr, now + 60_000);
    }
  }
  return rec;
}

/** Whether the product takes customer keys: ACCESS anything but "public" (missing included). */
export const keyed = (env: BaseEnv): boolean => (env as { ACCESS?: unknown }).ACCESS !== "public";

/**
 * Checks the request's key (401 invalid_key); the customer is then
 * customerOf(request), and its tier's door (lib/door.ts) the one the
 * request passes.
 */
export async function requireKey(request: Request, env: BaseEnv): Promise<Customer> {
  const key = keyOf(request);
  const product = env.PRODUCT ?? "";
  const now = Date.now();
  const hash = await sha256hex(key);
  const rec = await lookup(env as KeysEnv, request, product, hash, now);
  const why = refusal(rec, product, now);
  if (why || !rec) throw invalid(why || "unknown key");
  const c: Customer = { customer: rec.customer, tier: rec.tier, prefix: rec.prefix, monthlyBudgetUsd: budgetOf(rec), hash };
  customers.set(request, c);
  return c;
}

/** The customer requireKey let in for this request; "" for a public product. */
export const customerOf = (request: Request): string => customers.get(request)?.customer ?? "";

/** The customer requireKey let in for this request, with its tier; undefined for a public product. */
export const callerOf = (request: Request): Customer | undefined => customers.get(request);

/** The key's monthly budget, USD (null: none, or not a number). */
const budgetOf = (rec: KeyRecord): number | null =>
  typeof rec.monthly_budget_usd === "number" && Number.isFinite(rec.monthly_budget_usd) && rec.monthly_budget_usd >= 0 ? rec.monthly_budget_usd : null;

/** Who pays for this request's model calls (its customer and budget); undefined for a public product. */
export function payerOf(request: Request): Payer | undefined {
  const c = customers.get(request);
  return c ? { customer: c.customer, budgetUsd: c.monthlyBudgetUsd } : undefined;
}

/** The hash of the key this request came with ("" for a public product), for a job to carry. */
export const keyHashOf = (request: Request): string => customers.get(request)?.hash ?? "";

/**
 * The payer of a job the customer sent with the key of hash `hash`, as the
 * key's record says now (the isolate's cache, else one KV read): a budget
 * raised since the job was sent (zerocost keys create rewrites the
 * customer's live keys) applies when it runs. A record that is gone or names
 * another customer gives no budget; with `live`, a revoked one gives none
 * either (batch mode's settled spend: no alerts for a revoked key). Throws
 * when KV fails (the caller retries the job).
 */
export async function payerByKey(env: BaseEnv, customer: string, hash: string, now = Date.now(), live = false): Promise<Payer> {
  if (customer === "" || !/^[0-9a-f]{64}$/.test(hash)) return { customer, budgetUsd: null };
  const product = env.PRODUCT ?? "";
  const id = `${product}\u0000${hash}`;
  let hit = cache.get(id);
  if (!hit || hit.until <= now) {
    const e = env as KeysEnv;
    if (!e.KEYS) return { customer, budgetUsd: null };
    const v = await e.KEYS.get(`k:${hash}`, { type: "json", cacheTtl: KV_CACHE_TTL_S });
    hit = { rec: isRecord(v) ? v : null, until: now + CACHE_TTL_MS };
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(id, hit);
  }
  const rec = hit.rec;
  const ok = rec && rec.customer === customer && rec.product === product && !(live && rec.revoked_at);
  return { customer, budgetUsd: ok ? budgetOf(rec) : null };
}

/** Forgets what this isolate cached (tests). */
export function clearKeyCache(): void {
  cache.clear();
  blocked.clear();
}
