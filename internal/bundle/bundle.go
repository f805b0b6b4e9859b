// Package bundle builds a product's Worker with esbuild's Go API: the pattern's
// TypeScript (embedded from workers-src/src) plus the product's optional hooks
// module, as one minified ES module. No Node is needed.
package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/zerocost/zerocost"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/stack"
)

// Prefix is the import prefix that names zerocost's own Worker sources, e.g.
// `import type { Hooks } from "zerocost:hooks"` in a user's hooks module.
const Prefix = "zerocost:"

const namespace = "zerocost"

// SizeGoal is the size each bundle with the default hooks stays under (the
// goal docs/BENCHMARKS.md measures), but for an async pipeline that carries
// the spend guard.
const SizeGoal = 25 * 1024

// GuardedPipelineSize bounds an async pipeline with the spend guard (a budget
// in the stack): the guard's check, record, alerts, parking and admin routes
// (lib/spend/, about 11.5 KB), the claim of each model call (lib/claim.ts)
// and the held copies of dead and parked records (lib/held.ts: 0.7 KB,
// 38,141 -> 38,853 bytes on the demo's email-worker with keys) put it over
// SizeGoal, a miss recorded in docs/BENCHMARKS.md; batch mode (lib/batch/,
// about 10 KB) comes on top when it is on. Packed queue messages and the
// limiter's pacing (lib/pack.ts, patterns/async-pipeline/pack.ts and
// pacing.ts) added 3.4 KB: the demo's email-worker went from 38,141 to 41,541
// bytes (2026-12-07) before the held copies.
const GuardedPipelineSize = 39 * 1024

// KeysAllowance is what the customer key check (lib/keys.ts: the header
// parsing, the checksum, the cache, the limits and their messages; the
// customer in job ids, records and data points) adds to a product with keys,
// on top of SizeGoal or GuardedPipelineSize: measured 3.1 to 3.5 KB minified
// on the demo stack, a miss recorded in docs/BENCHMARKS.md.
const KeysAllowance = 3584

// CustomerSpendAllowance is what the spend guard's customer scope
// (lib/spend/customer.ts: the customer's check and record statements, the
// payer carried to the model client, the budget read by the key's hash)
// adds to a product with keys and the spend store: measured 2,567 to 2,621
// bytes minified on the demo's edge cache and event agents (2026-12-07), a
// miss recorded in docs/BENCHMARKS.md. An async pipeline also carries the
// customer through its messages, parked jobs (parked_payers) and batch
// records: CustomerPipelineAllowance, measured 3,817 bytes on the demo's
// email-worker. A customer's budget alerts (lib/spend/alerts.ts, and the
// budget a Workflow instance carries) added 406 bytes (edge cache, pipeline)
// to 524 (the event agents on Workflows): 33,287 -> 33,811 bytes on
// sales-engine (2026-12-07). Recording several calls of one payer in one
// upsert (guard.ts recordCalls, customer.ts tallyOf: batch mode settles an
// ended batch per payer) added 361 bytes to every guarded bundle: 33,910 ->
// 34,271 on sales-engine (2026-12-07).
const (
	CustomerSpendAllowance    = 3584
	CustomerPipelineAllowance = 4352
)

// WorkflowAllowance is what the Workflow runner (lib/workflow.ts: the
// Workflow class, its model and record steps, GET's instance status) adds to
// an event agent on runner: workflow over the waitUntil runner it replaces:
// measured 1.15 KB minified on the demo's sales-engine (25,946 -> 27,097
// bytes), a miss of SizeGoal recorded in docs/BENCHMARKS.md.
const WorkflowAllowance = 1536

// Result is one bundled Worker.
type Result struct {
	Product string
	Code    []byte
}

// Options choose the sources; the zero value uses the embedded sources.
type Options struct {
	// Sources is the tree holding src/ (defaults to the embedded workers-src).
	Sources fs.FS
	// Minify defaults to true; set NoMinify for readable output.
	NoMinify bool
}

// Product bundles one product's Worker. projectDir resolves its hooks module.
func Product(pr *plan.Product, projectDir string, opts Options) (*Result, error) {
	src := opts.Sources
	if src == nil {
		sub, err := fs.Sub(zerocost.WorkerSources, "workers-src/src")
		if err != nil {
			return nil, err
		}
		src = sub
	}
	projectDir, err := filepath.Abs(projectDir)
	if err != nil {
		return nil, err
	}
	entry, err := Entry(pr, projectDir)
	if err != nil {
		return nil, err
	}
	minify := !opts.NoMinify
	res := api.Build(api.BuildOptions{
		Stdin: &api.StdinOptions{
			Contents:   entry,
			ResolveDir: projectDir,
			Sourcefile: pr.Name + "-entry.ts",
			Loader:     api.LoaderTS,
		},
		Bundle:            true,
		Write:             false,
		Format:            api.FormatESModule,
		Platform:          api.PlatformNeutral,
		Target:            api.ES2022,
		Conditions:        []string{"workerd", "worker", "browser"},
		MainFields:        []string{"module", "main"},
		MinifyWhitespace:  minify,
		MinifyIdentifiers: minify,
		MinifySyntax:      minify,
		LegalComments:     api.LegalCommentsNone,
		Charset:           api.CharsetUTF8,
		LogLevel:          api.LogLevelSilent,
		Plugins:           []api.Plugin{embedded(src)},
		// The runtime's own modules (cloudflare:workers for the Workflow
		// class, cloudflare:workflows): workerd provides them.
		External: []string{"cloudflare:*"},
		Define:   Defines(pr),
	})
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
		return nil, fmt.Errorf("bundling %s:\n%s", pr.Name, strings.Join(msgs, ""))
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("bundling %s: esbuild wrote %d files, want 1", pr.Name, len(res.OutputFiles))
	}
	return &Result{Product: pr.Name, Code: res.OutputFiles[0].Contents}, nil
}

