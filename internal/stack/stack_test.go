package stack

import (
	"strings"
	"testing"
)

const okYAML = `
config:
  cloudflare:apiToken:
    secure: AAABAKx
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:anthropicApiKey:
    secure: AAABAJq
  zerocost:products:
    - name: relay
      pattern: edge-cache
    - name: mailer
      pattern: async-pipeline
      settings:
        batchSize: 10
`

func load(t *testing.T, yml string) (*Config, error) {
	t.Helper()
	vals, err := ParseYAML([]byte(yml))
	if err != nil {
		return nil, err
	}
	return FromValues("demo", vals)
}

func TestDefaultsAndSecrets(t *testing.T) {
	cfg, err := load(t, okYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.HasAnthropicAPIKey {
		t.Error("the secure anthropicApiKey was not noticed")
	}
	if cfg.HasAuthToken {
		t.Error("authToken is not set but HasAuthToken is true")
	}
	relay, mailer := cfg.Products[0], cfg.Products[1]
	if relay.Model != DefaultModel || relay.Settings.CacheTTLSeconds != DefaultCacheTTLSeconds || relay.Settings.BatchSize != 0 {
		t.Errorf("edge-cache defaults: %+v", relay)
	}
	s := mailer.Settings
	if s.BatchSize != 10 || s.BatchTimeoutSeconds != 10 || s.MaxRetries != 3 || s.CacheTTLSeconds != 0 || s.MaxInputChars != 4000 {
		t.Errorf("async-pipeline settings: %+v", s)
	}
	if !cfg.RetainData {
		t.Error("data must be retained by default")
	}
	// The door: half the model limiter's rate; a pipeline's at least one full POST of jobs.
	if a, b := relay.Settings.DoorLimit(relay.Pattern), s.DoorLimit(mailer.Pattern); a != DefaultRateLimitPerMinute/2 || b != MaxJobsPerPost {
		t.Errorf("door defaults: edge-cache %d, async-pipeline %d", a, b)
	}
	if n := (Settings{RateLimitPerMinute: 1, DoorLimitPerMinute: 7}).DoorLimit(EdgeCache); n != 7 {
		t.Errorf("a door limit set: %d", n)
	}
}

// Each bad config fails with a message that names the field.
func TestBadConfigNamesTheField(t *testing.T) {
	base := "config:\n  zerocost:accountId: 0123456789abcdef0123456789abcdef\n"
	cases := []struct {
		name, yaml, field, words string
	}{
		{"unknown pattern", base + "  zerocost:products: [{name: a, pattern: chatbot}]\n", "zerocost:products[0].pattern", `"chatbot" is not a pattern`},
		{"bad name", base + "  zerocost:products: [{name: Sales_Engine, pattern: edge-cache}]\n", "zerocost:products[0].name", "not a valid product name"},
		{"duplicate name", base + "  zerocost:products: [{name: a, pattern: edge-cache}, {name: a, pattern: event-agent}]\n", "zerocost:products[1].name", "must be unique"},
		{"missing account id", "config:\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:accountId", "missing"},
		{"bad account id", "config:\n  zerocost:accountId: acme\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:accountId", "not a Cloudflare account id"},
		{"no products", base, "zerocost:products", "missing"},
		{"unknown product field", base + "  zerocost:products: [{name: a, pattern: edge-cache, ttl: 5}]\n", "zerocost:products[0].ttl", "unknown field (known: access, crons, customDomain, hooks, model, name, pattern, route, settings, systemPrompt, systemPromptFile, tiers)"},
		{"bad access", base + "  zerocost:products: [{name: a, pattern: edge-cache, access: open}]\n", "zerocost:products[0].access", `"open" is not an access mode (one of: keys, public)`},
		{"tiers of a public product", base + "  zerocost:products: [{name: a, pattern: edge-cache, access: public, tiers: {pro: 600}}]\n", "zerocost:products[0].tiers", "a public product has no customer keys"},
		{"bad tier name", base + "  zerocost:products: [{name: a, pattern: edge-cache, tiers: {Pro-1: 600}}]\n", "zerocost:products[0].tiers", `"Pro-1" is not a tier name`},
		{"bad tier limit", base + "  zerocost:products: [{name: a, pattern: edge-cache, tiers: {pro: 0}}]\n", "zerocost:products[0].tiers.pro", "0 is out of range"},
		{"pipeline tier below one POST", base + "  zerocost:products: [{name: a, pattern: async-pipeline, tiers: {pro: 99}}]\n", "zerocost:products[0].tiers.pro", "99 is below 100: an async pipeline's tier counts jobs"},
		{"unknown setting", base + "  zerocost:products: [{name: a, pattern: edge-cache, settings: {cacheTtlSecond: 600}}]\n", "zerocost:products[0].settings.cacheTtlSecond", "unknown field; did you mean cacheTtlSeconds?"},
		{"unknown route key", base + "  zerocost:products: [{name: a, pattern: edge-cache, route: {pattern: 'x.com/*', zone: 0123456789abcdef0123456789abcdef}}]\n", "zerocost:products[0].route.zone", "unknown field; did you mean zoneId?"},
		{"unknown custom domain key", base + "  zerocost:products: [{name: a, pattern: edge-cache, customDomain: {host: a.x.com, zoneId: 0123456789abcdef0123456789abcdef}}]\n", "zerocost:products[0].customDomain.host", "unknown field; did you mean hostname?"},
		{"setting one level up", base + "  zerocost:products: [{name: a, pattern: async-pipeline, batchSize: 3}]\n", "zerocost:products[0].batchSize", "unknown field; did you mean settings.batchSize?"},
		{"unknown key", base + "  zerocost:product: []\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:product", "unknown key; did you mean products?"},
		{"unknown key, nothing near", base + "  zerocost:region: eu\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:region", "unknown key (known: accountId, "},
		{"setting of another pattern", base + "  zerocost:products: [{name: a, pattern: edge-cache, settings: {batchSize: 3}}]\n", "zerocost:products[0].settings.batchSize", "not a setting of the edge-cache pattern"},
		{"batch too big", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {batchSize: 500}}]\n", "zerocost:products[0].settings.batchSize", "out of range"},
		{"pipeline input over a queue message", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {maxInputChars: 40000}}]\n", "zerocost:products[0].settings.maxInputChars", "128 KB"},
		{"pipeline door under one POST", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {doorLimitPerMinute: 50}}]\n", "zerocost:products[0].settings.doorLimitPerMinute", "one POST /jobs carries up to 100 jobs"},
		{"cache ttl under 60", base + "  zerocost:products: [{name: a, pattern: edge-cache, settings: {cacheTtlSeconds: 30}}]\n", "zerocost:products[0].settings.cacheTtlSeconds", "out of range 60.."},
		{"removed job ttl", base + "  zerocost:products: [{name: a, pattern: event-agent, settings: {jobTtlSeconds: 3600}}]\n", "zerocost:products[0].settings.jobTtlSeconds", "jobTtlSeconds was removed: job records live in R2"},
		{"removed kv inline size", base + "  zerocost:products: [{name: a, pattern: edge-cache, settings: {kvInlineMaxBytes: 100}}]\n", "zerocost:products[0].settings.kvInlineMaxBytes", "kvInlineMaxBytes was removed: edge-cache keeps its answers in R2 and the Cache API"},
		{"removed setting, other spelling", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {job_ttl_seconds: 60}}]\n", "zerocost:products[0].settings.job_ttl_seconds", "jobTtlSeconds was removed"},
		{"removed setting one level up", base + "  zerocost:products: [{name: a, pattern: event-agent, jobTtlSeconds: 60}]\n", "zerocost:products[0].jobTtlSeconds", "jobTtlSeconds was removed"},
		{"wrong type", base + "  zerocost:products: [{name: a, pattern: edge-cache, settings: {cacheTtlSeconds: soon}}]\n", "zerocost:products[0].settings.cacheTtlSeconds", "must be an integer, not a JSON string"},
		{"wrong type of list", base + "  zerocost:products: [{name: a, pattern: edge-cache, crons: '* * * * *'}]\n", "zerocost:products[0].crons", "must be a list of strings, not a JSON string"},
		{"product not a map", base + "  zerocost:products: [edge-cache]\n", "zerocost:products[0]", "must be a map of keys, not a JSON string"},
		{"api key in clear", base + "  zerocost:anthropicApiKey: sk-ant-123\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:anthropicApiKey", "must be a secret"},
		{"route with scheme", base + "  zerocost:products: [{name: a, pattern: edge-cache, route: {pattern: 'https://x.com/*', zoneId: 0123456789abcdef0123456789abcdef}}]\n", "zerocost:products[0].route.pattern", "no scheme"},
		{"route and domain", base + "  zerocost:products: [{name: a, pattern: edge-cache, route: {pattern: 'x.com/*', zoneId: 0123456789abcdef0123456789abcdef}, customDomain: {hostname: a.x.com, zoneId: 0123456789abcdef0123456789abcdef}}]\n", "zerocost:products[0].customDomain", "not both"},
		{"bad cron", base + "  zerocost:products: [{name: a, pattern: edge-cache, crons: ['every hour']}]\n", "zerocost:products[0].crons[0]", "want five fields"},
		{"cron out of range", base + "  zerocost:products: [{name: a, pattern: edge-cache, crons: ['0 0 * * 0']}]\n", "zerocost:products[0].crons[0]", "day of week: 0 is out of range 1-7 (1 = Sunday"},
		{"model mode elsewhere", base + "  zerocost:products: [{name: a, pattern: event-agent, settings: {modelMode: batch}}]\n", "zerocost:products[0].settings.modelMode", "is not a setting of the event-agent pattern"},
		{"model mode unknown", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {modelMode: batched}}]\n", "zerocost:products[0].settings.modelMode", `"batched" is not a valid modelMode (one of: realtime, batch)`},
		{"poll cron in realtime", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {batchPollCron: '*/10 * * * *'}}]\n", "zerocost:products[0].settings.batchPollCron", "applies only with modelMode: batch"},
		{"poll cron elsewhere", base + "  zerocost:products: [{name: a, pattern: edge-cache, settings: {batchPollCron: '*/10 * * * *'}}]\n", "zerocost:products[0].settings.batchPollCron", "is not a setting of the edge-cache pattern"},
		{"bad poll cron", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {modelMode: batch, batchPollCron: '*/61 * * * *'}}]\n", "zerocost:products[0].settings.batchPollCron", "minute: step"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.yaml)
			if err == nil {
				t.Fatal("accepted a bad config")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.field+":") || !strings.Contains(msg, c.words) {
				t.Errorf("error %q does not name %s with %q", msg, c.field, c.words)
			}
		})
	}
}

