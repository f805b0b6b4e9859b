package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/plan"
)

// describeRule shows a rule as verify reports it: "jobs/ after 31 days".
func describeRule(prefix string, enabled bool, maxAge int) string {
	unit := "days"
	if maxAge == 86400 {
		unit = "day"
	}
	s := fmt.Sprintf("%q after %d %s", prefix, maxAge/86400, unit)
	if maxAge%86400 != 0 || maxAge == 0 {
		s = fmt.Sprintf("%q after %d s", prefix, maxAge)
	}
	if !enabled {
		s += " (disabled)"
	}
	return s
}

// lifecycleDrift compares the bucket's rules with the plan's, by rule id.
func lifecycleDrift(bucket string, want []plan.LifecycleRule, got []cfapi.LifecycleRule) []Drift {
	byID := map[string]cfapi.LifecycleRule{}
	for _, r := range got {
		byID[r.ID] = r
	}
	var ds []Drift
	planned := map[string]bool{}
	for _, w := range want {
		planned[w.ID] = true
		name := "lifecycle rule " + w.ID + " of " + bucket
		expected := describeRule(w.Prefix, true, w.MaxAgeSeconds())
		g, ok := byID[w.ID]
		if !ok {
			ds = append(ds, Drift{Kind: Missing, Name: name, Expected: expected})
			continue
		}
		if actual := describeRule(g.Prefix, g.Enabled, g.DeleteMaxAge); actual != expected {
			ds = append(ds, Drift{Kind: Mismatched, Name: name, Expected: expected, Actual: actual})
		}
	}
	for _, g := range got {
		if !planned[g.ID] && g.Enabled {
			ds = append(ds, Drift{Kind: Extra, Name: "lifecycle rule " + g.ID + " of " + bucket, Actual: describeRule(g.Prefix, g.Enabled, g.DeleteMaxAge)})
		}
	}
	return ds
}

// checkLifecycle: the bucket expires exactly the plan's prefixes after the
// plan's ages.
func checkLifecycle(ctx context.Context, in *inventory, pr *plan.Product, bucket string) (string, error) {
	got, err := in.api.BucketLifecycle(ctx, in.account, bucket)
	if err != nil {
		return "", apiFailure(err, permR2)
	}
	if err := drifted(lifecycleDrift(bucket, pr.Lifecycle, got)); err != nil {
		return "", err
	}
	parts := make([]string, len(pr.Lifecycle))
	for i, r := range pr.Lifecycle {
		parts[i] = describeRule(r.Prefix, true, r.MaxAgeSeconds())
	}
	return "deletes " + strings.Join(parts, ", "), nil
}
