// What the model stand-in understands: the scripting of internal/devmodel
// (script.go), shared by the Node side and the tests in workerd. Step mirrors
// devmodel.Step; the stand-in answers 400 to a step field it does not know.

/** Test tokens: "tok" and 32 hex digits (test/helpers.ts newToken). */
export const TOKEN = /tok[0-9a-f]{32}/i;

/** The stand-in's control routes (POST script, GET calls?token=). */
export const SCRIPT_PATH = "/_stand-in/script";
export const CALLS_PATH = "/_stand-in/calls";

/** Starts every reply text of the stand-in (devmodel.Marker). */
export const MARKER = "[zerocost stand-in model]";

/**
 * One scripted answer. A step runs `times` times (default 1; -1 = for ever),
 * then the next one; when none is left the stand-in answers as usual.
 */
export interface Step {
  /** answer with Anthropic's error shape for this status */
  status?: number;
  /** the retry-after header, verbatim (with status) */
  retryAfter?: string;
  /** the reply text instead of the deterministic one, repeated `repeat` times, not cut to max_tokens */
  text?: string;
  repeat?: number;
  /** never answer; the caller's timeout must fire */
  hang?: boolean;
  /** a 200 whose connection is cut mid-body (a network error) */
  drop?: boolean;
  /** answer late */
  delayMs?: number;
  /** a 200 with this body as is */
  rawBody?: string;
  times?: number;
}

/** One call the stand-in recorded for a token. */
export interface StandinCall {
  /** x-api-key, authorization, anthropic-version and content-type, those that were sent */
  headers: Record<string, string>;
  body: any;
  /** arrival, Unix ms */
  at: number;
}
