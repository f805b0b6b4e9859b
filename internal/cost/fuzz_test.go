package cost

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// FuzzParseProfile feeds arbitrary usage files to the parser. It must never
// panic; every error names the file (and, past the TOML syntax, the field);
// an accepted profile has its defaults applied and values in range, and can be
// forecast on both plans with finite, non-negative totals.
//
//	go test ./internal/cost -run '^$' -fuzz FuzzParseProfile -fuzztime 60s
func FuzzParseProfile(f *testing.F) {
	f.Add(minimal)
	if demo, err := os.ReadFile("../../examples/usage/demo.toml"); err == nil {
		f.Add(string(demo))
	}
	f.Add("plan = \"paid\"\ndays = 31\n" + minimal)
	f.Add(minimal + "cached_prefix_tokens = 400\n")
	f.Add("[[product]]\nname = \"p\"\npattern = \"async-pipeline\"\nrequests = 1e9\ninput_tokens = 1e6\noutput_tokens = 0\nretry_rate = 100\ndead_letter_rate = 1\nmessages_per_batch = 100\n")
	f.Add("[[product]]\nname = \"a\"\npattern = \"event-agent\"\nrequests = 0\ninput_tokens = 0\noutput_tokens = 0\npolls_per_job = 0\nmodel = \"claude-sonnet-4-5\"\n")
	f.Add("[[product]]\nname = \"a\"\npattern = \"event-agent\"\nrequests = inf\ninput_tokens = nan\noutput_tokens = -0.0\n")
	f.Add("[[product]]\nname = \"a\"\npattern = \"event-agent\"\nrequests = 1\ninput_tokens = 1\noutput_tokens = 1\nmodel = \"gpt\"\n")
	f.Add("[[product]]\nname = \"huge\"\npattern = \"edge-cache\"\nrequests = 1.7e308\ninput_tokens = 1.7e308\noutput_tokens = 1e300\ncache_hit_rate = 0\nresult_bytes = 1e308\n")
	f.Add("[product]\nname = 1\n")
	f.Add("days = 1.5\n" + minimal)
	f.Add("[[product]]\n[[product]]\n")
	f.Add("product = []\n")
	f.Add("x = 1\n[[product]]\ny = 2\nz.w = 3\n")
	f.Add("\x00\xff")
	prices, err := DefaultPrices()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := ParseProfile("u.toml", []byte(doc))
		if err != nil {
			if p != nil {
				t.Fatalf("a profile and an error: %v", err)
			}
			for _, e := range unwrapAll(err) {
				if !strings.HasPrefix(e.Error(), "u.toml: ") {
					t.Fatalf("error does not name the file: %q", e)
				}
			}
			return
		}
		if p.Plan != Free && p.Plan != Paid || p.Days < 1 || p.Days > 31 || len(p.Products) == 0 {
			t.Fatalf("accepted %+v", p)
		}
		names := map[string]bool{}
		for _, pp := range p.Products {
			if pp.Name == "" || names[pp.Name] || pp.Model == "" {
				t.Fatalf("accepted product %+v", pp)
			}
			names[pp.Name] = true
			for _, f := range []*float64{pp.Requests, pp.InputTokens, pp.OutputTokens, pp.CachedPrefixTokens, pp.ResultBytes, pp.CPUms} {
				if f == nil || !(*f >= 0) || math.IsInf(*f, 0) {
					t.Fatalf("accepted product %s with a missing, negative or infinite value: %+v", pp.Name, pp)
				}
			}
			switch pp.Pattern {
			case EdgeCache:
				if pp.CacheHitRate == nil || *pp.CacheHitRate < 0 || *pp.CacheHitRate > 1 || pp.PollsPerJob != nil || pp.RetryRate != nil {
					t.Fatalf("edge-cache product %+v", pp)
				}
			case AsyncPipeline:
				if pp.PollsPerJob == nil || pp.MessagesPerBatch == nil || *pp.MessagesPerBatch < 1 || pp.CacheHitRate != nil {
					t.Fatalf("async-pipeline product %+v", pp)
				}
			case EventAgent:
				if pp.PollsPerJob == nil || pp.RetryRate != nil || pp.CacheHitRate != nil {
					t.Fatalf("event-agent product %+v", pp)
				}
			default:
				t.Fatalf("accepted pattern %q", pp.Pattern)
			}
		}
		for _, plan := range []string{Free, Paid} {
			r, err := Forecast(p, prices, plan)
			if err != nil {
				if !strings.Contains(err.Error(), "product ") {
					t.Fatalf("forecast on %s: an error that names no product: %v", plan, err)
				}
				continue // e.g. a model with no price
			}
			for name, v := range map[string]float64{"total": r.TotalUSD, "infra": r.InfraUSD, "ai": r.AIUSD} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("forecast on %s: %s %v for an accepted profile:\n%s", plan, name, v, doc)
				}
			}
		}
	})
}

func unwrapAll(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, e)
	}
	walk(err)
	if len(out) == 0 {
		out = append(out, errors.New("empty error"))
	}
	return out
}
