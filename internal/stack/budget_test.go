package stack

import (
	"net/url"
	"strings"
	"testing"
)

const budgetBase = "config:\n  zerocost:accountId: 0123456789abcdef0123456789abcdef\n"

func TestBudgetSettings(t *testing.T) {
	cfg, err := load(t, budgetBase+`  zerocost:monthlyBudgetUsd: 60
  zerocost:budgetAlertWebhook:
    secure: AAABAJq
  zerocost:products:
    - name: relay
      pattern: edge-cache
      settings:
        monthlyBudgetUsd: 12.5
        budgetAlertThresholds: [25, 90]
        budgetAlertWebhook: http://127.0.0.1:8787/alerts
    - name: mailer
      pattern: async-pipeline
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MonthlyBudgetUSD != 60 || !cfg.HasBudgetAlertWebhook || !cfg.HasBudget() {
		t.Errorf("stack budget %v, webhook %v", cfg.MonthlyBudgetUSD, cfg.HasBudgetAlertWebhook)
	}
	relay, mailer := cfg.Products[0].Settings, cfg.Products[1].Settings
	if relay.MonthlyBudgetUSD != 12.5 || ThresholdsVar(relay.AlertThresholds()) != "25,90" || relay.BudgetAlertWebhook == "" {
		t.Errorf("relay: %+v", relay)
	}
	if mailer.MonthlyBudgetUSD != 0 || ThresholdsVar(mailer.AlertThresholds()) != "50,80,100" {
		t.Errorf("mailer: %+v", mailer)
	}
	if FormatUSD(12.5) != "12.5" || FormatUSD(60) != "60" || FormatUSD(0) != "" || FormatUSD(0.1) != "0.1" {
		t.Error("FormatUSD")
	}
	// A product budget alone makes a budget too.
	cfg, err = load(t, budgetBase+"  zerocost:products: [{name: a, pattern: edge-cache, settings: {monthlyBudgetUsd: 1}}]\n")
	if err != nil || !cfg.HasBudget() {
		t.Fatalf("%v", err)
	}
}

// Each bad budget setting fails with a message naming its field, and a
// webhook URL with a token is never repeated in the message.
func TestBadBudgetNamesTheField(t *testing.T) {
	const token = "XyZ0123456789abcdefTOKEN"
	prod := func(settings string) string {
		return budgetBase + "  zerocost:products:\n    - name: a\n      pattern: event-agent\n      settings: " + settings + "\n"
	}
	withStack := func(s string) string {
		return budgetBase + "  zerocost:monthlyBudgetUsd: 10\n" + strings.TrimPrefix(s, budgetBase)
	}
	cases := []struct{ yml, field, msg string }{
		{prod("{monthlyBudgetUsd: 0.0}"), "", ""}, // 0 is "none"
		{prod("{monthlyBudgetUsd: -1}"), "zerocost:products[0].settings.monthlyBudgetUsd", "out of range"},
		{prod("{monthlyBudgetUsd: 2000000}"), "zerocost:products[0].settings.monthlyBudgetUsd", "out of range"},
		{prod(`{monthlyBudgetUsd: "ten"}`), "zerocost:products[0].settings.monthlyBudgetUsd", "must be a number"},
		{budgetBase + "  zerocost:monthlyBudgetUsd: ten\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:monthlyBudgetUsd", "not a number"},
		{budgetBase + "  zerocost:monthlyBudgetUsd: -5\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:monthlyBudgetUsd", "more than 0"},
		{withStack(prod("{budgetAlertThresholds: [80, 50]}")), "zerocost:products[0].settings.budgetAlertThresholds[1]", "ascending"},
		{withStack(prod("{budgetAlertThresholds: [50, 50]}")), "zerocost:products[0].settings.budgetAlertThresholds[1]", "each once"},
		{withStack(prod("{budgetAlertThresholds: [0, 150]}")), "zerocost:products[0].settings.budgetAlertThresholds[0]", "1..100"},
		{withStack(prod("{budgetAlertThresholds: []}")), "zerocost:products[0].settings.budgetAlertThresholds", "is empty"},
		{withStack(prod("{budgetAlertThresholds: [1.5]}")), "zerocost:products[0].settings.budgetAlertThresholds", "integer"},
		{prod("{budgetAlertThresholds: [50]}"), "zerocost:products[0].settings.budgetAlertThresholds", "no budget to alert on"},
		{prod("{budgetAlertWebhook: 'https://example.com/hook'}"), "zerocost:products[0].settings.budgetAlertWebhook", "no budget to alert on"},
		{withStack(prod("{budgetAlertWebhook: 'ftp://example.com/'}")), "zerocost:products[0].settings.budgetAlertWebhook", "not an http(s) URL"},
		{withStack(prod("{budgetAlertWebhook: 'https://hooks.slack.com/services/T000/B000/" + token + "'}")), "zerocost:products[0].settings.budgetAlertWebhook", "pulumi config set --secret zerocost:budgetAlertWebhook"},
		{withStack(prod("{budgetAlertWebhook: 'https://discord.com/api/webhooks/123/" + token + "'}")), "zerocost:products[0].settings.budgetAlertWebhook", "Discord"},
		{withStack(prod("{budgetAlertWebhook: 'https://user:" + token + "@example.com/'}")), "zerocost:products[0].settings.budgetAlertWebhook", "user info"},
		{withStack(prod("{budgetAlertWebhook: 'https://example.com/hook?key=" + token + "'}")), "zerocost:products[0].settings.budgetAlertWebhook", "query string"},
		{withStack(prod("{budgetAlertWebhook: 'https://example.com/hooks/" + token + "'}")), "zerocost:products[0].settings.budgetAlertWebhook", "token-like"},
		{withStack(budgetBase + "  zerocost:budgetAlertWebhook: https://example.com/x\n  zerocost:products: [{name: a, pattern: edge-cache}]\n"), "zerocost:budgetAlertWebhook", "must be a secret"},
		{budgetBase + "  zerocost:budgetAlertWebhook: {secure: AAAB}\n  zerocost:products: [{name: a, pattern: edge-cache}]\n", "zerocost:budgetAlertWebhook", "no budget to alert on"},
	}
	for _, c := range cases {
		_, err := load(t, c.yml)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.yml, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("accepted:\n%s", c.yml)
			continue
		}
		found := false
		for _, e := range unwrapAll(err) {
			if se, ok := e.(*Error); ok && se.Field == c.field && strings.Contains(se.Msg, c.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s\nerror %v\nwant field %s with %q", c.yml, err, c.field, c.msg)
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("the error repeats the token: %v", err)
		}
	}
}

func TestWebhookToken(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8787/":                        false,
		"https://example.com/alerts/zerocost":           false,
		"https://hooks.slack.com/services/T0/B0/abc":    true,
		"https://discordapp.com/api/webhooks/1/abc":     true,
		"https://ptb.discord.com/api/webhooks/1/abc":    true,
		"https://example.com/?":                         true,
		"https://example.com/a?b=c":                     true,
		"https://u@example.com/":                        true,
		"https://example.com/2f1e9c0a7b4d4e0f9a8b7c6d":  true,
		"https://example.com/budget-alerts-for-product": false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := WebhookToken(u) != ""; got != want {
			t.Errorf("%s: token %v, want %v (%q)", raw, got, want, WebhookToken(u))
		}
	}
}
