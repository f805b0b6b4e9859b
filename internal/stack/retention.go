package stack

// How long a product's bucket keeps what its Worker writes (plan.Lifecycle
// turns these into R2 lifecycle rules; the cost forecast stores as much).
const (
	// DefaultRetentionDays is also the least retentionDays may be
	// (MinRetentionDays): a week. A client reads its result within minutes
	// (the usage profile's polls_per_job; an event-agent job ends inside
	// jobLimitMs, a pipeline job inside the queue's 24 h), so a week leaves
	// days for a late poll or a person's look at a failure. Dead and parked
	// records, which a person may still act on, are written under held/
	// (plan.PrefixHeld) as well and kept HeldDays there, so the short
	// jobs/ retention never loses them. Storage is then 8 days of records
	// (the day R2's deletion may lag included) instead of 32 (docs/cost.md,
	// "Retention").
	DefaultRetentionDays = 7
	MinRetentionDays     = 7
	// HeldDays keeps dead and parked (budget_exhausted) records at least 31
	// days, the longest month, so a job parked on a month's first day is
	// still there when the next month's budget resumes it.
	HeldDays = 31
	// BatchesDays: Anthropic keeps a Message Batch's results 29 days after
	// its creation (Message Batches docs); a batch record older than that
	// names nothing the poller can fetch. 30 covers the day R2's deletion
	// may lag.
	BatchesDays = 30
)

// JobRecordDays is how long the product's job records are kept
// (settings.retentionDays, DefaultRetentionDays when unset).
func (s Settings) JobRecordDays() int {
	if s.RetentionDays > 0 {
		return s.RetentionDays
	}
	return DefaultRetentionDays
}

// HeldRecordDays is how long dead and parked records are kept: HeldDays,
// or the job retention when that is longer.
func (s Settings) HeldRecordDays() int { return max(HeldDays, s.JobRecordDays()) }

// AnswerDays is an edge-cache answer's TTL rounded up to whole days: a
// stored answer is never served after its TTL, so nothing reads it once R2
// deletes it.
func (s Settings) AnswerDays() int {
	ttl := s.CacheTTLSeconds
	if ttl <= 0 {
		ttl = DefaultCacheTTLSeconds
	}
	return (ttl + 86399) / 86400
}
