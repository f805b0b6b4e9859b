package plan

import (
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/stack"
)

// TestLifecycle: answers expire after their TTL rounded up to whole days,
// job records after the retention, dead and parked records after at least
// 31 days; no two rules of a bucket share a prefix or one prefix starts
// another (R2 would apply both).
func TestLifecycle(t *testing.T) {
	for ttl, days := range map[int]int{60: 1, 86400: 1, 86401: 2, 0: 1} {
		r := Lifecycle(stack.EdgeCache, stack.Settings{CacheTTLSeconds: ttl})
		if len(r) != 1 || r[0].Prefix != PrefixAnswers || r[0].MaxAgeDays != days || r[0].MaxAgeSeconds() != days*86400 {
			t.Errorf("ttl %d: %+v, want answers/ after %d days", ttl, r, days)
		}
	}
	for _, pattern := range []string{stack.EventAgent, stack.AsyncPipeline} {
		rules := Lifecycle(pattern, stack.Settings{})
		ages := map[string]int{}
		for i, a := range rules {
			ages[a.Prefix] = a.MaxAgeDays
			for _, b := range rules[i+1:] {
				if strings.HasPrefix(a.Prefix, b.Prefix) || strings.HasPrefix(b.Prefix, a.Prefix) {
					t.Errorf("%s: prefixes %q and %q overlap", pattern, a.Prefix, b.Prefix)
				}
			}
		}
		if ages[PrefixJobs] != stack.DefaultRetentionDays || ages[PrefixHeld] < 31 {
			t.Errorf("%s: %+v", pattern, rules)
		}
	}
	// settings.retentionDays sets jobs/; held/ keeps the longer of it and 31.
	for days, held := range map[int]int{31: 31, 45: 45} {
		r := Lifecycle(stack.AsyncPipeline, stack.Settings{RetentionDays: days})
		if r[0].Prefix != PrefixJobs || r[0].MaxAgeDays != days || r[1].Prefix != PrefixHeld || r[1].MaxAgeDays != held {
			t.Errorf("retentionDays %d: %+v", days, r)
		}
	}
	if r := Lifecycle("no-such-pattern", stack.Settings{}); r != nil {
		t.Errorf("unknown pattern: %+v", r)
	}
}
