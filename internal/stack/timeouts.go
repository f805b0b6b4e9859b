package stack

import "github.com/zerocost/zerocost/internal/contract/invocation"

// Bounds of one model attempt (settings.modelTimeoutMs) by what runs it.
const (
	// MaxWaitUntilModelTimeoutMs: an event agent on runner: waitUntil calls
	// the model inside ctx.waitUntil, which the platform cancels 30 s after
	// the response (developers.cloudflare.com/workers/platform/limits/),
	// leaving time for the record's write.
	MaxWaitUntilModelTimeoutMs = 25_000
	// MaxModelTimeoutMs: Anthropic asks for streaming for requests that may
	// take longer than 10 minutes (its SDKs refuse a non-streaming one;
	// networks may drop an idle connection by then), and zerocost's calls do
	// not stream. A Workflow step (no wall-time limit), a request whose
	// client stays connected (none either) and a queue consumer (15 min)
	// have no tighter bound of their own.
	MaxModelTimeoutMs = 600_000
	// ConsumerWallTimeMs is a queue consumer invocation's wall time
	// (developers.cloudflare.com/queues/platform/limits/: 15 minutes).
	ConsumerWallTimeMs = 15 * 60_000
	// WorkersConnections is how many outgoing connections a Worker
	// invocation holds open at once (developers.cloudflare.com/workers/platform/limits/:
	// 6 simultaneous open connections): a consumer's batch calls the model
	// in waves of this many.
	WorkersConnections = 6
	// PipelineAttempts is how many attempts the async pipeline's consumer
	// gives one delivery's model call, and PipelineSlackMs what its
	// deadline adds to their timeouts (workers-src/src/patterns/async-pipeline.ts).
	PipelineAttempts = invocation.ModelAttempts
	PipelineSlackMs  = 5_000
)

// checkModelTimeout checks what a range cannot: 25 s inside waitUntil, and
// an async pipeline's batch ending inside the consumer's 15-minute wall
// time. It sees the product's other settings with their defaults.
func checkModelTimeout(s *Settings, field string) []error {
	v := s.ModelTimeoutMs
	if s.Runner == RunnerWaitUntil && v > MaxWaitUntilModelTimeoutMs {
		return []error{errf(field, "%d is out of range 100..%d (with runner: waitUntil one model attempt must end before the platform's 30 s waitUntil cap; runner: workflow has no such cap)",
			v, MaxWaitUntilModelTimeoutMs)}
	}
	if s.ModelMode == ModelModeRealtime && s.BatchSize > 0 {
		if need := PipelineBatchMs(s.BatchSize, v); need > ConsumerWallTimeMs {
			return []error{errf(field, "%d ms with batchSize %d cannot finish inside the queue consumer's 15-minute wall time: the batch calls the model %d at a time, %d attempts of up to %d ms each, so a batch may take %.1f min; lower batchSize or modelTimeoutMs",
				v, s.BatchSize, WorkersConnections, PipelineAttempts, v, float64(need)/60_000)}
		}
	}
	return nil
}

// PipelineBatchMs is the longest an async pipeline's consumer may spend on a
// batch of batchSize jobs: the model calls go out WorkersConnections at a
// time, each job given PipelineAttempts attempts plus PipelineSlackMs.
func PipelineBatchMs(batchSize, modelTimeoutMs int) int {
	waves := (batchSize + WorkersConnections - 1) / WorkersConnections
	return waves * (PipelineAttempts*modelTimeoutMs + PipelineSlackMs)
}