func TestSecretInsideStructuredValueRefused(t *testing.T) {
	_, err := ParseYAML([]byte("config:\n  zerocost:products:\n    - name: a\n      token:\n        secure: AAAB\n"))
	if err == nil || !strings.Contains(err.Error(), "zerocost:products") {
		t.Fatalf("got %v", err)
	}
}

func TestResolvePathStaysInProject(t *testing.T) {
	if _, err := ResolvePath("/p", "../etc/passwd"); err == nil {
		t.Error("a path leaving the project was accepted")
	}
	if _, err := ResolvePath("/p", "/etc/passwd"); err == nil {
		t.Error("an absolute path was accepted")
	}
	if got, err := ResolvePath("/p", "hooks/a.ts"); err != nil || got != "/p/hooks/a.ts" {
		t.Errorf("got %q, %v", got, err)
	}
}

// A new user's stack with two typos gets both, each with its full path and
// the key that was meant, and nothing else.
func TestEveryUnknownKeyAtOnce(t *testing.T) {
	const yml = `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:compatibilityDat: 2026-06-01
  zerocost:products:
    - name: relay
      pattern: edge-cache
      sytemPrompt: Answer in one sentence.
      settings: {cacheTtlSecond: 600, CacheTTLSeconds: 600, rate_limit_per_minute: 5, "a.b": 1}
    - name: mailer
      pattern: async-pipeline
      modle: claude-haiku-4-5
      route: {patern: 'x.com/*', zoneId: 0123456789abcdef0123456789abcdef}
`
	_, err := load(t, yml)
	if err == nil {
		t.Fatal("accepted a config with unknown keys")
	}
	want := []string{
		`zerocost:compatibilityDat: unknown key; did you mean compatibilityDate?`,
		`zerocost:products[0].settings.CacheTTLSeconds: unknown field; did you mean cacheTtlSeconds?`,
		`zerocost:products[0].settings["a.b"]: unknown field (known: batchPollCron, batchSize, batchTimeoutSeconds, budgetAlertThresholds, budgetAlertWebhook, cacheTtlSeconds, doorLimitPerMinute, maxConcurrency, maxInputChars, maxOutputTokens, maxRetries, modelMode, modelTimeoutMs, monthlyBudgetUsd, rateLimitNamespaceId, rateLimitPerMinute, retentionDays, retryDelaySeconds, runner)`,
		`zerocost:products[0].settings.cacheTtlSecond: unknown field; did you mean cacheTtlSeconds?`,
		`zerocost:products[0].settings.rate_limit_per_minute: unknown field; did you mean rateLimitPerMinute?`,
		`zerocost:products[0].sytemPrompt: unknown field; did you mean systemPrompt?`,
		`zerocost:products[1].modle: unknown field; did you mean model?`,
		`zerocost:products[1].route.patern: unknown field; did you mean pattern?`,
	}
	var got []string
	for _, e := range unwrapAll(err) {
		got = append(got, e.Error())
	}
	// The route without a pattern is reported too: the rest of a product is
	// checked as usual.
	want = append(want, `zerocost:products[1].route.pattern: "" must be a route pattern like example.com/ai/* (no scheme)`)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"batchSize", "batchTimeoutSeconds", "cacheTtlSeconds", "hostname", "jobTtlSeconds", "name", "pattern", "zoneId"}
	for key, want := range map[string]string{
		"cacheTtlSecond":    "cacheTtlSeconds", // a deletion
		"cachettlseconds":   "cacheTtlSeconds", // case
		"cache_ttl_seconds": "cacheTtlSeconds", // separators
		"cahceTtlSeconds":   "cacheTtlSeconds", // a swap
		"nmae":              "name",
		"patten":            "pattern",
		"zone":              "zoneId",   // cut short
		"host":              "hostname", // cut short
		"batch":             "",         // two keys start with it
		"ttl":               "",
		"x":                 "",
		"":                  "",
		"cacheTtl":          "cacheTtlSeconds", // cut short
		"ttlSeconds":        "",                // two keys end with it
	} {
		if got := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"ab", "ba", 1},
		{"sytemprompt", "systemprompt", 1}, {"ca", "abc", 3}, {"héllo", "hello", 1},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := editDistance(c.b, c.a); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.b, c.a, got, c.want)
		}
	}
}

