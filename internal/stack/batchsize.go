package stack

import "github.com/zerocost/zerocost/internal/contract/invocation"

// DefaultBatchSize is an async pipeline's settings.batchSize when unset.
//
// In realtime mode, the full packs one consumer invocation runs
// (invocation.DeliveryPacks: floor(DeliveryMaxJobs / PackMaxJobs), 1 with a
// spend store, 2 without): a delivery runs at most DeliveryMaxJobs jobs
// (Workers Free's 50 external fetches and 50 D1 queries an invocation) and
// sends the messages past them on, a queue write, read and delete more each
// (workers-src/src/patterns/async-pipeline/pack.ts passOn), so a delivery
// of more full packs than it runs would pass packs on again and again. A
// user-set batchSize (1..100) stays allowed: it runs more single-job
// messages in one invocation, and passes full packs on.
//
// In batch mode (no model fetch per job: one Message Batch a delivery),
// DefaultBatchModeBatchSize.
func DefaultBatchSize(modelMode string, spendStore bool) int {
	if modelMode == ModelModeBatch {
		return DefaultBatchModeBatchSize
	}
	return invocation.DeliveryPacks(spendStore)
}

// defaultBatchSizes fills each async pipeline's unset batchSize
// (DefaultBatchSize) once every product is read: whether the stack has a
// spend store (HasSpendStore) depends on all of them.
func (c *Config) defaultBatchSizes() {
	spend := c.HasSpendStore()
	for i := range c.Products {
		p := &c.Products[i]
		if p.Pattern == AsyncPipeline && p.Settings.BatchSize == 0 {
			p.Settings.BatchSize = DefaultBatchSize(p.Settings.ModelMode, spend)
		}
	}
}
