// What the model stand-in (test/node/model-standin.ts) understands; shared by
// the Node side and the tests in workerd.

/** Test tokens: "tok" and 32 hex digits (test/helpers.ts newToken). */
export const TOKEN = /tok[0-9a-f]{32}/i;

export interface Step {
  status?: number;
  retryAfter?: string;
  text?: string;
  repeat?: number;
  hang?: boolean;
  drop?: boolean;
  delayMs?: number;
  rawBody?: string;
  times?: number;
}