// The known keys are the structs' json names.
func TestKnownKeysFollowTheStructs(t *testing.T) {
	if got := strings.Join(productKeys, " "); got != "access crons customDomain hooks model name pattern route settings systemPrompt systemPromptFile tiers" {
		t.Errorf("product keys %s", got)
	}
	if got := strings.Join(routeKeys, " ") + " / " + strings.Join(customDomainKeys, " "); got != "pattern zoneId / hostname zoneId" {
		t.Errorf("route / custom domain keys %s", got)
	}
	if len(settingsKeys) != 19 || !contains(settingsKeys, "runner") || !contains(settingsKeys, "retentionDays") || !contains(settingsKeys, "maxConcurrency") || !contains(settingsKeys, "modelMode") {
		t.Errorf("settings keys %v", settingsKeys)
	}
	// A removed setting is no setting, or it would be accepted.
	for k := range removedSettings {
		if contains(settingsKeys, k) {
			t.Errorf("%s is both a setting and removed", k)
		}
	}
}

// modelMode: async-pipeline only, realtime by default; batch mode adds the
// poller's cron (default every 5 minutes) to the product's own, once.
func TestModelMode(t *testing.T) {
	const base = "config:\n  zerocost:accountId: 0123456789abcdef0123456789abcdef\n"
	cfg, err := load(t, base+`  zerocost:products:
    - {name: rt, pattern: async-pipeline}
    - {name: bt, pattern: async-pipeline, crons: ['0 * * * *'], settings: {modelMode: batch}}
    - {name: own, pattern: async-pipeline, crons: ['*/10 * * * *'], settings: {modelMode: batch, batchPollCron: '*/10 * * * *'}}
    - {name: ea, pattern: event-agent}
`)
	if err != nil {
		t.Fatal(err)
	}
	rt, bt, own, ea := cfg.Products[0], cfg.Products[1], cfg.Products[2], cfg.Products[3]
	if rt.Settings.ModelMode != ModelModeRealtime || rt.Settings.BatchPollCron != "" || len(rt.CronTriggers()) != 0 {
		t.Errorf("realtime: %+v %v", rt.Settings, rt.CronTriggers())
	}
	if bt.Settings.ModelMode != ModelModeBatch || bt.Settings.BatchPollCron != DefaultBatchPollCron ||
		strings.Join(bt.CronTriggers(), "|") != "0 * * * *|*/5 * * * *" || len(bt.Crons) != 1 {
		t.Errorf("batch: %+v %v %v", bt.Settings, bt.CronTriggers(), bt.Crons)
	}
	if got := own.CronTriggers(); len(got) != 1 || got[0] != "*/10 * * * *" {
		t.Errorf("a poll cron equal to an own cron is one trigger: %v", got)
	}
	if ea.Settings.ModelMode != "" || ea.Settings.BatchPollCron != "" {
		t.Errorf("event-agent: %+v", ea.Settings)
	}
}

