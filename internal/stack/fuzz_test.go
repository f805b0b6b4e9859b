package stack

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary stack files to the parser: it must never panic, and
// every error it returns from validation must name a field.
func FuzzParse(f *testing.F) {
	f.Add(okYAML)
	f.Add("config:\n  zerocost:products: [{name: a, pattern: edge-cache, settings: {cacheTtlSeconds: 59}}]\n")
	f.Add("config:\n  zerocost:accountId: [1, 2]\n")
	f.Add("config: 5\n")
	f.Add("config:\n  zerocost:products: {name: a}\n")
	f.Add("config:\n  zerocost:products:\n    - name: a\n      pattern: async-pipeline\n      settings: {batchSize: -1, maxRetries: 1000}\n")
	f.Add("config:\n  zerocost:prodcts: 1\n  zerocost:products:\n    - {name: a, patern: edge-cache, settings: {cacheTtlSecond: 600, \"x.y\": [1]}, route: {zone: 1}, customDomain: 5}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		vals, err := ParseYAML([]byte(doc))
		if err != nil {
			return
		}
		cfg, err := FromValues("demo", vals)
		if err != nil {
			for _, e := range unwrapAll(err) {
				var fe *Error
				if !errors.As(e, &fe) || !strings.HasPrefix(fe.Field, "zerocost:") && fe.Field != "stack" {
					t.Fatalf("error without a field: %v", e)
				}
			}
			return
		}
		for _, p := range cfg.Products {
			if p.Settings.MaxInputChars <= 0 || p.Settings.RateLimitPerMinute <= 0 || p.Model == "" {
				t.Fatalf("accepted product without defaults: %+v", p)
			}
			if p.Settings.CacheTTLSeconds != 0 && p.Settings.CacheTTLSeconds < 60 {
				t.Fatalf("accepted a cache TTL under 60 s: %+v", p)
			}
		}
	})
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
