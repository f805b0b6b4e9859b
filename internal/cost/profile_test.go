package cost

import (
	"strings"
	"testing"
)

const minimal = `
[[product]]
name = "relay"
pattern = "edge-cache"
requests = 1000
input_tokens = 400
output_tokens = 100
cache_hit_rate = 0.5
`

func TestParseProfileDefaults(t *testing.T) {
	p, err := ParseProfile("u.toml", []byte(minimal+`
[[product]]
name = "pipe"
pattern = "async-pipeline"
requests = 10
input_tokens = 1
output_tokens = 1
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Plan != Free || p.Days != 30 {
		t.Errorf("top-level defaults: %+v", p)
	}
	relay, pipe := p.Products[0], p.Products[1]
	if relay.Model != DefaultModel || v(relay.ResultBytes) != DefaultResultBytes ||
		v(relay.CPUms) != DefaultCPUms || relay.PollsPerJob != nil {
		t.Errorf("edge-cache defaults: %+v", relay)
	}
	if v(pipe.PollsPerJob) != DefaultPollsPerJob || v(pipe.MessagesPerBatch) != 1 || v(pipe.RetryRate) != 0 || pipe.CacheHitRate != nil {
		t.Errorf("async-pipeline defaults: %+v", pipe)
	}
}

// Every malformed profile fails with an error that names the field.
func TestParseProfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"unknown top-level key", "colour = 1\n" + minimal, []string{"u.toml", "colour: unknown key", "known: days, monthly_budget_usd, plan, product"}},
		{"unknown product key", minimal + "cache_hit_rat = 0.3\n", []string{"product[0] (relay).cache_hit_rat: unknown key", "cache_hit_rate"}},
		{"unknown key in the second product", minimal + "\n[[product]]\nname = \"b\"\npattern = \"event-agent\"\nrequests = 1\ninput_tokens = 1\noutput_tokens = 1\npols_per_job = 3\n",
			[]string{"product[1] (b).pols_per_job: unknown key"}},
		{"wrong type", strings.Replace(minimal, "requests = 1000", `requests = "many"`, 1), []string{"u.toml", "requests"}},
		{"missing requests", strings.Replace(minimal, "requests = 1000\n", "", 1), []string{"product[0] (relay).requests: missing"}},
		{"missing tokens", strings.Replace(minimal, "output_tokens = 100\n", "", 1), []string{"product[0] (relay).output_tokens: missing"}},
		{"missing name", strings.Replace(minimal, "name = \"relay\"\n", "", 1), []string{"product[0].name: missing"}},
		{"bad pattern", strings.Replace(minimal, `"edge-cache"`, `"edge"`, 1), []string{`product[0] (relay).pattern: "edge" is not a pattern`}},
		{"hit rate above 1", strings.Replace(minimal, "0.5", "1.5", 1), []string{"product[0] (relay).cache_hit_rate: 1.5 is outside 0..1"}},
		{"negative requests", strings.Replace(minimal, "1000", "-1", 1), []string{"product[0] (relay).requests: -1 is below 0"}},
		{"edge-cache without hit rate", strings.Replace(minimal, "cache_hit_rate = 0.5\n", "", 1), []string{"product[0] (relay).cache_hit_rate: missing"}},
		{"field of another pattern", minimal + "retry_rate = 0.1\n", []string{"product[0] (relay).retry_rate: applies to async-pipeline only, not to edge-cache"}},
		{"jobs per request on edge-cache", minimal + "jobs_per_request = 10\n", []string{"product[0] (relay).jobs_per_request: applies to async-pipeline only"}},
		{"jobs per request above POST's limit", strings.Replace(minimal, `"edge-cache"`, `"async-pipeline"`, 1) + "jobs_per_request = 101\n", []string{"jobs_per_request: 101 is outside 1..100"}},
		{"jobs per request in batch mode", strings.Replace(minimal, `"edge-cache"`, `"async-pipeline"`, 1) + "model_mode = \"batch\"\njobs_per_request = 10\n", []string{"jobs_per_request: applies with model_mode = \"realtime\" only"}},
		{"polls on edge-cache", minimal + "polls_per_job = 1\n", []string{"product[0] (relay).polls_per_job: applies to event-agent and async-pipeline only"}},
		{"prefix above input", minimal + "cached_prefix_tokens = 500\n", []string{"product[0] (relay).cached_prefix_tokens: 500 is more than input_tokens (400)"}},
		{"duplicate names", minimal + minimal, []string{"product[1] (relay).name: product[0] has the same name"}},
		{"bad plan", "plan = \"pro\"\n" + minimal, []string{`plan: "pro" is not a plan`}},
		{"days out of range", "days = 0\n" + minimal, []string{"days: 0 is not a month's number of days"}},
		{"no products", "plan = \"free\"\n", []string{"product: no [[product]]"}},
		{"not TOML", "[[product]\n", []string{"u.toml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProfile("u.toml", []byte(tc.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadProfileMissingFile(t *testing.T) {
	if _, err := LoadProfile("testdata/nope.toml"); err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Errorf("got %v", err)
	}
}
