package cost

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/golden"
	"github.com/zerocost/zerocost/internal/stack"
)

// demoCase prices the demo profile against the demo stack, edited by edit.
func demoCase(t *testing.T, edit func(*StackFacts) string) *Report {
	t.Helper()
	cfg, err := stack.LoadFile("../..", "demo")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../examples/usage/demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	facts := FactsOf(cfg)
	extra := ""
	if edit != nil {
		extra = edit(facts)
	}
	prof, err := ParseProfileFor("examples/usage/demo.toml", append(data, extra...), facts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Forecast(prof, defaultPrices(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func toSonnet(f *StackFacts) string {
	for i := range f.Products {
		if f.Products[i].Name == "ai-relay" {
			f.Products[i].Model = "claude-sonnet-4-5"
		}
	}
	return ""
}

// addFAQ adds an edge-cache product to the stack and its traffic to the profile.
func addFAQ(f *StackFacts) string {
	f.Products = append(f.Products, StackProduct{Index: len(f.Products), Name: "faq-bot", Pattern: EdgeCache, Model: "claude-haiku-4-5"})
	return "\n[[product]]\nname = \"faq-bot\"\nrequests = 90000\ninput_tokens = 300\noutput_tokens = 120\ncache_hit_rate = 0.8\nresult_bytes = 800\n"
}

func demoDiff(t *testing.T, edit func(*StackFacts) string) *Diff {
	t.Helper()
	d := Compare(demoCase(t, nil), demoCase(t, edit))
	d.Stack, d.Base, d.Head = "demo", "git main", "working tree"
	return d
}

func TestGoldenDiff(t *testing.T) {
	for name, edit := range map[string]func(*StackFacts) string{"sonnet": toSonnet, "added": addFAQ} {
		for format, ext := range map[string]string{"table": "txt", "json": "json", "markdown": "md"} {
			t.Run(name+"."+ext, func(t *testing.T) {
				var b bytes.Buffer
				if err := WriteDiff(&b, demoDiff(t, edit), format); err != nil {
					t.Fatal(err)
				}
				golden.Check(t, "diff."+name+"."+ext, b.Bytes())
			})
		}
	}
}

// Switching ai-relay to Sonnet 4.5 triples its model cost: 18,240 misses of
// 400 in / 100 out tokens, at $3 / $15 instead of $1 / $5 per million.
func TestDiffSonnet(t *testing.T) {
	d := demoDiff(t, toSonnet)
	haiku := 48000 * 0.38 * (400*1 + 100*5) / 1e6
	var relay *ProductDiff
	for i := range d.Products {
		if d.Products[i].Name == "ai-relay" {
			relay = &d.Products[i]
		} else if d.Products[i].Status != Unchanged {
			t.Errorf("%s: %s, want unchanged", d.Products[i].Name, d.Products[i].Status)
		}
	}
	if relay == nil || relay.Status != Changed || !near(relay.AIUSD.Base, haiku) || !near(relay.AIUSD.Delta, 2*haiku) || relay.InfraUSD.Delta != 0 {
		t.Fatalf("ai-relay %+v", relay)
	}
	if relay.HeadModels[0] != "claude-sonnet-4-5" || !near(d.TotalUSD.Delta, 2*haiku) {
		t.Errorf("models %v, total %+v", relay.HeadModels, d.TotalUSD)
	}
	if !strings.HasPrefix(d.Summary, "This change costs $32.83 more a month: $24.12 to $56.95") {
		t.Errorf("summary %q", d.Summary)
	}
}

// An added product shows as added, costs its own, and takes free-tier
// capacity from the stack.
func TestDiffAddedProduct(t *testing.T) {
	d := demoDiff(t, addFAQ)
	last := d.Products[len(d.Products)-1]
	if last.Name != "faq-bot" || last.Status != Added || last.AIUSD.Base != 0 || last.AIUSD.Head <= 0 || last.Requests.Head != 90000 {
		t.Errorf("faq-bot %+v", last)
	}
	if d.Capacity == nil || !(d.Capacity.HeadScale < d.Capacity.BaseScale) || !strings.Contains(d.Summary, "headroom goes from 41x to 20x") {
		t.Errorf("stack capacity %+v", d.Capacity)
	}
	// The reverse diff removes it.
	r := Compare(demoCase(t, addFAQ), demoCase(t, nil))
	if p := r.Products[len(r.Products)-1]; p.Name != "faq-bot" || p.Status != Removed || !strings.Contains(r.Summary, "saves") {
		t.Errorf("reverse: %+v, %q", p, r.Summary)
	}
}

// A change that breaks a Workers Free limit adds its warning; undoing it
// removes it.
func TestDiffWarnings(t *testing.T) {
	bulk := func(f *StackFacts) string {
		f.Products = append(f.Products, StackProduct{Index: len(f.Products), Name: "bulk", Pattern: AsyncPipeline, Model: "claude-haiku-4-5", ModelMode: ModeRealtime, BatchSize: 5})
		return "\n[[product]]\nname = \"bulk\"\nrequests = 300000\ninput_tokens = 100\noutput_tokens = 10\n"
	}
	d := Compare(demoCase(t, nil), demoCase(t, bulk))
	if len(d.WarningsAdded) == 0 || len(d.WarningsRemoved) != 0 || !strings.Contains(strings.Join(d.WarningsAdded, "\n"), "Queues operations") {
		t.Fatalf("added %q, removed %q", d.WarningsAdded, d.WarningsRemoved)
	}
	var b bytes.Buffer
	if err := WriteDiff(&b, d, "markdown"); err != nil || !strings.Contains(b.String(), "#### Warnings added (Workers Free)") {
		t.Errorf("markdown: %v\n%s", err, b.String())
	}
	r := Compare(demoCase(t, bulk), demoCase(t, nil))
	if len(r.WarningsRemoved) != len(d.WarningsAdded) || len(r.WarningsAdded) != 0 {
		t.Errorf("reverse: added %q, removed %q", r.WarningsAdded, r.WarningsRemoved)
	}
}
