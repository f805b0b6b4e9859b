package analytics

import "github.com/zerocost/zerocost/internal/cost"

// R2Class is the meter an R2 action counts on: cost.ClassA or cost.ClassB,
// or "" for the free ones (deletes, aborted uploads).
func R2Class(action string) string {
	switch {
	case r2Free[action]:
		return ""
	case r2ClassB[action]:
		return cost.ClassB
	}
	return cost.ClassA
}
