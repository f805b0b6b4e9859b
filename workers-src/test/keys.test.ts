// Customer keys (lib/keys.ts) in workerd, on the event-agent Worker: the
// check every keyed route passes, what it costs in KV reads, the failed-check
// and door limits, and job isolation between customers. The records are
// written into the project's KEYS namespace as `zerocost keys create` writes
// them (internal/apikeys).
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearKeyCache, isWellFormed, type KeyRecord } from "../src/lib/keys";
import { newJobId } from "../src/lib/jobid";
import { createWorker } from "../src/patterns/event-agent";
import { MODEL_USAGE_POINT, OPS_PER_EVENT } from "../src/contract.gen";
import { call, doorLimiter, eventually, expectError, get, newToken, postJson, standin, testEnv, type TestEnv } from "./helpers";
import { newKey, putKey, sha256hex } from "./keyhelpers";
import { expected } from "./ops";
import { budgeted, freshProduct, meter, restoreMeters } from "./ops/harness";

const worker = createWorker({});

type Counts = { kvReads: number; failures: number; doors: number; ipDoors: number };

/**
 * A keyed env whose KEYS reads and limiter calls are counted; `say` decides
 * the limiters' answers. `over` may bind other tiers' doors (DOOR_GOLD),
 * which the test stack's types do not name.
 */
function keyed(say: { failures?: boolean; door?: boolean } = {}, over: Partial<Record<keyof TestEnv | `DOOR_${string}`, unknown>> = {}) {
  const counts: Counts = { kvReads: 0, failures: 0, doors: 0, ipDoors: 0 };
  const kv = env.KEYS!;
  const e = testEnv({
    ACCESS: "keys",
    KEYS: { get: (...a: Parameters<KVNamespace["get"]>) => (counts.kvReads++, (kv.get as (...x: unknown[]) => unknown)(...a)) },
    KEY_FAILURES: { limit: async () => (counts.failures++, { success: say.failures ?? true }) },
    DOOR_STANDARD: { limit: async () => (counts.doors++, { success: say.door ?? true }) },
    // A public product's door (per address): a keyed request never passes it.
    DOOR_LIMITER: { limit: async () => (counts.ipDoors++, { success: true }) },
    ...(over as Partial<Record<keyof TestEnv, unknown>>),
  });
  return { e, counts };
}

const bearer = (key: string, ip = "198.51.100.7") => ({ authorization: `Bearer ${key}`, "cf-connecting-ip": ip });

beforeEach(() => clearKeyCache());
afterEach(restoreMeters);

