// Helpers for tests that run inside workerd.
import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, inject } from "vitest";
import { CALLS_PATH, MARKER, SCRIPT_PATH, type StandinCall, type Step } from "./standin-protocol";

export type TestEnv = Cloudflare.Env;

/** The async-pipeline test product's queues (Pulumi.workers-test.yaml: product ap-test, stack workers-test). */
export const PIPELINE_QUEUE = "ap-test-workers-test-jobs";
export const PIPELINE_DLQ = "ap-test-workers-test-jobs-dlq";

/** A token that ties a test's inputs to its stand-in scenario. */
export const newToken = () => "tok" + crypto.randomUUID().replaceAll("-", "");

/** Controls the model stand-in (internal/devmodel, started by test/node/global-setup.ts) that ANTHROPIC_BASE_URL points at. */
export const standin = {
  async script(token: string, steps: Step[]): Promise<void> {
    const res = await fetch(`${env.ANTHROPIC_BASE_URL}${SCRIPT_PATH}`, {
      method: "POST",
      body: JSON.stringify({ token, steps }),
    });
    expect({ status: res.status, body: await res.text() }).toEqual({ status: 200, body: '{"ok":true}\n' });
  },
  async calls(token: string): Promise<StandinCall[]> {
    const res = await fetch(`${env.ANTHROPIC_BASE_URL}${CALLS_PATH}?token=${token}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { calls: StandinCall[] }).calls;
  },
};

// Go's unicode.IsSpace, which strings.Fields splits on.
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
// Characters Go's strconv.Quote writes as they are (its IsPrint), but for " and \.
const GO_PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;

/**
 * The stand-in's deterministic reply text to a last user message, as
 * docs/dev.md documents it (devmodel.Reply): the marker, the message's words
 * (whitespace collapsed, at most 80 characters then "…") quoted as Go's %q
 * does, the first 12 hex digits of its SHA-256 and its length in characters.
 */
export async function replyTo(message: string, maxTokens = Number(env.MAX_OUTPUT_TOKENS)): Promise<string> {
  const chars = Array.from(message);
  let echo = message.split(GO_SPACE).filter((w) => w !== "").join(" ");
  if (Array.from(echo).length > 80) echo = Array.from(echo).slice(0, 80).join("") + "…";
  if (!GO_PRINTABLE.test(echo)) throw new Error(`replyTo: ${JSON.stringify(echo)} needs Go's escapes; use printable text in tests`);
  const quoted = `"${echo.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(message)));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, 12);
  const text = `${MARKER} reply to ${quoted} (sha256 ${hex}, ${chars.length} characters)`;
  // Cut to max_tokens (about four characters a token), as the stand-in does.
  return Math.ceil(Array.from(text).length / 4) > maxTokens ? Array.from(text).slice(0, maxTokens * 4).join("") : text;
}

/**
 * Checks the project's env against its rendered config
 * (test/wrangler/<pattern>.toml): the pattern's own vars as given, and the
 * bindings every pattern's config declares: ANTHROPIC_BASE_URL is the
 * stand-in's, MODEL_USAGE takes data points, OUTPUTS has no r2Key, and the
 * rate limiter has room.
 */
export async function expectPatternBindings(vars: Record<string, unknown>, r2Key: string): Promise<void> {
  expect(env).toMatchObject(vars);
  expect(env.ANTHROPIC_BASE_URL).toBe(inject("modelUrl"));
  expect(typeof env.MODEL_USAGE.writeDataPoint).toBe("function");
  expect(await env.OUTPUTS.head(r2Key)).toBeNull();
  expect(await env.RATE_LIMITER.limit({ key: `probe-${crypto.randomUUID()}` })).toEqual({ success: true });
}

/** GET /health of the project's Worker answers 200 with its pattern and product. */
export async function expectHealth(pattern: string, product: string): Promise<void> {
  const res = await exports.default.fetch("https://worker.test/health");
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ pattern, product });
}

/**
 * With AUTH_TOKEN set, the admin routes answer 401 without the bearer token
 * and POST path (a public product's) is still open with okStatus: the token
 * guards the admin routes only; GET /health stays open.
 */
export async function expectBearerAuth(worker: FetchWorker, path: string, okStatus: number): Promise<void> {
  const e = testEnv({ AUTH_TOKEN: "the-token" });
  await expectError(await call(worker, get("/admin/anything"), e), 401, "unauthorized");
  expect((await call(worker, get("/admin/anything", { authorization: "Bearer the-token" }), e)).status).toBe(404);
  const ok = await call(worker, postJson(path, { input: `auth ${newToken()}` }), e);
  expect(ok.status).toBe(okStatus);
  expect((await call(worker, get("/health"), e)).status).toBe(200);
}

/** The project's env with a fresh PRODUCT (so rate-limit keys do not collide) and overrides. */
export function testEnv(overrides: Partial<Record<keyof TestEnv, unknown>> = {}): TestEnv {
  return { ...env, PRODUCT: `p-${crypto.randomUUID().slice(0, 8)}`, ...overrides } as TestEnv;
}

/**
 * A DOOR_LIMITER stand-in that lets each key through `perKey` times (the
 * binding's count in one window) and records the keys it was asked about.
 */
export function doorLimiter(perKey: number) {
  const used = new Map<string, number>();
  const keys: string[] = [];
  return {
    keys,
    limit: async ({ key }: { key: string }) => {
      keys.push(key);
      used.set(key, (used.get(key) ?? 0) + 1);
      return { success: used.get(key)! <= perKey };
    },
  };
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(`https://worker.test${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

export function get(path: string, headers: Record<string, string> = {}): Request {
  return new Request(`https://worker.test${path}`, { headers });
}

type FetchWorker = { fetch?: ExportedHandler<any>["fetch"] };

/** Calls a worker's fetch handler directly and waits for its waitUntil work. */
export async function call(worker: FetchWorker, request: Request, e: TestEnv = testEnv()): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch!(request as any, e, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Asserts a JSON error response's status and code; returns its message. */
export async function expectError(res: Response, status: number, code: string): Promise<string> {
  const body = (await res.json()) as { error?: { code?: string; message?: string } };
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(typeof body.error?.message).toBe("string");
  return body.error!.message!;
}

/** Polls until check() returns a value, or fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits out the last 3 s of a wall-clock minute, so a limit test stays inside one window. */
export async function awayFromMinuteEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 3_000) await new Promise((r) => setTimeout(r, left + 100));
}

/** Reads a job's record (jobs/<id>.json in OUTPUTS), or null. */
export async function jobRecord(id: string): Promise<Record<string, any> | null> {
  const o = await env.OUTPUTS.get(`jobs/${id}.json`);
  return o ? ((await o.json()) as Record<string, any>) : null;
}

/** The job records in OUTPUTS (keys under jobs/). */
export async function jobKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.OUTPUTS.list({ prefix: "jobs/", cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

/**
 * Runs a worker's queue handler on a batch from cloudflare:test; returns the
 * ack/retry result, with each retry's delay (`delays`: getQueueResult does
 * not report them, so each message's retry() is wrapped to record it).
 */
export async function runQueue(worker: { queue?: ExportedHandler<any>["queue"] }, queue: string, messages: ServiceBindingQueueMessage<unknown>[], e: TestEnv) {
  const batch = createMessageBatch(queue, messages);
  const delays: Record<string, number | undefined> = {};
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    Object.defineProperty(m, "retry", { value: (o?: QueueRetryOptions) => ((delays[m.id] = o?.delaySeconds), retry(o)) });
  }
  const ctx = createExecutionContext();
  await worker.queue!(batch, e, ctx);
  return { ...(await getQueueResult(batch, ctx)), delays };
}

/** A JOB_QUEUE stand-in that keeps what is sent, with each message's delay; `fail`: every send throws. */
export function keepingQueue<T = unknown>(fail = false) {
  const sent: Array<{ body: T; delaySeconds?: number }> = [];
  const down = () => {
    if (fail) throw new Error("queue down");
  };
  return {
    sent,
    queue: {
      send: async (body: T, o?: QueueSendOptions) => (down(), void sent.push({ body, delaySeconds: o?.delaySeconds })),
      sendBatch: async (msgs: Iterable<MessageSendRequest<T>>) => {
        down();
        for (const m of msgs) sent.push({ body: m.body, delaySeconds: m.delaySeconds });
      },
    },
  };
}

/** A route of the Message Batches API (POST create, GET retrieve, GET results, POST cancel). */
export type BatchRoute = "create" | "retrieve" | "results" | "cancel";

/**
 * Wraps globalThis.fetch so that each call to the Message Batches API is
 * shown to `seen` with its route; a Response from `seen` answers the call
 * instead of the API. Returns what undoes the wrapping.
 */
export function onBatchCalls(seen: (route: BatchRoute, method: string, path: string) => Response | undefined): () => void {
  const real = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const path = new URL(req.url).pathname;
    if (path.startsWith("/v1/messages/batches")) {
      const route = req.method === "POST" && path === "/v1/messages/batches" ? "create" : path.endsWith("/results") ? "results" : path.endsWith("/cancel") ? "cancel" : "retrieve";
      const canned = seen(route, req.method, path);
      if (canned) return canned;
    }
    return real(input, init);
  }) as typeof fetch;
  return () => {
    globalThis.fetch = real;
  };
}
