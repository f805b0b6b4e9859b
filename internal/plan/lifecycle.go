package plan

import (
	"github.com/zerocost/zerocost/internal/stack"
)

// LifecycleRule deletes the objects of a product's bucket whose keys start
// with Prefix once they are MaxAgeDays days old. R2 counts an object's age
// from its last write (an overwrite starts it again) and deletes expired
// objects within a day of their expiry (R2 docs, "Object lifecycles":
// "Objects will typically be removed from a bucket within 24 hours of the
// x-amz-expiration value"), so an object lives
// between MaxAgeDays and MaxAgeDays+1 days. The prefixes of one bucket never
// overlap, so exactly one rule applies to an object.
type LifecycleRule struct {
	ID         string `json:"id"`
	Prefix     string `json:"prefix"`
	MaxAgeDays int    `json:"max_age_days"`
}

// MaxAgeSeconds is the rule's maxAge as the API and the provider take it.
func (r LifecycleRule) MaxAgeSeconds() int { return r.MaxAgeDays * 86400 }

// The key prefixes the Workers write (workers-src/src/lib/jobs.ts and
// batch.ts, patterns/edge-cache.ts).
const (
	// PrefixJobs holds job records: queued, running, done, failed.
	PrefixJobs = "jobs/"
	// PrefixHeld holds the records a person may still act on: dead
	// (retries exhausted, input kept) and parked (budget_exhausted, waiting
	// for POST /admin/jobs/resume). Their own prefix lets them outlive the
	// month that parked them whatever retentionDays says.
	PrefixHeld = "held/"
	// PrefixBatches holds batch mode's Message Batch records.
	PrefixBatches = "batches/"
	// PrefixAnswers holds edge-cache's stored answers.
	PrefixAnswers = "answers/"
)

// Lifecycle returns the rules of the product's bucket, one per prefix its
// pattern writes, with the ages internal/stack's retention settings give.
func Lifecycle(pattern string, s stack.Settings) []LifecycleRule {
	switch pattern {
	case stack.EdgeCache:
		return []LifecycleRule{{ID: "answers", Prefix: PrefixAnswers, MaxAgeDays: s.AnswerDays()}}
	case stack.AsyncPipeline:
		return []LifecycleRule{
			{ID: "jobs", Prefix: PrefixJobs, MaxAgeDays: s.JobRecordDays()},
			{ID: "held", Prefix: PrefixHeld, MaxAgeDays: s.HeldRecordDays()},
			{ID: "batches", Prefix: PrefixBatches, MaxAgeDays: stack.BatchesDays},
		}
	case stack.EventAgent:
		return []LifecycleRule{
			{ID: "jobs", Prefix: PrefixJobs, MaxAgeDays: s.JobRecordDays()},
			{ID: "held", Prefix: PrefixHeld, MaxAgeDays: s.HeldRecordDays()},
		}
	}
	return nil
}
