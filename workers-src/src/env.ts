// The Worker environment: the binding and var names of docs/design.md
// ("Worker environment"). Vars are plain-text strings; lib/config.ts parses them.

/** Body of one message on JOB_QUEUE (async-pipeline). */
export interface JobMessage {
  job_id: string;
  input: string;
  /** times the job was sent again to wait out a rate limit (absent: 0) */
  deferrals?: number;
}

export type PatternName = "event-agent" | "async-pipeline" | "edge-cache";

/** What every pattern's Worker sees. */
export interface BaseEnv {
  PRODUCT: string;
  PATTERN?: string;
  MODEL?: string;
  ANTHROPIC_BASE_URL?: string;
  SYSTEM_PROMPT?: string;
  MAX_INPUT_CHARS?: string;
  MAX_OUTPUT_TOKENS?: string;
  MODEL_TIMEOUT_MS?: string;
  RATE_LIMIT_PER_MINUTE?: string;

  /** secret_text, required */
  ANTHROPIC_API_KEY: string;
  /** secret_text, optional: when set, every route but GET /health needs it as a bearer token */
  AUTH_TOKEN?: string;

  OUTPUTS: R2Bucket;
  RATE_LIMITER?: RateLimit;
  MODEL_USAGE?: AnalyticsEngineDataset;
}

/** The vars only some patterns use (all optional, all strings). */
export interface PatternVars {
  JOB_TTL_SECONDS?: string;
  RETRY_DELAY_SECONDS?: string;
  DEAD_LETTER_QUEUE?: string;
  CACHE_TTL_SECONDS?: string;
  KV_INLINE_MAX_BYTES?: string;
}

export interface EventAgentEnv extends BaseEnv {
  JOBS: KVNamespace;
  JOB_TTL_SECONDS?: string;
}

export interface AsyncPipelineEnv extends BaseEnv {
  JOBS: KVNamespace;
  JOB_QUEUE: Queue<JobMessage>;
  JOB_TTL_SECONDS?: string;
  RETRY_DELAY_SECONDS?: string;
  DEAD_LETTER_QUEUE?: string;
}

export interface EdgeCacheEnv extends BaseEnv {
  CACHE: KVNamespace;
  CACHE_TTL_SECONDS?: string;
  KV_INLINE_MAX_BYTES?: string;
}