describe("customer keys", () => {
  it("a key from keys create is well formed; one changed character is not", () => {
    const k = newKey();
    expect(isWellFormed(k)).toBe(true);
    const swapped = k.slice(0, 10) + (k[10] === "a" ? "b" : "a") + k.slice(11);
    expect(isWellFormed(swapped)).toBe(false);
  });

  it("no key: 401 invalid_key with www-authenticate; GET /health stays open", async () => {
    const { e, counts } = keyed();
    const res = await call(worker, postJson("/jobs", { input: "x" }), e);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="zerocost"');
    expect(await expectError(res, 401, "invalid_key")).toMatch(/customer key is needed/);
    expect((await call(worker, get("/health"), e)).status).toBe(200);
    expect(counts.kvReads).toBe(0);
  });

  it("malformed, huge, repeated and non-ASCII authorization headers: 401, no KV read", async () => {
    const { e, counts } = keyed();
    const good = await putKey(e.PRODUCT, "acme");
    const repeated = new Headers({ "content-type": "application/json" });
    repeated.append("authorization", `Bearer ${good}`);
    repeated.append("authorization", `Bearer ${good}`);
    const cases: Array<Record<string, string> | Headers> = [
      { authorization: "Bearer" },
      { authorization: "Basic dXNlcjpwYXNz" },
      { authorization: `Bearer ${good.slice(0, 39)}x` },
      { authorization: `Bearer ${"zck_" + "A".repeat(100_000)}` },
      { authorization: "Bearer zck_ñññññññññññññññññññññññññññññññññññ" },
      { "x-api-key": `${good} ${good}` },
      { authorization: `Bearer ${good}`, "x-api-key": newKey() },
      repeated,
    ];
    for (const headers of cases) {
      const req = new Request("https://worker.test/jobs", { method: "POST", headers, body: JSON.stringify({ input: "x" }) });
      const res = await call(worker, req, e);
      expect(res.status).toBe(401);
      await expectError(res, 401, "invalid_key");
    }
    expect(counts.kvReads).toBe(0);
  });

  it("a live key works (Bearer or x-api-key), and the isolate reads KV once for it", async () => {
    const { e, counts } = keyed();
    const key = await putKey(e.PRODUCT, "acme");
    expect((await call(worker, postJson("/jobs", { input: `k ${newToken()}` }, bearer(key)), e)).status).toBe(202);
    expect((await call(worker, postJson("/jobs", { input: `k ${newToken()}` }, { "x-api-key": key }), e)).status).toBe(202);
    expect((await call(worker, get(`/jobs/${"0".repeat(60)}`, { "x-api-key": key }), e)).status).toBe(404);
    // One door a request: the tier's, not DOOR_LIMITER too; the poll passes none.
    expect(counts).toEqual({ kvReads: 1, failures: 0, doors: 2, ipDoors: 0 });
  });

  it("unknown, revoked and expired keys: 401 saying which; each read counts as a failure of the address", async () => {
    const { e, counts } = keyed();
    const revoked = await putKey(e.PRODUCT, "gone", { revoked_at: new Date().toISOString() });
    const expired = await putKey(e.PRODUCT, "old", { expires_at: new Date(Date.now() - 1000).toISOString() });
    const other = await putKey("another-product", "acme");
    const cases: Array<[string, RegExp]> = [[newKey(), /unknown key/], [revoked, /revoked/], [expired, /expired/], [other, /unknown key/]];
    for (const [key, why] of cases) {
      expect(await expectError(await call(worker, postJson("/jobs", { input: "x" }, bearer(key)), e), 401, "invalid_key")).toMatch(why);
    }
    expect(counts).toEqual({ kvReads: 4, failures: 4, doors: 0, ipDoors: 0 });
    // A refused key is cached too: asking again reads nothing.
    await expectError(await call(worker, postJson("/jobs", { input: "x" }, bearer(revoked)), e), 401, "invalid_key");
    expect(counts.kvReads).toBe(4);
  });

  it("revocation: a key revoked in KV is refused once the isolate's entry is gone", async () => {
    const { e } = keyed();
    const key = await putKey(e.PRODUCT, "acme");
    expect((await call(worker, postJson("/jobs", { input: `r ${newToken()}` }, bearer(key)), e)).status).toBe(202);
    const hash = `k:${await sha256hex(key)}`;
    const rec = JSON.parse((await env.KEYS!.get(hash))!) as KeyRecord;
    await env.KEYS!.put(hash, JSON.stringify({ ...rec, revoked_at: new Date().toISOString() }));
    clearKeyCache(); // what CACHE_TTL_MS does; docs/keys.md has the measured bound
    expect(await expectError(await call(worker, postJson("/jobs", { input: "x" }, bearer(key)), e), 401, "invalid_key")).toMatch(/revoked/);
  });

  it("an address over its failed checks gets 429 before any further KV read; others still read", async () => {
    const { e, counts } = keyed({ failures: false });
    await expectError(await call(worker, postJson("/jobs", { input: "x" }, bearer(newKey(), "203.0.113.9")), e), 401, "invalid_key");
    await expectError(await call(worker, postJson("/jobs", { input: "x" }, bearer(newKey(), "203.0.113.9")), e), 429, "rate_limited");
    expect(counts.kvReads).toBe(1);
    const good = await putKey(e.PRODUCT, "acme");
    expect((await call(worker, postJson("/jobs", { input: `f ${newToken()}` }, bearer(good, "192.0.2.1")), e)).status).toBe(202);
    expect(counts.kvReads).toBe(2);
  });

  it("the door limit of the customer's tier: 429 rate_limited, naming the customer and its tier; no job", async () => {
    const { e, counts } = keyed({ door: false });
    const key = await putKey(e.PRODUCT, "acme");
    const t = newToken();
    const res = await call(worker, postJson("/jobs", { input: `door ${t}` }, bearer(key)), e);
    expect(res.headers.get("retry-after")).toBe("60");
    expect(await expectError(res, 429, "rate_limited")).toBe("customer acme is over the standard tier's requests a minute");
    expect([counts.doors, counts.ipDoors]).toEqual([1, 0]);
    expect(await standin.calls(t)).toHaveLength(0);
  });

  it("the one door is the customer's tier (DOOR_<TIER>, keyed by customer); an unbound tier falls back to DOOR_STANDARD", async () => {
    const gold = doorLimiter(1);
    const { e, counts } = keyed({}, { DOOR_GOLD: gold });
    const a = await putKey(e.PRODUCT, "acme", { tier: "gold" });
    const b = await putKey(e.PRODUCT, "globex", { tier: "gold" });
    const c = await putKey(e.PRODUCT, "initech", { tier: "platinum" });
    // Two addresses, one customer: counted together.
    expect((await call(worker, postJson("/jobs", { input: `g ${newToken()}` }, bearer(a, "198.51.100.7")), e)).status).toBe(202);
    const over = await call(worker, postJson("/jobs", { input: `g ${newToken()}` }, bearer(a, "203.0.113.9")), e);
    expect(await expectError(over, 429, "rate_limited")).toBe("customer acme is over the gold tier's requests a minute");
    expect((await call(worker, postJson("/jobs", { input: `g ${newToken()}` }, bearer(b)), e)).status).toBe(202);
    expect(gold.keys).toEqual(["acme", "acme", "globex"]);
    expect((await call(worker, postJson("/jobs", { input: `p ${newToken()}` }, bearer(c)), e)).status).toBe(202);
    expect([counts.doors, counts.ipDoors]).toEqual([1, 0]);
  });

  it("a failing or missing tier door is a 503, never a request let through", async () => {
    const down = { limit: async () => { throw new Error("door down"); } };
    for (const over of [{ DOOR_STANDARD: down }, { DOOR_STANDARD: undefined }]) {
      const { e } = keyed({}, over);
      const key = await putKey(e.PRODUCT, "acme");
      const t = newToken();
      await expectError(await call(worker, postJson("/jobs", { input: `nodoor ${t}` }, bearer(key)), e), 503, "unavailable");
      expect(await standin.calls(t)).toHaveLength(0);
    }
  });

  it("a job is readable by its customer only, before and after its record exists", async () => {
    const { e } = keyed();
    const a = await putKey(e.PRODUCT, "acme");
    const b = await putKey(e.PRODUCT, "globex");
    // Before: an id issued to acme has no record yet.
    const early = await newJobId(e, Date.now(), "acme");
    expect((await call(worker, get(`/jobs/${early}`, bearer(a)), e)).status).toBe(200);
    await expectError(await call(worker, get(`/jobs/${early}`, bearer(b)), e), 404, "not_found");
    // After: the record carries the customer.
    const res = await call(worker, postJson("/jobs", { input: `iso ${newToken()}` }, bearer(a)), e);
    const { job_id } = (await res.json()) as { job_id: string };
    await eventually(async () => ((await env.OUTPUTS.get(`jobs/${job_id}.json`)) ? true : undefined));
    expect(await (await call(worker, get(`/jobs/${job_id}`, bearer(a)), e)).json()).toMatchObject({ status: "done" });
    expect(JSON.parse(await (await env.OUTPUTS.get(`jobs/${job_id}.json`))!.text())).toMatchObject({ customer: "acme" });
    await expectError(await call(worker, get(`/jobs/${job_id}`, bearer(b)), e), 404, "not_found");
  });

  it("the usage data point names the customer", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const { e } = keyed({}, { MODEL_USAGE: { writeDataPoint: (p: AnalyticsEngineDataPoint) => void points.push(p) } });
    const key = await putKey(e.PRODUCT, "acme");
    expect((await call(worker, postJson("/jobs", { input: `usage ${newToken()}` }, bearer(key)), e)).status).toBe(202);
    const i = MODEL_USAGE_POINT.blobs.indexOf("customer");
    expect(points.map((p) => p.blobs?.[i])).toEqual(["acme"]);
  });

  it("the admin routes take AUTH_TOKEN, not a customer key", async () => {
    const { e } = keyed({}, { AUTH_TOKEN: "admin-token" });
    const key = await putKey(e.PRODUCT, "acme");
    await expectError(await call(worker, get("/admin/budget", bearer(key)), e), 401, "unauthorized");
    expect((await call(worker, get("/admin/budget", { authorization: "Bearer admin-token" }), e)).status).toBe(200);
  });
});

