// Every error response is JSON: {"error":{"code":"...","message":"..."}}.
// The codes and their statuses are the contract's (ERROR_CODES, generated
// from internal/contract, which verify and the CLI read too).
import type { ErrorCode } from "../contract.gen";

export type { ErrorCode } from "../contract.gen";

export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** more fields of the error object (budget_exhausted: resets_at, scope) */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const JSON_TYPE = "application/json; charset=utf-8";

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": JSON_TYPE, "cache-control": "no-store", ...headers },
  });
}

export function errorResponse(
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): Response {
  return json({ error: { code, message, ...extra } }, status, headers);
}

/** Turns anything thrown by a handler into a JSON error response. */
export function toErrorResponse(err: unknown): Response {
  if (err instanceof HttpError) return errorResponse(err.status, err.code, err.message, err.headers, err.extra);
  console.error("internal error:", err);
  return errorResponse(500, "internal", "internal error");
}

export const badInput = (message: string) => new HttpError(400, "invalid_input", message);
export const tooLarge = (message: string) => new HttpError(413, "input_too_large", message);
export const notFound = (message = "not found") => new HttpError(404, "not_found", message);

/** A short, safe description of a thrown value. */
export function describe(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.length > 500 ? msg.slice(0, 500) + "…" : msg;
}
