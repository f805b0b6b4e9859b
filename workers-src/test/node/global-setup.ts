// Starts the model stand-in for one vitest project and hands its URL to the
// Worker as ANTHROPIC_BASE_URL (see vitest.config.ts). The stand-in is the Go
// one (internal/devmodel), the same that `zerocost dev` and the Go tests use:
// built once per vitest run with `go build ./internal/devmodel/cmd/standin`
// into a temporary folder, then one process per project on 127.0.0.1.
// $ZEROCOST_GO names the go binary (default: go on PATH).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const BUILD_TIMEOUT_MS = 300_000;
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

function build(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "zerocost-standin-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "standin");
  const go = process.env.ZEROCOST_GO || "go";
  return new Promise((resolve, reject) => {
    execFile(
      go,
      ["build", "-o", bin, "./internal/devmodel/cmd/standin"],
      { cwd: repoRoot, timeout: BUILD_TIMEOUT_MS },
      (err, _stdout, stderr) => {
        if (!err) return resolve(bin);
        const why = (err as NodeJS.ErrnoException).code === "ENOENT"
          ? `${go} not found: the model stand-in is Go (internal/devmodel); install Go (see README) or set ZEROCOST_GO`
          : `go build ./internal/devmodel/cmd/standin failed: ${err.message}\n${stderr}`;
        reject(new Error(why));
      },
    );
  });
}

/** The build, shared by the projects' setups (they run in one Node process). */
function standinBinary(): Promise<string> {
  const g = globalThis as { __zerocostStandinBinary?: Promise<string> };
  g.__zerocostStandinBinary ??= build();
  return g.__zerocostStandinBinary;
}

/** Resolves with the URL on the stand-in's ready line; rejects if it exits or takes too long. */
function readyURL(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`model stand-in not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        reject(new Error(`model stand-in: unexpected ready line ${JSON.stringify(line)}`));
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`model stand-in exited before it was ready (code ${code}, signal ${signal})`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * A local webhook receiver for the spend guard's alerts (lib/spend/):
 * POST /hooks/<key> is recorded and answered 204 (or 500 while the key has
 * failures left: POST /fail/<key>?n=N); GET /hooks/<key> answers
 * {"posts":[{"status","body","at"}]}, the failed POSTs included.
 */
async function startWebhookReceiver(): Promise<{ url: string; server: Server }> {
  const posts = new Map<string, Array<{ status: number; body: unknown; at: number }>>();
  const failures = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const [, kind, key = ""] = url.pathname.split("/");
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      if (kind === "fail" && req.method === "POST") {
        failures.set(key, Number(url.searchParams.get("n") ?? "1"));
        return send(200, { ok: true });
      }
      if (kind !== "hooks") return send(404, { error: "no such route" });
      if (req.method === "GET") return send(200, { posts: posts.get(key) ?? [] });
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text
      }
      const left = failures.get(key) ?? 0;
      const status = left > 0 ? 500 : 204;
      if (left > 0) failures.set(key, left - 1);
      posts.set(key, [...(posts.get(key) ?? []), { status, body, at: Date.now() }]);
      send(status);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, server };
}

export default async function setup(project: TestProject) {
  const hooks = await startWebhookReceiver();
  project.provide("webhookUrl", hooks.url);
  const bin = await standinBinary();
  // -exit-with-stdin: the stand-in also stops if this process dies without teardown.
  const child = spawn(bin, ["-exit-with-stdin"], { stdio: ["pipe", "pipe", "inherit"] });
  let url: string;
  try {
    url = await readyURL(child);
  } catch (err) {
    hooks.server.close();
    await stop(child);
    throw err;
  }
  project.provide("modelUrl", url);
  return async () => {
    hooks.server.closeAllConnections();
    hooks.server.close();
    await stop(child);
  };
}
