// Request plumbing: a JSON body reader that never trusts Content-Length and
// never lets malformed input become a 5xx, and a tiny router.
import { HttpError, badInput, tooLarge } from "./errors";

/** POST bodies must be application/json; a charset parameter is allowed if it is UTF-8. */
export function assertJsonContentType(request: Request): void {
  const header = request.headers.get("content-type") ?? "";
  const [type = "", ...params] = header.split(";").map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith("charset="))?.slice(8).replace(/"/g, "");
  if (type !== "application/json" || (charset !== undefined && charset !== "utf-8" && charset !== "utf8")) {
    throw new HttpError(415, "unsupported_media_type", "Content-Type must be application/json (UTF-8)");
  }
}

/**
 * A body the client did not send whole: cut short (fewer bytes than its
 * Content-Length, then the connection closed) or malformed chunked framing.
 * The runtime's read then throws (workerd: "Network connection lost"); that
 * is the client's doing, a 400, never a 500.
 */
export function unreadableBody(err: unknown): HttpError {
  console.warn(`client error: the request body could not be read whole (${err instanceof Error ? err.message : String(err)})`);
  return new HttpError(400, "invalid_json", "the request body could not be read whole (cut short, or malformed chunked framing)");
}

/** Reads the body, stopping as soon as it passes maxBytes (413); a body that cannot be read whole is a 400. */
export async function readBodyCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooBig = () => tooLarge(`request body is larger than ${maxBytes} bytes`);
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooBig();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (err) {
      throw unreadableBody(err);
    }
    const { done, value } = next;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooBig();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Content type, byte cap, strict UTF-8, JSON.parse, and "must be an object". */
export async function readJsonObject(request: Request, maxBytes: number): Promise<Record<string, unknown>> {
  assertJsonContentType(request);
  const bytes = await readBodyCapped(request, maxBytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_json", "request body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badInput("request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Worst-case JSON bytes for a string of n characters: "\uXXXX" is 6 bytes. */
export const jsonBytesFor = (chars: number) => chars * 6 + 2;

export type Handler<E> = (
  request: Request,
  env: E,
  ctx: ExecutionContext,
  params: Record<string, string>,
) => Promise<Response> | Response;

export interface Route<E> {
  /** an exact path, or a RegExp whose named groups become params */
  path: string | RegExp;
  GET?: Handler<E>;
  POST?: Handler<E>;
}

export function matchRoute<E>(
  routes: Route<E>[],
  method: string,
  pathname: string,
): { handler: Handler<E>; params: Record<string, string> } | null {
  for (const route of routes) {
    let params: Record<string, string> = {};
    if (typeof route.path === "string") {
      if (route.path !== pathname) continue;
    } else {
      const m = route.path.exec(pathname);
      if (!m) continue;
      params = { ...m.groups };
    }
    // HEAD is GET without the body (lib/app.ts drops it).
    const handler = method === "GET" || method === "HEAD" ? route.GET : method === "POST" ? route.POST : undefined;
    if (handler) return { handler, params };
    const allow = [route.GET && "GET, HEAD", route.POST && "POST"].filter(Boolean).join(", ");
    throw new HttpError(405, "method_not_allowed", `method ${method} is not allowed here`, { allow });
  }
  return null;
}
