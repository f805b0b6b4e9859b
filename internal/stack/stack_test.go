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
	if relay.Model != DefaultModel || relay.Settings.CacheTTLSeconds != DefaultCacheTTLSeconds || relay.Settings.JobTTLSeconds != 0 {
		t.Errorf("edge-cache defaults: %+v", relay)
	}
	s := mailer.Settings
	if s.BatchSize != 10 || s.BatchTimeoutSeconds != 10 || s.MaxRetries != 3 || s.JobTTLSeconds != 3600 || s.MaxInputChars != 4000 {
		t.Errorf("async-pipeline settings: %+v", s)
	}
	if !cfg.RetainData {
		t.Error("data must be retained by default")
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
		{"unknown product field", base + "  zerocost:products: [{name: a, pattern: edge-cache, ttl: 5}]\n", "zerocost:products[0]", `unknown field "ttl"`},
		{"unknown key", base + "  zerocost:product: []\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:product", "unknown key"},
		{"setting of another pattern", base + "  zerocost:products: [{name: a, pattern: edge-cache, settings: {batchSize: 3}}]\n", "zerocost:products[0].settings.batchSize", "not a setting of the edge-cache pattern"},
		{"batch too big", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {batchSize: 500}}]\n", "zerocost:products[0].settings.batchSize", "out of range"},
		{"pipeline input over a queue message", base + "  zerocost:products: [{name: a, pattern: async-pipeline, settings: {maxInputChars: 40000}}]\n", "zerocost:products[0].settings.maxInputChars", "128 KB"},
		{"ttl under 60", base + "  zerocost:products: [{name: a, pattern: event-agent, settings: {jobTtlSeconds: 30}}]\n", "zerocost:products[0].settings.jobTtlSeconds", "at least 60"},
		{"wrong type", base + "  zerocost:products: [{name: a, pattern: edge-cache, settings: {cacheTtlSeconds: soon}}]\n", "zerocost:products[0]", "must be a int"},
		{"api key in clear", base + "  zerocost:anthropicApiKey: sk-ant-123\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:anthropicApiKey", "must be a secret"},
		{"route with scheme", base + "  zerocost:products: [{name: a, pattern: edge-cache, route: {pattern: 'https://x.com/*', zoneId: 0123456789abcdef0123456789abcdef}}]\n", "zerocost:products[0].route.pattern", "no scheme"},
		{"route and domain", base + "  zerocost:products: [{name: a, pattern: edge-cache, route: {pattern: 'x.com/*', zoneId: 0123456789abcdef0123456789abcdef}, customDomain: {hostname: a.x.com, zoneId: 0123456789abcdef0123456789abcdef}}]\n", "zerocost:products[0].customDomain", "not both"},
		{"bad cron", base + "  zerocost:products: [{name: a, pattern: edge-cache, crons: ['every hour']}]\n", "zerocost:products[0].crons[0]", "five-field"},
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
