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

// Retention of the prefixes zerocost does not take from settings.
const (
	// HeldDays keeps dead and parked records at least 31 days, the longest
	// month, so a job parked on its first day is still there when the next
	// month's budget resumes it.
	HeldDays = 31
	// BatchesDays: Anthropic keeps a Message Batch's results 29 days after
	// its creation ("Results ... available for 29 days", Message Batches
	// docs); a batch record older than that names nothing the poller can
	// fetch. 30 leaves the day R2's deletion may lag to no one.
	BatchesDays = 30
	// DefaultRetentionDays keeps a finished job's record a week: a client
	// reads its result within minutes (the usage profile's polls_per_job),
	// and a week outlives a client that is down over a weekend. Storage is
	// then 8 days of records (the day R2's deletion lags included), which at
	// the most jobs Workers Free serves a day stays far under R2's free
	// 10 GB-month (docs/cost.md, "Retention").
	DefaultRetentionDays = 7
)

// RetentionDays is how long the product's job records are kept
// (settings.retentionDays).
func RetentionDays(s stack.Settings) int {
	return DefaultRetentionDays
}

// AnswerDays is an edge-cache answer's TTL rounded up to whole days: a
// stored answer is never served after its TTL, so nothing reads it once the
// rule deletes it.
func AnswerDays(s stack.Settings) int {
	ttl := s.CacheTTLSeconds
	if ttl <= 0 {
		ttl = stack.DefaultCacheTTLSeconds
	}
	return (ttl + 86399) / 86400
}

// Lifecycle returns the rules of the product's bucket, one per prefix its
// pattern writes.
func Lifecycle(pattern string, s stack.Settings) []LifecycleRule {
	switch pattern {
	case stack.EdgeCache:
		return []LifecycleRule{{ID: "answers", Prefix: PrefixAnswers, MaxAgeDays: AnswerDays(s)}}
	case stack.AsyncPipeline:
		return []LifecycleRule{
			{ID: "jobs", Prefix: PrefixJobs, MaxAgeDays: RetentionDays(s)},
			{ID: "held", Prefix: PrefixHeld, MaxAgeDays: max(HeldDays, RetentionDays(s))},
			{ID: "batches", Prefix: PrefixBatches, MaxAgeDays: BatchesDays},
		}
	case stack.EventAgent:
		return []LifecycleRule{
			{ID: "jobs", Prefix: PrefixJobs, MaxAgeDays: RetentionDays(s)},
			{ID: "held", Prefix: PrefixHeld, MaxAgeDays: max(HeldDays, RetentionDays(s))},
		}
	}
	return nil
}
