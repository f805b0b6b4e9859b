package cost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/prices"
)

func TestEmbeddedPrices(t *testing.T) {
	p := defaultPrices(t)
	if p.Name != "2026-11" || p.Path != "prices/2026-11.toml" {
		t.Errorf("name %q, path %q", p.Name, p.Path)
	}
	// The numbers of FACTS.md (2026).
	for _, c := range []struct {
		m                       Meter
		perDay, included, price float64
	}{
		{Meter{Workers, Requests}, 100000, 10e6, 0.30},
		{Meter{KV, Reads}, 100000, 10e6, 0.50},
		{Meter{KV, Writes}, 1000, 1e6, 5},
		{Meter{KV, Deletes}, 1000, 1e6, 5},
		{Meter{KV, Lists}, 1000, 1e6, 5},
		{Meter{Queues, Operations}, 10000, 1e6, 0.40},
	} {
		mp := p.Meter(c.m)
		if mp.FreePerDay != c.perDay || mp.PaidIncludedPerMonth != c.included || mp.USDPerMillion != c.price {
			t.Errorf("%s: %+v", c.m, mp)
		}
	}
	if mp := p.Meter(Meter{R2, ClassA}); mp.AllowancePerMonth != 1e6 || mp.USDPerMillion != 4.5 {
		t.Errorf("R2 Class A %+v", mp)
	}
	if mp := p.Meter(Meter{R2, ClassB}); mp.AllowancePerMonth != 10e6 || mp.USDPerMillion != 0.36 {
		t.Errorf("R2 Class B %+v", mp)
	}
	if mp := p.Meter(Meter{R2, Storage}); mp.AllowancePerMonth != 10 || mp.USDPerGBMonth != 0.015 {
		t.Errorf("R2 storage %+v", mp)
	}
	if mp := p.Meter(Meter{KV, Storage}); mp.FreeCap != 1 || mp.USDPerGBMonth != 0.5 {
		t.Errorf("KV storage %+v", mp)
	}
	if p.WorkersPaid.BaseUSDPerMonth != 5 || p.WorkersFree.CPUmsPerInvocation != 10 {
		t.Errorf("workers plans %+v %+v", p.WorkersPaid, p.WorkersFree)
	}
	h, err := p.Model("claude-haiku-4-5")
	if err != nil || h.InputUSDPerMTok != 1 || h.OutputUSDPerMTok != 5 || h.CacheWriteUSDPerMT != 1.25 || h.CacheHitUSDPerMTok != 0.1 || h.BatchDiscount != 0.5 || h.MinCacheTokens != 4096 {
		t.Errorf("haiku %+v %v", h, err)
	}
	if s, err := p.Model("claude-sonnet-4-5"); err != nil || s.InputUSDPerMTok != 3 || s.OutputUSDPerMTok != 15 {
		t.Errorf("sonnet %+v %v", s, err)
	}
	for _, m := range p.MeterList {
		if !strings.HasPrefix(m.Source, "https://developers.cloudflare.com/") {
			t.Errorf("%s %s: source %q", m.Service, m.Metric, m.Source)
		}
	}
}

func TestParsePricesErrors(t *testing.T) {
	base := string(prices.Current)
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown key", strings.Replace(base, "usd_per_million = 0.30", "usd_per_million = 0.30\nusd_per_billion = 300", 1), "unknown key meter.usd_per_billion"},
		{"missing meter", strings.Replace(base, `metric = "lists"`, `metric = "scans"`, 1), "meter[5] (kv scans): unknown meter"},
		{"a meter priced by no table", strings.Replace(base, `metric = "lists"`, `metric = "deletes"`, 1), "no [[meter]] prices kv lists"},
		{"no source", strings.Replace(base, `source = "https://developers.cloudflare.com/queues/platform/pricing/"`, `source = ""`, 1), "meter[10] (queues operations).source: every price needs the https:// URL"},
		{"negative", strings.Replace(base, "usd_per_million = 5.00", "usd_per_million = -5.00", 1), "meter[3] (kv writes).usd_per_million: negative"},
		{"storage in millions", strings.Replace(base, "usd_per_gb_month = 0.50", "usd_per_million = 0.50", 1), "usd_per_million is for operations, not storage"},
		{"bad batch discount", strings.Replace(base, "batch_discount = 0.50", "batch_discount = 1.5", 1), "batch_discount: 1.5 is not a fraction"},
		{"model without id", strings.Replace(base, `id = "claude-sonnet-4-5"`, `id = ""`, 1), "model[1].id: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePrices("p.toml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "p.toml") {
				t.Errorf("error does not say %q: %v", tc.want, err)
			}
		})
	}
}

// --prices FILE replaces the embedded prices.
func TestLoadPricesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "2027-01.toml")
	doc := strings.Replace(strings.Replace(string(prices.Current), `name = "2026-11"`, `name = "2027-01"`, 1), "input_usd_per_mtok = 1.00", "input_usd_per_mtok = 2.00", 1)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPrices(path)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := ParseProfile("t.toml", []byte(product("agent", EventAgent, 1000, "")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Forecast(prof, p, "")
	if err != nil {
		t.Fatal(err)
	}
	// 1,000 calls x (400 x $2 + 100 x $5) per million.
	if r.Prices != "2027-01" || !near(r.AIUSD, 1.3) {
		t.Errorf("prices %q, ai %v", r.Prices, r.AIUSD)
	}
	if _, err := LoadPrices(filepath.Join(t.TempDir(), "none.toml")); err == nil {
		t.Error("missing file accepted")
	}
	if d, err := LoadPrices(""); err != nil || d.Name != "2026-11" {
		t.Errorf("default: %v %v", d, err)
	}
}
