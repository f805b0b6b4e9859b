// One vitest project per pattern. Each runs in workerd through
// @cloudflare/vitest-plugin with its test wrangler config
// (test/wrangler/<pattern>.toml, rendered from test/Pulumi.workers-test.yaml
// by `go generate ./internal/workersgen`) and its own model stand-in on
// 127.0.0.1 (internal/devmodel, started by test/node/global-setup.ts), whose
// URL replaces the config's ANTHROPIC_BASE_URL. The secrets are not in the
// config (as in production): the API key is given here, AUTH_TOKEN per test.
// The test stack's products have customer keys (so the env has KEYS and its
// limiters), but ACCESS is "public" here: the pattern tests call the routes
// without keys, and test/keys.test.ts turns keys on (ACCESS "keys") per test.
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

function pattern(name: string, include: string[], project = name, vars: Record<string, string> = {}) {
  // An event agent's bundle carries one runner (src/features.ts): the
  // workflow runner's project binds RUNNER workflow, every other waitUntil.
  const workflow = vars.RUNNER === "workflow";
  if (name === "event-agent" && !workflow) vars = { RUNNER: "waitUntil", ...vars };
  return {
    // The bundler defines these from the plan (internal/bundle, src/features.ts); the tests carry every feature.
    define: { __ZEROCOST_BATCH_MODE__: "true", __ZEROCOST_SPEND_GUARD__: "true", __ZEROCOST_KEYS__: "true", __ZEROCOST_WORKFLOW__: String(workflow) },
    plugins: [
      cloudflareTest(({ inject }) => ({
        main: `./test/entries/${name}.ts`,
        wrangler: { configPath: `./test/wrangler/${name}.toml` },
        miniflare: {
          bindings: {
            ANTHROPIC_BASE_URL: inject("modelUrl"),
            ANTHROPIC_API_KEY: "sk-standin-test-key",
            ACCESS: "public",
            ...vars,
          },
        },
      })),
    ],
    test: {
      name: project,
      include,
      globalSetup: ["./test/node/global-setup.ts"],
      testTimeout: 20_000,
    },
  };
}

// Each pattern's project runs only its own files: test/<pattern>/*.test.ts
// (event-agent: test/event-agent.test.ts) its routes and flow, with the
// setup they share in test/<pattern>/harness.ts; test/ops/<pattern>.test.ts
// measures that pattern's ops per event against contract.gen.ts's
// OPS_PER_EVENT, test/budget/<pattern>.test.ts its spend guard,
// test/callers/<pattern>.test.ts what a stranger meets (the door, HEAD).
export default defineConfig({
  test: {
    projects: [
      pattern("event-agent", [
        "test/event-agent.test.ts",
        "test/ops/event-agent.test.ts",
        "test/budget/event-agent.test.ts",
        "test/budget/customers.test.ts",
        "test/callers/event-agent.test.ts",
        "test/lib/**/*.test.ts",
        "test/keys.test.ts",
      ]),
      // runner: workflow (the default): the jobs run on Miniflare's Workflows.
      pattern("event-agent", ["test/workflow/*.test.ts"], "event-agent-workflow", { RUNNER: "workflow" }),
      pattern("async-pipeline", ["test/async-pipeline/*.test.ts", "test/pack.test.ts", "test/pacing.test.ts", "test/ops/async-pipeline.test.ts", "test/ops/pack.test.ts", "test/budget/async-pipeline.test.ts", "test/budget/customers-pipeline.test.ts", "test/budget/held.test.ts", "test/callers/async-pipeline.test.ts"]),
      // Batch mode (lib/batch/), with its own stand-in: its tests set the
      // stand-in's Message Batches knobs.
      pattern("async-pipeline", ["test/batch/*.test.ts"], "async-pipeline-batch", { MODEL_MODE: "batch", MAX_RETRIES: "2" }),
      pattern("edge-cache", ["test/edge-cache/*.test.ts", "test/ops/edge-cache.test.ts", "test/budget/edge-cache.test.ts", "test/callers/edge-cache.test.ts"]),
      // Node-side tests of the stand-in itself (the official SDK as a client).
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/node/global-setup.ts"],
          testTimeout: 20_000,
        },
      },
    ],
  },
});
