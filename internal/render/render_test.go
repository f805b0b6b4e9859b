package render

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// Quote produces TOML strings that parse back to the original, whatever the prompt holds.
func TestQuoteRoundTrips(t *testing.T) {
	for _, s := range []string{
		"plain", `with "quotes" and \backslashes\`, "line one\nline two\r\n\ttabbed",
		"control \x01\x07\x1b\x7f chars", "unicode: ünïcødé 日本語 🚀", "",
		`""" triple`, "trailing \\",
	} {
		var v struct{ V string }
		if _, err := toml.Decode("V = "+Quote(s), &v); err != nil {
			t.Errorf("Quote(%q) = %s: %v", s, Quote(s), err)
			continue
		}
		if v.V != s {
			t.Errorf("round trip of %q gave %q", s, v.V)
		}
		if strings.Contains(Quote(s), "\n") {
			t.Errorf("Quote(%q) spans lines", s)
		}
	}
	if Quote(42) != `"42"` {
		t.Errorf("Quote(42) = %s", Quote(42))
	}
}

func TestDefaultRateLimitNamespaceID(t *testing.T) {
	a, b := DefaultRateLimitNamespaceID("a-demo"), DefaultRateLimitNamespaceID("b-demo")
	if a == b || a < 100000 || a > 999999 || DefaultRateLimitNamespaceID("a-demo") != a {
		t.Errorf("ids %d %d", a, b)
	}
}

func TestTemplatesParse(t *testing.T) {
	tm, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"event-agent", "async-pipeline", "edge-cache"} {
		if tm[p] == nil {
			t.Errorf("no template for %s", p)
		}
	}
}
