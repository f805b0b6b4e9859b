// Customer keys for the Worker tests: keys in the format of
// internal/apikeys and their records, written into the project's KEYS
// namespace as `zerocost keys create` writes them.
import { env } from "cloudflare:workers";
import { checksum, type KeyRecord } from "../src/lib/keys";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function newKey(): string {
  const body = Array.from(crypto.getRandomValues(new Uint8Array(30)), (b) => ALPHABET[b % 62]).join("");
  return `zck_${body}${checksum(body)}`;
}

export async function sha256hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes a key's record (value and metadata, as the CLI does) and returns the key. */
export async function putKey(product: string, customer: string, over: Partial<KeyRecord> = {}): Promise<string> {
  const key = newKey();
  const rec: KeyRecord = {
    v: 1, customer, prefix: key.slice(0, 12), product, tier: "standard", monthly_budget_usd: null,
    created_at: new Date().toISOString(), expires_at: null, revoked_at: null, ...over,
  };
  await env.KEYS!.put(`k:${await sha256hex(key)}`, JSON.stringify(rec), { metadata: rec });
  return key;
}

