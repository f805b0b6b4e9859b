package contract

import (
	"maps"
	"slices"

	"github.com/zerocost/zerocost/internal/stack"
)

// HitPointEvents are, per pattern, the events whose data point records a
// request served without a model call of its own (mode ModeCacheHit, no
// tokens): it counts the customer's request, and is no model call.
var HitPointEvents = map[string][]string{
	stack.EdgeCache: {EventHitEdge, EventHitStore, EventMissShared},
}

// CallPoints is how many of an event's data points record a successful model
// call (the cost model's model calls and spend records): its Analytics
// Engine writes, less the one of a hit point.
func CallPoints(pattern, event string) int {
	n := EventOps(pattern, event)[OpAnalyticsWrite]
	if slices.Contains(HitPointEvents[pattern], event) {
		n--
	}
	return n
}

// checkHitPoints reports hit-point events that are not one data point and
// no model call.
func checkHitPoints() []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(HitPointEvents)) {
		for _, e := range HitPointEvents[p] {
			ops := EventOps(p, e)
			if ops[OpAnalyticsWrite] != 1 || ops[OpModelCall] != 0 || ops[OpBatchCreate] != 0 {
				out = append(out, p+"/"+e+": a hit point is one data point and no model call")
			}
		}
	}
	return out
}
