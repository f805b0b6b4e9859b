// Optional bearer token (secret AUTH_TOKEN). The comparison hashes both sides
// and compares the digests in constant time, so neither length nor content leaks.
import { HttpError } from "./errors";

const enc = new TextEncoder();

async function digest(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s)));
}

export async function safeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** Throws 401 unless AUTH_TOKEN is unset or the request carries it as a bearer token. */
export async function requireAuth(request: Request, token: string | undefined): Promise<void> {
  if (!token) return;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get("authorization") ?? "");
  if (m && (await safeEqual(m[1]!, token))) return;
  throw new HttpError(401, "unauthorized", "missing or invalid bearer token", {
    "www-authenticate": 'Bearer realm="zerocost"',
  });
}
