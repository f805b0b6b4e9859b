// The local runtime of `zerocost dev`: runs every product of a stack on workerd
// through Miniflare, from a JSON config the Go side writes (internal/devrun).
//
//   node dev/run.mjs <config.json>
//
// The config already holds Miniflare's options for each Worker, derived from the
// stack's plan; this script only adds the secrets (read from the environment
// variables the config names, so they never touch the disk), starts Miniflare,
// and reports. Protocol on stdout, one JSON object a line:
//
//   {"event":"ready","workers":{"<name>":"http://127.0.0.1:<port>/"},"entry":"http://127.0.0.1:<port>/","ready_ms":<n>,"kv_api":"<url>"}
//
// Before it reports ready it writes the key records of the config's "keys"
// into the Workers' KEYS namespaces, wakes the Workflow instances a previous
// run left under way (dev/resume.mjs) and, with "kvApi", serves the local
// Cloudflare API (dev/kvapi.mjs: KV values, and D1's query endpoint over the
// spend store, dev/d1api.mjs), whose base URL is "kv_api".
//
// "entry" is Miniflare's entry socket. Started with unsafeTriggerHandlers, it
// runs a Worker's scheduled() handler on
// GET /cdn-cgi/local/scheduled?cron=...&time=<ms>&format=json with the header
// MF-Route-Override: <worker name>; devrun fires cron triggers through it.
//   {"event":"error","message":"..."}          (then exit 1)
//
// Everything else (Miniflare's and the Workers' logs) goes to stderr. SIGTERM,
// SIGINT or the end of stdin (the parent died) dispose Miniflare, which stops
// workerd, then the process exits.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { databasesOf } from "./d1api.mjs";
import { serveKV, writeKeys } from "./kvapi.mjs";
import { resumeWorkflows } from "./resume.mjs";

const started = performance.now();
const workersDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// Keep stdout for the protocol: libraries log with console.log.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

// When the parent is gone, its pipes are too: writes must not crash the stop.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(err) {
  const message = err instanceof Error ? err.message : String(err);
  emit({ event: "error", message });
  console.error(err instanceof Error && err.stack ? err.stack : message);
  process.exit(1);
}

if (process.argv.length < 3) fail("usage: node dev/run.mjs <config.json>");

let config;
try {
  config = JSON.parse(readFileSync(process.argv[2], "utf8"));
} catch (err) {
  fail(`reading ${process.argv[2]}: ${err.message}`);
}

// The Miniflare that wrangler itself uses (nested under wrangler when npm did
// not hoist it), so `zerocost dev` runs what `wrangler dev` would.
let mf;
let miniflare;
try {
  const req = createRequire(path.join(workersDir, "node_modules", "wrangler", "package.json"));
  miniflare = req("miniflare");
} catch (err) {
  fail(`cannot load miniflare from ${workersDir}/node_modules (run \`make deps\`): ${err.message}`);
}
const { Miniflare, Log, LogLevel } = miniflare;

function workerOptions(w) {
  const opts = {
    ...w.options,
    name: w.name,
    // One bundled ES module, named worker.js (relative to its folder).
    modules: [{ type: "ESModule", path: w.script }],
    modulesRoot: path.dirname(w.script),
    unsafeDirectSockets: [{ host: config.host, port: w.port ?? 0 }],
  };
  const bindings = { ...(opts.bindings ?? {}) };
  for (const [binding, envName] of Object.entries(w.secrets ?? {})) {
    const value = process.env[envName];
    if (value === undefined) fail(`secret ${binding} of ${w.name}: environment variable ${envName} is not set`);
    bindings[binding] = value;
  }
  opts.bindings = bindings;
  return opts;
}

let stopping = false;
async function stop(why) {
  if (stopping) return;
  stopping = true;
  console.error(`zerocost dev runner: stopping (${why})`);
  const force = setTimeout(() => process.exit(0), 5000);
  force.unref();
  const t0 = performance.now();
  try {
    if (mf) await mf.dispose();
  } catch (err) {
    console.error("dispose:", err);
  }
  console.error(`zerocost dev runner: stopped in ${Math.round(performance.now() - t0)} ms`);
  process.exit(0);
}
const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"];
const onSignal = (sig) => stop(sig);
for (const sig of SIGNALS) process.on(sig, onSignal);
// Miniflare's own exit hook answers these signals by killing workerd and
// exiting at once (code 143); ours disposes it in order. Its "exit" hook stays
// as a backstop.
function keepOnlyOurSignalHandlers() {
  for (const sig of SIGNALS) {
    for (const l of process.listeners(sig)) if (l !== onSignal) process.removeListener(sig, l);
  }
}
// The parent holds our stdin open; EOF means it is gone.
process.stdin.on("end", () => stop("stdin closed"));
process.stdin.on("error", () => stop("stdin error"));
process.stdin.resume();

try {
  const v4 = {
    host: config.host,
    port: config.entryPort ?? 0,
    log: new Log(LogLevel[config.logLevel ?? "INFO"] ?? LogLevel.INFO, { prefix: "miniflare" }),
    handleStructuredLogs: ({ level, message }) => {
      process.stderr.write(`[workerd ${level}] ${message}\n`);
    },
    resourcePersistencePath: config.persist,
    // Placeholder request.cf: never fetch the real one from Cloudflare.
    cf: false,
    telemetry: { enabled: false },
    // The entry socket runs scheduled handlers (cron triggers), for devrun.
    unsafeTriggerHandlers: true,
    workers: config.workers.map(workerOptions),
  };
  const options = typeof miniflare.convertV4MiniflareOptions === "function" ? miniflare.convertV4MiniflareOptions(v4) : v4;
  mf = new Miniflare(options);
  keepOnlyOurSignalHandlers();
  const entry = await mf.ready;
  if (stopping) process.exit(0);
  const workers = {};
  for (const w of config.workers) workers[w.name] = (await mf.unsafeGetDirectURL(w.name)).href;
  await writeKeys(mf, config.keys);
  // Instances a previous run left under way run on (dev/resume.mjs).
  await resumeWorkflows(mf, config);
  let kvApi = "";
  if (config.kvApi) {
    const namespaces = {};
    for (const w of config.workers) {
      for (const [binding, id] of Object.entries(w.options.kvNamespaces ?? {})) namespaces[id] = { worker: w.name, binding };
    }
    kvApi = (await serveKV(mf, config.host, namespaces, databasesOf(config.workers))).url;
  }
  emit({ event: "ready", workers, entry: entry.href, ready_ms: Math.round(performance.now() - started), miniflare: miniflareVersion(), kv_api: kvApi });
} catch (err) {
  if (!stopping) {
    try {
      await mf?.dispose();
    } catch {
      // already failing
    }
    fail(err);
  }
}

function miniflareVersion() {
  try {
    const req = createRequire(path.join(workersDir, "node_modules", "wrangler", "package.json"));
    return JSON.parse(readFileSync(req.resolve("miniflare/package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
}
