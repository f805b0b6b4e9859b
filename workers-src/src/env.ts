// The Worker environment. The binding, var and secret names are not written
// here: env.gen.ts holds each pattern's bindings as `wrangler types` reads them
// from the configs zerocost renders (go generate ./internal/workersgen), and
// this file only refines them. Vars are plain-text strings; lib/config.ts
// parses them.
import type { PATTERN_ENV, SECRETS } from "./contract.gen";
import type { AsyncPipelineBindings, EdgeCacheBindings, EventAgentBindings } from "./env.gen";

/** Body of one message on JOB_QUEUE (async-pipeline). */
export interface JobMessage {
  job_id: string;
  input: string;
  /** times the job was sent again to wait out a rate limit (absent: 0) */
  deferrals?: number;
  /** Unix ms when POST /admin/jobs/resume sent a parked job again (its record exists, so it may defer past 24 h of its creation) */
  resumed_at?: number;
  /** batch mode: the Message Batch submissions the job had before this message (absent: 0; lib/batch/) */
  batch_attempts?: number;
  /** the customer whose key sent the job (a product with keys; absent: public), written into its record */
  customer?: string;
  /** the SHA-256 of that key (its name in KEYS): the consumer reads the customer's budget by it when the job runs (lib/keys.ts payerByKey) */
  key_hash?: string;
  /** failed deliveries the job had before this message (a job re-sent out of a pack, lib/pack.ts; absent: 0) */
  attempts?: number;
}

/** Body of a message on JOB_QUEUE carrying several jobs (lib/pack.ts). */
export interface PackMessage {
  jobs: JobMessage[];
}

/** What a JOB_QUEUE message carries: one job, or a pack of them. */
export type QueueBody = JobMessage | PackMessage;

export type PatternName = "event-agent" | "async-pipeline" | "edge-cache";

/**
 * Secrets the plan binds only when the stack sets them: AUTH_TOKEN
 * (zerocost:authToken; the admin routes need it as a bearer token) and BUDGET_ALERT_WEBHOOK (zerocost:budgetAlertWebhook or a
 * product's token-free settings.budgetAlertWebhook). wrangler types types
 * every secret it is given as required.
 */
type OptionalSecret = "AUTH_TOKEN" | "BUDGET_ALERT_WEBHOOK";

/**
 * Bindings the plan makes only for some products: SPEND (D1, the stack's
 * spend counter) when the stack has a budget or a product with keys; KEYS, KEY_FAILURES and the
 * door limiters (DOOR_<TIER>) when the product has customer keys.
 */
type OptionalBinding = "SPEND" | "KEYS" | "KEY_FAILURES" | "DOOR_STANDARD";

/** A pattern's generated bindings with the optional secrets and bindings optional. */
type Refine<B extends Record<OptionalSecret, string> & Record<OptionalBinding, unknown>> = Omit<B, OptionalSecret | OptionalBinding> &
  Partial<Pick<B, OptionalSecret | OptionalBinding>>;

/**
 * The spend guard's bindings as lib/spend/ reads them, every one optional:
 * the plan binds SPEND (the stack's D1 database) only when the stack has a
 * budget or a product with customer keys, and BUDGET_ALERT_WEBHOOK only when it is set; a budget var may be "".
 */
export interface SpendEnv {
  SPEND?: D1Database;
  MONTHLY_BUDGET_USD?: string;
  STACK_BUDGET_USD?: string;
  BUDGET_ALERT_THRESHOLDS?: string;
  MODEL_PRICES?: string;
  BUDGET_ALERT_WEBHOOK?: string;
}

/**
 * JOB_WORKFLOW is bound on runner: workflow only (the plan's default); its
 * instances take the job's input (lib/workflow.ts's JobParams).
 */
/** What an event agent's Workflow instance is created with (kept in its state for the retention period). */
export interface JobParams {
  input: string;
  /** the customer whose key created the job ("" or absent on a public product) */
  customer?: string;
  /** that customer's monthly budget (USD) when the job was created, for its budget alerts (absent: none) */
  budget_usd?: number;
}

export interface EventAgentEnv extends Omit<Refine<EventAgentBindings>, "JOB_WORKFLOW"> {
  JOB_WORKFLOW?: EventAgentBindings["JOB_WORKFLOW"] extends Workflow ? Workflow<JobParams> : never;
}

export interface AsyncPipelineEnv extends Refine<AsyncPipelineBindings> {
  /** wrangler types cannot know the message type (the lookup fails to compile if the binding goes). */
  JOB_QUEUE: AsyncPipelineBindings["JOB_QUEUE"] extends Queue ? Queue<QueueBody> : never;
}

export interface EdgeCacheEnv extends Refine<EdgeCacheBindings> {}

type SharedKey = keyof EventAgentEnv & keyof AsyncPipelineEnv & keyof EdgeCacheEnv;

/** What every pattern's Worker sees: the bindings, vars and secrets the three share. */
export type BaseEnv = Pick<EventAgentEnv, SharedKey>;

type VarKey<E> = { [K in keyof E]-?: E[K] extends string | undefined ? K : never }[keyof E];

/** The vars only some patterns use (RETRY_DELAY_SECONDS, CACHE_TTL_SECONDS, ...), optional. */
export type PatternVars = Partial<
  Pick<EventAgentEnv, Exclude<VarKey<EventAgentEnv>, SharedKey>> &
    Pick<AsyncPipelineEnv, Exclude<VarKey<AsyncPipelineEnv>, SharedKey>> &
    Pick<EdgeCacheEnv, Exclude<VarKey<EdgeCacheEnv>, SharedKey>>
>;

// Compile-time check: what wrangler types read from each rendered config names
// exactly the bindings, vars and secrets the Go contract (contract.gen.ts,
// PATTERN_ENV) lists for the pattern.
type ContractNames<P extends PatternName> =
  | (typeof PATTERN_ENV)[P]["bindings"][number]
  | (typeof PATTERN_ENV)[P]["vars"][number]
  | (typeof SECRETS)[keyof typeof SECRETS];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type ContractChecks = [
  Assert<Same<keyof EventAgentBindings, ContractNames<"event-agent">>>,
  Assert<Same<keyof AsyncPipelineBindings, ContractNames<"async-pipeline">>>,
  Assert<Same<keyof EdgeCacheBindings, ContractNames<"edge-cache">>>,
];
