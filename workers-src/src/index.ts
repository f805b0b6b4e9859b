// Public surface for tooling and type checks. The Go bundler does not import
// this file: it imports one pattern module directly (see docs/design.md, Hooks).
export { createWorker as createEventAgent } from "./patterns/event-agent";
export { createWorker as createAsyncPipeline } from "./patterns/async-pipeline";
export { createWorker as createEdgeCache } from "./patterns/edge-cache";
export type { Hooks, HookContext, MessagesRequest, MessagesResponse } from "./hooks";
export type { AsyncPipelineEnv, BaseEnv, EdgeCacheEnv, EventAgentEnv, JobMessage, PatternName } from "./env";
export type { JobRecord, JobState } from "./lib/jobs";
export type { ErrorCode } from "./lib/errors";