// Defines are the compile-time constants of a product's bundle: the
// optional features its plan turns on, so that a bundle leaves out the code
// of the ones it does not use (workers-src/src/features.ts):
// __ZEROCOST_SPEND_GUARD__ when the stack has a budget or a product with keys (SPEND is bound:
// lib/spend/), __ZEROCOST_BATCH_MODE__ for an async pipeline whose
// MODEL_MODE is batch (lib/batch/), __ZEROCOST_KEYS__ for a product with
// customer keys (KEYS is bound: lib/keys.ts), __ZEROCOST_WORKFLOW__ for an
// event agent on runner: workflow (lib/workflow.ts; the waitUntil runner's
// code is left out).
func Defines(pr *plan.Product) map[string]string {
	batch := false
	if b := pr.Binding(contract.VarModelMode); b != nil && b.Type == plan.PlainText {
		batch = pr.Pattern == stack.AsyncPipeline && b.Target == "batch"
	}
	guard := pr.Binding(contract.Spend) != nil
	workflow := false
	if b := pr.Binding(contract.JobWorkflow); b != nil {
		workflow = pr.Pattern == stack.EventAgent && b.Type == plan.Workflow
	}
	return map[string]string{
		"__ZEROCOST_BATCH_MODE__":  strconv.FormatBool(batch),
		"__ZEROCOST_SPEND_GUARD__": strconv.FormatBool(guard),
		"__ZEROCOST_KEYS__":        strconv.FormatBool(pr.Binding(contract.Keys) != nil),
		"__ZEROCOST_WORKFLOW__":    strconv.FormatBool(workflow),
	}
}

// Entry is the generated entry module of a product's Worker: the Worker,
// and the class of each Workflow it binds (an event agent on runner:
// workflow exports contract.JobWorkflowClass).
func Entry(pr *plan.Product, projectDir string) (string, error) {
	var b strings.Builder
	workflow := Defines(pr)["__ZEROCOST_WORKFLOW__"] == "true"
	imports := "createWorker"
	if workflow {
		imports += ", createJobWorkflow"
	}
	fmt.Fprintf(&b, "import { %s } from %s;\n", imports, strconv.Quote(Prefix+"patterns/"+pr.Pattern))
	hooks := "{}"
	if pr.Hooks != "" {
		p, err := stack.ResolvePath(projectDir, pr.Hooks)
		if err != nil {
			return "", fmt.Errorf("zerocost:products[%s].hooks: %w", pr.Name, err)
		}
		fmt.Fprintf(&b, "import * as hooks from %s;\n", strconv.Quote(filepath.ToSlash(p)))
		hooks = "hooks"
	}
	fmt.Fprintf(&b, "export default createWorker(%s);\n", hooks)
	if workflow {
		fmt.Fprintf(&b, "export const %s = createJobWorkflow(%s);\n", contract.JobWorkflowClass, hooks)
	}
	return b.String(), nil
}

// embedded resolves "zerocost:..." imports, and relative imports among them,
// from the Worker sources.
func embedded(src fs.FS) api.Plugin {
	return api.Plugin{
		Name: "zerocost-sources",
		Setup: func(build api.PluginBuild) {
			build.OnResolve(api.OnResolveOptions{Filter: "^" + Prefix},
				func(a api.OnResolveArgs) (api.OnResolveResult, error) {
					p, err := find(src, strings.TrimPrefix(a.Path, Prefix))
					return api.OnResolveResult{Path: p, Namespace: namespace}, err
				})
			build.OnResolve(api.OnResolveOptions{Filter: `^\.\.?/`, Namespace: namespace},
				func(a api.OnResolveArgs) (api.OnResolveResult, error) {
					p, err := find(src, path.Join(path.Dir(a.Importer), a.Path))
					return api.OnResolveResult{Path: p, Namespace: namespace}, err
				})
			build.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: namespace},
				func(a api.OnLoadArgs) (api.OnLoadResult, error) {
					b, err := fs.ReadFile(src, a.Path)
					if err != nil {
						return api.OnLoadResult{}, err
					}
					s := string(b)
					return api.OnLoadResult{Contents: &s, Loader: api.LoaderTS}, nil
				})
		},
	}
}

// find maps an import path to a file of the source tree, trying the extensions
// TypeScript would.
func find(src fs.FS, p string) (string, error) {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	base := strings.TrimSuffix(p, ".js")
	for _, c := range []string{p, base + ".ts", base + "/index.ts"} {
		if st, err := fs.Stat(src, c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", errors.New("no such zerocost source: " + p)
}
