package cost

import (
	"bytes"
	"encoding/json"
	"github.com/zerocost/zerocost/internal/golden"
	"github.com/zerocost/zerocost/internal/stack"
	"regexp"
	"strings"
	"testing"
)

// demoProfile is examples/usage/demo.toml read with the demo stack
// (Pulumi.demo.yaml), which names it as its usage profile.
func demoProfile(t *testing.T) *Profile {
	t.Helper()
	cfg, err := stack.LoadFile("../..", "demo")
	if err != nil {
		t.Fatal(err)
	}
	prof, err := LoadProfileFor("../../examples/usage/demo.toml", FactsOf(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return prof
}

// demoForecast prices examples/usage/demo.toml.
func demoForecast(t *testing.T, plan string) *Report {
	t.Helper()
	prof := demoProfile(t)
	prof.Path = "examples/usage/demo.toml" // as run from the repository's root
	r, err := Forecast(prof, defaultPrices(t), plan)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGoldenDemoForecast(t *testing.T) {
	for _, tc := range []struct{ plan, format, file string }{
		{Free, "table", "demo.free.txt"},
		{Free, "json", "demo.free.json"},
		{Free, "markdown", "demo.free.md"},
		{Free, "html", "demo.free.html"},
		{Paid, "table", "demo.paid.txt"},
		{Paid, "json", "demo.paid.json"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, demoForecast(t, tc.plan), tc.format); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.file, b.Bytes())
		})
	}
}

// The demo's totals, by hand: 21,740 model calls; Workers Free bills nothing
// else; Workers Paid adds its $5 and nothing past the included amounts.
func TestDemoTotals(t *testing.T) {
	ai := 800*(350*1+150*5)/1e6 + 2400*(600*1+400*5)/1e6 + 48000*0.38*(400*1+100*5)/1e6 + 300*(450*1+300*5)/1e6
	free, paid := demoForecast(t, Free), demoForecast(t, Paid)
	if !near(free.AIUSD, ai) || free.InfraUSD != 0 || !near(free.TotalUSD, ai) || len(free.Warnings) != 0 {
		t.Errorf("free: infra %v, ai %v (want %v), warnings %v", free.InfraUSD, free.AIUSD, ai, free.Warnings)
	}
	if !near(paid.InfraUSD, 5) || !near(paid.TotalUSD, ai+5) {
		t.Errorf("paid: infra %v, total %v", paid.InfraUSD, paid.TotalUSD)
	}
	if !near(free.CacheSavingsUSD, 48000*0.62*0.0009) {
		t.Errorf("cache savings %v", free.CacheSavingsUSD)
	}
}

func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, demoForecast(t, Free)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plan     *string  `json:"plan"`
		TotalUSD *float64 `json:"total_usd"`
		InfraUSD *float64 `json:"infra_usd"`
		AIUSD    *float64 `json:"ai_usd"`
		Products []struct {
			Name     *string  `json:"name"`
			Pattern  *string  `json:"pattern"`
			InfraUSD *float64 `json:"infra_usd"`
			AIUSD    *float64 `json:"ai_usd"`
			Items    []struct {
				Service  *string  `json:"service"`
				Metric   *string  `json:"metric"`
				Quantity *float64 `json:"quantity"`
				UnitUSD  *float64 `json:"unit_usd"`
				USD      *float64 `json:"usd"`
			} `json:"items"`
		} `json:"products"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Plan == nil || *doc.Plan != "free" || doc.TotalUSD == nil || doc.InfraUSD == nil || doc.AIUSD == nil || doc.Warnings == nil || len(doc.Products) != 4 {
		t.Fatalf("top level: %s", b.String()[:300])
	}
	for _, p := range doc.Products {
		if p.Name == nil || p.Pattern == nil || p.InfraUSD == nil || p.AIUSD == nil || len(p.Items) == 0 {
			t.Errorf("product %+v", p)
		}
		for _, it := range p.Items {
			if it.Service == nil || it.Metric == nil || it.Quantity == nil || it.UnitUSD == nil || it.USD == nil {
				t.Errorf("%s: item %+v", *p.Name, it)
			}
		}
	}
}

// The HTML page stands alone: no script, nothing loaded from elsewhere; one
// pair of bars per product in an inline SVG.
func TestHTMLStandsAlone(t *testing.T) {
	var b bytes.Buffer
	r := demoForecast(t, Free)
	r.Products[0].Name = `<script>alert(1)</script>`
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "src=", "@import", "url(", "<link", "@font-face"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Error("product name not escaped")
	}
	if n := len(regexp.MustCompile(`<rect x="[0-9.]+" y="\d+" width="[0-9.]+" height="18" fill="#(0969da|bf8700)"`).FindAllString(page, -1)); n != 8 {
		t.Errorf("%d bars, want 8 (infra and model for 4 products)", n)
	}
	if !strings.Contains(page, "<svg") || !strings.HasPrefix(page, "<!DOCTYPE html>") {
		t.Error("not a page with an SVG")
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, demoForecast(t, Free), "yaml"); err == nil || !strings.Contains(err.Error(), `"yaml"`) {
		t.Errorf("got %v", err)
	}
}

func TestNumberFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{count(1234567), "1,234,567"}, {count(845.33), "845"}, {count(0.5), "0.5"}, {count(0), "0"}, {count(-1500), "-1,500"},
		{usd(1234.5), "$1,234.50"}, {usd(0.0012), "$0.0012"}, {usd(0), "$0.00"},
		{priceNum(0.3), "0.30"}, {priceNum(0.015), "0.015"}, {priceNum(5), "5.00"},
		{bytesGB(3.0156), "3.02 GB"}, {bytesGB(0.0576), "57.6 MB"}, {bytesGB(0.0000004), "0.4 KB"},
		{clock(0.5), "12:00"}, {clock(0.015), "00:22"}, {clock(0.99999), "23:59"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// A product that used nothing in a report prints as such, in every format.
func TestProductWithoutUsage(t *testing.T) {
	u := &Usage{Days: 30, Products: []ProductUsage{{Name: "idle", Pattern: EventAgent, Quantities: map[Meter]float64{}}}}
	r, err := Estimate(u, defaultPrices(t), Free)
	if err != nil {
		t.Fatal(err)
	}
	r.Kind, r.Source = "report", "stack demo"
	for format, want := range map[string]string{"table": "idle (event-agent, no model calls)\n  no usage", "markdown": "No usage.", "html": "<p>No usage.</p>", "json": `"models": []`} {
		var b bytes.Buffer
		if err := Write(&b, r, format); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("%s does not say %q:\n%s", format, want, b.String())
		}
	}
}