// access defaults to keys with the one default tier; public is explicit and has no tiers.
func TestAccessDefaults(t *testing.T) {
	cfg, err := FromValues("dev", map[string]Value{
		KeyAccountID: {Text: "0123456789abcdef0123456789abcdef"},
		KeyProducts:  {Text: `[{"name":"a","pattern":"edge-cache"},{"name":"b","pattern":"event-agent","access":"public"},{"name":"c","pattern":"event-agent","tiers":{"pro":600,"free":10}}]`},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := cfg.Products[0], cfg.Products[1], cfg.Products[2]
	if !a.HasKeys() || len(a.Tiers) != 1 || a.Tiers[DefaultTier] != DefaultTierPerMinute {
		t.Errorf("a: access %q tiers %v, want keys with %s: %d", a.Access, a.Tiers, DefaultTier, DefaultTierPerMinute)
	}
	if b.HasKeys() || b.Tiers != nil {
		t.Errorf("b: access %q tiers %v, want public without tiers", b.Access, b.Tiers)
	}
	if got := strings.Join(c.TierNames(), ","); got != "free,pro" {
		t.Errorf("c: tiers %s, want free,pro (its own, sorted, no default added)", got)
	}
}

// runner: an event agent's, workflow unless set; modelTimeoutMs follows what
// runs the call: 25 s inside waitUntil, minutes elsewhere, and an async
// pipeline's batch must end inside the consumer's 15 minutes.
func TestRunnerAndModelTimeout(t *testing.T) {
	const base = "config:\n  zerocost:accountId: 0123456789abcdef0123456789abcdef\n"
	cfg, err := load(t, base+`  zerocost:products:
    - {name: wf, pattern: event-agent, settings: {modelTimeoutMs: 300000}}
    - {name: wu, pattern: event-agent, settings: {runner: waitUntil}}
    - {name: ap, pattern: async-pipeline, settings: {modelTimeoutMs: 120000, batchSize: 6}}
    - {name: ec, pattern: edge-cache, settings: {modelTimeoutMs: 600000}}
`)
	if err != nil {
		t.Fatal(err)
	}
	if wf, wu, ap := cfg.Products[0], cfg.Products[1], cfg.Products[2]; wf.Settings.Runner != RunnerWorkflow || wu.Settings.Runner != RunnerWaitUntil || ap.Settings.Runner != "" {
		t.Errorf("runners %q %q %q", wf.Settings.Runner, wu.Settings.Runner, ap.Settings.Runner)
	}
	for _, c := range []struct{ products, want string }{
		{`[{name: wu, pattern: event-agent, settings: {runner: waitUntil, modelTimeoutMs: 30000}}]`, "30000 is out of range 100..25000 (with runner: waitUntil"},
		{`[{name: wf, pattern: event-agent, settings: {runner: queue}}]`, `"queue" is not a valid runner (one of: workflow, waitUntil)`},
		{`[{name: ec, pattern: edge-cache, settings: {runner: workflow}}]`, "runner: is not a setting of the edge-cache pattern"},
		{`[{name: ec, pattern: edge-cache, settings: {modelTimeoutMs: 600001}}]`, "600001 is out of range 100..600000"},
		// 7 jobs go out in 2 waves of 6 connections, each 2 attempts of 7 min: 28.2 min.
		{`[{name: ap, pattern: async-pipeline, settings: {modelTimeoutMs: 420000, batchSize: 7}}]`, "cannot finish inside the queue consumer's 15-minute wall time"},
	} {
		_, err := load(t, base+"  zerocost:products: "+c.products+"\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.products, err, c.want)
		}
	}
	if got := PipelineBatchMs(7, 420_000); got != 2*(2*420_000+5_000) {
		t.Errorf("PipelineBatchMs(7, 420000) = %d", got)
	}
}
