// Property test of the cache key: inputs that differ only in case, punctuation
// and spacing share a key; different words do not; a key is always short.
import { describe, expect, it } from "vitest";
import { cacheKey, normalizeInput } from "../../src/lib/cachekey";

// A small seeded PRNG (mulberry32) so a failure can be replayed.
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const letters = "abcdefghijklmnopqrstuvwxyzéüßçøæ日本語кирил0123456789";
const punct = [".", ",", "!", "?", "¿", "¡", ";", ":", "'", '"', "«", "»", "(", ")", "-", "…", "—", "“", "”"];
const spaces = [" ", "  ", "\t", "\n", "\u00a0", " \r\n "];

function pick<T>(r: () => number, xs: readonly T[] | string): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function words(r: () => number): string[] {
  const n = 1 + Math.floor(r() * 12);
  return Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(r() * 8) }, () => pick<string>(r, letters)).join(""));
}

/** The same words with random case, punctuation and spacing. */
function variant(r: () => number, ws: string[]): string {
  const parts = ws.map((w) => {
    const cased = [...w].map((c) => (r() < 0.5 ? c.toUpperCase() : c)).join("");
    const before = r() < 0.2 ? pick(r, punct) : "";
    const after = r() < 0.4 ? pick(r, punct) : "";
    return before + cased + after;
  });
  const lead = r() < 0.3 ? pick(r, spaces) : "";
  const trail = r() < 0.3 ? pick(r, spaces) + pick(r, punct) : "";
  return lead + parts.join(pick(r, spaces)) + trail;
}

describe("cache key properties", () => {
  it("gives one key to inputs that differ only in case, punctuation and spacing", async () => {
    const r = rng(20261127);
    for (let i = 0; i < 300; i++) {
      const ws = words(r);
      const a = variant(r, ws);
      const b = variant(r, ws);
      // ß upper-cases to SS, which is a different word once lower-cased again.
      if ([...ws.join("")].some((c) => c === "ß")) continue;
      expect(normalizeInput(a), `case ${i}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(normalizeInput(b));
      expect(await cacheKey(a)).toBe(await cacheKey(b));
    }
  });

  it("gives different keys to different words", async () => {
    const r = rng(7);
    for (let i = 0; i < 200; i++) {
      const ws = words(r);
      const other = [...ws, "extra" + i];
      expect(await cacheKey(variant(r, ws))).not.toBe(await cacheKey(variant(r, other)));
    }
  });

  it("keeps every key far under KV's 512-byte limit, whatever the input's size", async () => {
    const r = rng(99);
    for (const size of [1, 100, 4000, 100_000]) {
      const input = Array.from({ length: size }, () => pick<string>(r, letters + " .,!")).join("");
      const key = await cacheKey(input, "claude-haiku-4-5\nsystem prompt");
      expect(new TextEncoder().encode(key).length).toBeLessThan(512);
      expect(key).toMatch(/^ai:[0-9a-f]{64}$/);
    }
  });
});
