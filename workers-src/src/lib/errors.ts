// Every error response is JSON: {"error":{"code":"...","message":"..."}}.

export type ErrorCode =
  | "method_not_allowed" // 405, with Allow
  | "invalid_json" // 400
  | "invalid_input" // 400
  | "input_too_large" // 413
  | "unsupported_media_type" // 415
  | "not_found" // 404
  | "unauthorized" // 401: the admin routes' bearer token (AUTH_TOKEN) is missing or wrong
  | "invalid_key" // 401, with WWW-Authenticate: a customer key is missing, malformed, unknown, expired or revoked
  | "rate_limited" // 429, with Retry-After
  | "budget_exhausted" // 429, with Retry-After, resets_at and scope: the month's model budget is spent
  | "forbidden" // 403: the route needs a setting the stack lacks (admin routes without AUTH_TOKEN)
  | "upstream_error" // 502: the model API failed (edge-cache answers synchronously)
  | "unavailable" // 503: a platform service (the job queue) failed; retry later
  | "internal"; // 500: a bug

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
