package names

import (
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	cases := []struct {
		kind, name string
		ok         bool
	}{
		{"bucket", "ai-relay-demo-outputs", true},
		{"bucket", "ab", false},                    // too short
		{"bucket", "-ai", false},                   // starts with a dash
		{"bucket", "AI-relay", false},              // upper case
		{"bucket", "ai_relay", false},              // underscore
		{"bucket", strings.Repeat("a", 63), true},  // longest
		{"bucket", strings.Repeat("a", 64), false}, // too long
		{"queue", "email-worker-demo-jobs-dlq", true},
		{"queue", "email.worker", false},
		{"queue", strings.Repeat("q", 64), false},
		{"script", "sales-engine-demo", true},
		{"script", "sales_engine", true},
		{"script", "Sales", false},
		{"script", "sales-", false},
	}
	for _, c := range cases {
		err := Check(c.kind, c.name)
		if (err == nil) != c.ok {
			t.Errorf("Check(%s, %q) = %v, want ok=%v", c.kind, c.name, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), c.name) {
			t.Errorf("error %q does not name %q", err, c.name)
		}
	}
	if err := Check("zone", "x"); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestSchemeAndIDs(t *testing.T) {
	if Script("ai-relay", "demo") != "ai-relay-demo" || Bucket("a", "b") != "a-b-outputs" ||
		Queue("a", "b") != "a-b-jobs" || DeadLetterQueue("a-b-jobs") != "a-b-jobs-dlq" {
		t.Error("naming scheme changed: update docs/design.md and the golden files together")
	}
	for s, want := range map[string]bool{"0123456789abcdef0123456789abcdef": true, "0123456789ABCDEF0123456789abcdef": false, "abc": false} {
		if IsAccountID(s) != want {
			t.Errorf("IsAccountID(%q) != %v", s, want)
		}
	}
	for s, want := range map[string]bool{"api.example.com": true, "example": false, "-a.example.com": false} {
		if IsHostname(s) != want {
			t.Errorf("IsHostname(%q) != %v", s, want)
		}
	}
	if !IsProductName("ai-relay") || IsProductName("1relay") || IsProductName("relay-") || IsProductName(strings.Repeat("a", 41)) {
		t.Error("product name rule")
	}
}
