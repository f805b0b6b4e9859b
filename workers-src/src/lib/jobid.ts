// Job ids that carry their own proof, so that "queued" needs no write.
//
// An id is 60 lowercase hex digits:
//
//   <12: creation time, ms since the epoch><16: 64 random bits><32: MAC>
//
// MAC = the first 128 bits of HMAC-SHA-256 over the first 28 digits (as
// ASCII), followed by NUL and the customer for a product with keys (so an id
// verifies only for the customer it was issued to), keyed by HKDF-SHA-256(ikm = ANTHROPIC_API_KEY, salt = none,
// info = "zerocost job id v1" NUL PRODUCT). Only the Worker that holds the
// product's API key can mint an id that verifies, so GET /jobs/:id can answer
// "queued" for an id it never stored, and 404 for one it never issued, without
// any write at POST time. Rotating the API key invalidates the ids that have no
// record yet (a stored record is shown whatever the key).
import type { BaseEnv } from "../env";

/** Checked before any I/O: 60 lowercase hex digits. */
export const JOB_ID = /^[0-9a-f]{60}$/;
export const isJobId = (id: string): boolean => JOB_ID.test(id);

const TIME_HEX = 12;
const RANDOM_HEX = 16;
const BODY_HEX = TIME_HEX + RANDOM_HEX;
const INFO = "zerocost job id v1\u0000";

const enc = new TextEncoder();
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

// Derived keys, per API key and product (an isolate serves one product, but the
// tests give each case its own PRODUCT).
const keys = new Map<string, Promise<CryptoKey>>();

function macKey(env: BaseEnv): Promise<CryptoKey> {
  const secret = env.ANTHROPIC_API_KEY ?? "";
  const product = env.PRODUCT ?? "";
  const id = `${product}\u0000${secret}`;
  let k = keys.get(id);
  if (!k) {
    k = (async () => {
      // HKDF needs key material; an unset key still derives (and the model call fails on its own).
      const ikm = await crypto.subtle.importKey("raw", enc.encode("zerocost:" + secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(INFO + product) },
        ikm,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign"],
      );
    })();
    if (keys.size > 64) keys.clear();
    keys.set(id, k);
  }
  return k;
}

async function mac(env: BaseEnv, body: string, customer: string): Promise<string> {
  const signed = customer === "" ? body : `${body}\u0000${customer}`;
  const sig = await crypto.subtle.sign("HMAC", await macKey(env), enc.encode(signed));
  return hex(new Uint8Array(sig).slice(0, 16));
}

/** A new signed job id for now (or `at`, ms), for the customer ("" on a public product). */
export async function newJobId(env: BaseEnv, at = Date.now(), customer = ""): Promise<string> {
  const time = Math.max(0, Math.floor(at)).toString(16).padStart(TIME_HEX, "0").slice(-TIME_HEX);
  const body = time + hex(crypto.getRandomValues(new Uint8Array(RANDOM_HEX / 2)));
  return body + (await mac(env, body, customer));
}

/** When the id says its job was created (ms since the epoch); the id must match JOB_ID. */
export function createdAt(id: string): number {
  return Number.parseInt(id.slice(0, TIME_HEX), 16);
}

/** Whether this Worker (its API key and product) issued the id to the customer. Constant time in the MAC. */
export async function verifyJobId(env: BaseEnv, id: string, customer = ""): Promise<boolean> {
  if (!isJobId(id)) return false;
  const want = await mac(env, id.slice(0, BODY_HEX), customer);
  const got = id.slice(BODY_HEX);
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want.charCodeAt(i) ^ got.charCodeAt(i);
  return diff === 0;
}
