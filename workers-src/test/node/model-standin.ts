// STAND-IN for Anthropic's Messages API, for tests only. It is not the model:
// it answers POST /v1/messages in the API's shape (and checks the headers and
// fields a real call needs), from 127.0.0.1 on a random port.
//
// Tests steer it per scenario: POST /__standin/script {token, steps} makes every
// request whose body contains `token` ("tok" + 32 hex digits, any case) take
// the next step:
//   {status: 500} | {status: 429, retryAfter: "1"} | {hang: true}   (no answer)
//   {drop: true} (connection lost mid-answer: a network error) | {text, repeat} (a 200)
//   {delayMs} (answer late) | {rawBody} (a 200 with this body)
// A step runs `times` times (default 1; -1 = for ever); then the next one.
// When no step is left the answer is 200 "stand-in answer: <input>".
// GET /__standin/calls?token=... lists the requests it saw for the token.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { TOKEN, type Step } from "../standin-protocol";

interface Call {
  headers: Record<string, string | undefined>;
  body: unknown;
  at: number;
}

interface Scenario {
  steps: Step[];
  calls: Call[];
}

export interface Standin {
  url: string;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

const apiError = (type: string, message: string) => ({ type: "error", error: { type, message } });

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

function lastUserText(body: { messages?: Array<{ role?: string; content?: unknown }> }): string {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === "user");
  if (!last) return "";
  if (typeof last.content === "string") return last.content;
  if (Array.isArray(last.content)) {
    return last.content.map((b: { text?: unknown }) => (typeof b.text === "string" ? b.text : "")).join("");
  }
  return "";
}

export async function startModelStandin(): Promise<Standin> {
  const scenarios = new Map<string, Scenario>();
  const sockets = new Set<Socket>();

  // The first token in the request body picks the scenario (made on first sight,
  // so calls are recorded for unscripted tokens too).
  const scenarioFor = (raw: string): Scenario | undefined => {
    const token = TOKEN.exec(raw)?.[0].toLowerCase();
    if (token === undefined) return undefined;
    if (!scenarios.has(token)) scenarios.set(token, { steps: [], calls: [] });
    return scenarios.get(token);
  };

  const nextStep = (s: Scenario | undefined): Step | undefined => {
    const step = s?.steps[0];
    if (!step || !s) return undefined;
    const left = step.times ?? 1;
    if (left !== -1) {
      if (left <= 1) s.steps.shift();
      else step.times = left - 1;
    }
    return step;
  };

  async function messages(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const scenario = scenarioFor(raw);
    let body: Record<string, unknown> & { messages?: Array<{ role?: string; content?: unknown }> };
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, apiError("invalid_request_error", "body is not JSON"));
    }
    scenario?.calls.push({
      headers: {
        "x-api-key": req.headers["x-api-key"] as string | undefined,
        "anthropic-version": req.headers["anthropic-version"] as string | undefined,
        "content-type": req.headers["content-type"],
      },
      body,
      at: Date.now(),
    });
    if (!req.headers["x-api-key"]) return send(res, 401, apiError("authentication_error", "x-api-key header is required"));
    if (req.headers["anthropic-version"] !== "2023-06-01") {
      return send(res, 400, apiError("invalid_request_error", "anthropic-version must be 2023-06-01"));
    }
    if (typeof body.model !== "string" || !Number.isInteger(body.max_tokens) || !Array.isArray(body.messages) || body.messages.length === 0) {
      return send(res, 400, apiError("invalid_request_error", "model, max_tokens and messages are required"));
    }

    const step = nextStep(scenario) ?? {};
    if (step.hang) return; // never answer; the caller's timeout must fire
    if (step.drop) {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write('{"partial":');
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    const status = step.status ?? 200;
    if (status !== 200) {
      const headers: Record<string, string> = step.retryAfter !== undefined ? { "retry-after": step.retryAfter } : {};
      return send(res, status, apiError(ERROR_TYPES[status] ?? "api_error", `stand-in error ${status}`), headers);
    }
    if (step.rawBody !== undefined) return send(res, 200, step.rawBody);
    const input = lastUserText(body);
    const text = (step.text ?? `stand-in answer: ${input}`).repeat(step.repeat ?? 1);
    send(res, 200, {
      id: `msg_standin_${Math.random().toString(36).slice(2)}`,
      type: "message",
      role: "assistant",
      model: body.model,
      content: [{ type: "text", text }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: Math.ceil(input.length / 4) + 3,
        output_tokens: Math.ceil(text.length / 4),
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      },
    });
  }

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method === "POST" && url.pathname === "/__standin/script") {
      const { token, steps } = JSON.parse(await readBody(req)) as { token: string; steps: Step[] };
      const key = token.toLowerCase();
      scenarios.set(key, { steps: [...steps], calls: scenarios.get(key)?.calls ?? [] });
      return send(res, 200, { ok: true });
    }
    if (req.method === "GET" && url.pathname === "/__standin/calls") {
      const token = (url.searchParams.get("token") ?? "").toLowerCase();
      return send(res, 200, { calls: scenarios.get(token)?.calls ?? [] });
    }
    send(res, 404, apiError("not_found_error", "no such stand-in control route"));
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://standin");
    const work =
      req.method === "POST" && url.pathname === "/v1/messages"
        ? messages(req, res)
        : url.pathname.startsWith("/__standin/")
          ? control(req, res, url)
          : Promise.resolve(send(res, 404, apiError("not_found_error", `no route ${url.pathname}`)));
    work.catch((err) => {
      if (!res.headersSent) send(res, 500, apiError("api_error", String(err)));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
