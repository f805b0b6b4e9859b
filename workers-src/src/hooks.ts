// The hooks a product's TypeScript module may export (docs/design.md, "Hooks").
// Every member is optional; the defaults below apply to the ones left out.
import type { BaseEnv, PatternName } from "./env";
import type { Config } from "./lib/config";
import { textOf } from "./lib/model";
import type { MessagesRequest, MessagesResponse } from "./lib/types";

export type { MessagesRequest, MessagesResponse } from "./lib/types";

export interface HookContext {
  env: BaseEnv;
  product: string;
  pattern: PatternName;
  model: string;
  maxTokens: number;
  systemPrompt: string;
  /** the request the default buildRequest would send */
  defaultRequest: MessagesRequest;
}

export interface Hooks {
  /** Build the Messages API request body. model and max_tokens default from the vars when left out. */
  buildRequest?(input: string, ctx: HookContext): Partial<MessagesRequest> | Promise<Partial<MessagesRequest>>;
  /** Shape the model's response into the stored result or answer (JSON-serialisable). Default: its text. */
  shapeResult?(response: MessagesResponse, input: string): unknown;
  /** Runs on the Worker's cron triggers. */
  scheduled?(env: BaseEnv, controller: ScheduledController, ctx: ExecutionContext): void | Promise<void>;
}

export function defaultRequest(input: string, cfg: Config): MessagesRequest {
  const body: MessagesRequest = {
    model: cfg.model,
    max_tokens: cfg.maxOutputTokens,
    messages: [{ role: "user", content: input }],
  };
  if (cfg.systemPrompt.trim() !== "") body.system = cfg.systemPrompt;
  return body;
}

/** Checks a hooks module once, when the Worker is created. */
export function checkHooks(hooks: Hooks): Hooks {
  for (const name of ["buildRequest", "shapeResult", "scheduled"] as const) {
    const h = (hooks as Record<string, unknown>)[name];
    if (h !== undefined && typeof h !== "function") throw new TypeError(`hooks.${name} must be a function`);
  }
  return hooks;
}

export async function buildRequest(
  hooks: Hooks,
  input: string,
  env: BaseEnv,
  cfg: Config,
  pattern: PatternName,
): Promise<MessagesRequest> {
  const base = defaultRequest(input, cfg);
  if (!hooks.buildRequest) return base;
  const ctx: HookContext = {
    env,
    product: cfg.product,
    pattern,
    model: cfg.model,
    maxTokens: cfg.maxOutputTokens,
    systemPrompt: cfg.systemPrompt,
    defaultRequest: base,
  };
  const built = await hooks.buildRequest(input, ctx);
  return { model: cfg.model, max_tokens: cfg.maxOutputTokens, ...built } as MessagesRequest;
}

export async function shapeResult(hooks: Hooks, response: MessagesResponse, input: string): Promise<unknown> {
  const shaped = hooks.shapeResult ? await hooks.shapeResult(response, input) : textOf(response);
  return shaped === undefined ? null : shaped;
}
