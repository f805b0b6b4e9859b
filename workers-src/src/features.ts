// The optional features a bundle carries. internal/bundle defines them from
// the product's plan, so that a Worker leaves out the code of the features it
// does not use (bundles stay under 25 KB: internal/bundle's SizeGoal):
//
//   __ZEROCOST_SPEND_GUARD__  the stack has a budget or a product with keys (SPEND is bound): lib/spend/
//   __ZEROCOST_BATCH_MODE__   an async pipeline with MODEL_MODE batch: lib/batch/
//   __ZEROCOST_KEYS__         the product has customer keys (KEYS is bound): lib/keys.ts's check
//   __ZEROCOST_WORKFLOW__     an event agent on runner: workflow (JOB_WORKFLOW is
//                             bound): lib/workflow.ts, and not the waitUntil runner
//
// The Worker tests (vitest.config.ts) define the first three true, and the
// workflow runner per project (the waitUntil runner's tests define it false). Read them only in a
// condition at the call site (`if (__ZEROCOST_SPEND_GUARD__ ...)`): esbuild
// drops a branch whose condition it knows is false, and then every
// declaration nothing else uses.
declare global {
  const __ZEROCOST_SPEND_GUARD__: boolean;
  const __ZEROCOST_BATCH_MODE__: boolean;
  const __ZEROCOST_KEYS__: boolean;
  const __ZEROCOST_WORKFLOW__: boolean;
}

export {};