// The key events of internal/contract's ops table, measured on a poll of an
// unknown job (the poll event: one R2 read, no model call): each pattern runs the same check
// (lib/app.ts), so event-agent's Worker measures it for all three.
describe("customer keys: ops per event", () => {
  const ops = OPS_PER_EVENT["event-agent"];
  const poll = (key: string) => get(`/jobs/${"0".repeat(60)}`, bearer(key));

  it("key_lookup: a key's first request reads KEYS once; no door of its own (a refused POST passes none)", async () => {
    const first = meter({ ACCESS: "keys" });
    const key = await putKey(first.env.PRODUCT, "acme");
    expect((await first.invoke(worker, poll(key))).status).toBe(404);
    expect(first.counts).toEqual(expected(ops.poll, ops.key_lookup));
    const next = meter({ ACCESS: "keys", PRODUCT: first.env.PRODUCT });
    expect((await next.invoke(worker, poll(key))).status).toBe(404);
    expect(next.counts).toEqual(expected(ops.poll));
    const post = meter({ ACCESS: "keys", PRODUCT: first.env.PRODUCT });
    await expectError(await post.invoke(worker, postJson("/jobs", { input: "" }, bearer(key))), 400, "invalid_input");
    expect(post.counts).toEqual(expected({ "worker.request": 1 }));
    expect(ops).not.toHaveProperty("key_check");
  });

  it("customer_check, customer_record: a keyed call of a customer with a budget reads and writes its customer_spend row in the product's D1 trips", async () => {
    const open = { limit: async () => ({ success: true }) };
    const over = { ACCESS: "keys", DOOR_STANDARD: open };
    const product = freshProduct();
    const key = await putKey(product, "acme", { monthly_budget_usd: 10 });
    // Warm: the key cached, the month's rows (product and customer) exist.
    const warm = meter(budgeted(product, over));
    expect((await warm.invoke(worker, postJson("/jobs", { input: `warm ${newToken()}` }, bearer(key)))).status).toBe(202);
    const t = newToken();
    const m = meter(budgeted(product, over));
    expect((await m.invoke(worker, postJson("/jobs", { input: `ops ${t}` }, bearer(key)))).status).toBe(202);
    await m.countModel(t);
    // One door: the tier's, counted in post as a public product's DOOR_LIMITER is.
    expect(m.counts).toEqual(expected(ops.post, ops.budget_check, ops.budget_record, ops.customer_check, ops.customer_record));
    // The customer's reads and writes share the product's trips: two round trips in all.
    expect(m.d1!.trips.map((tr) => tr.sql.length)).toEqual([2, 2]);
  });

  it("key_refused: an unknown well-formed key, then a malformed one (no read)", async () => {
    const m = meter({ ACCESS: "keys" });
    await expectError(await m.invoke(worker, poll(newKey())), 401, "invalid_key");
    expect(m.counts).toEqual(expected(ops.key_refused));
    const bad = meter({ ACCESS: "keys", PRODUCT: m.env.PRODUCT });
    await expectError(await bad.invoke(worker, poll("zck_nope")), 401, "invalid_key");
    expect(bad.counts).toEqual(expected({ "worker.request": 1 }));
  });
});
