// edge-cache (test/edge-cache/harness.ts): its routes and what they refuse.
import { describe, expect, it } from "vitest";
import { call, expectBearerAuth, expectError, expectHealth, expectPatternBindings, get, postJson } from "../helpers";
import { worker } from "./harness";

describe("routes", () => {
  it("sees the bindings of its rendered config (test/wrangler/edge-cache.toml)", async () => {
    await expectPatternBindings({ PRODUCT: "ec-test", PATTERN: "edge-cache", CACHE_TTL_SECONDS: "86400" }, "answers/none.json");
  });

  it("GET /health, 404, 405", async () => {
    await expectHealth("edge-cache", "ec-test");
    await expectError(await call(worker, get("/jobs")), 404, "not_found");
    const r = await call(worker, get("/ask"));
    expect(r.headers.get("allow")).toBe("POST");
    await expectError(r, 405, "method_not_allowed");
  });

  const cases: Array<[string, Request, number, string]> = [
    ["invalid JSON", postJson("/ask", "{'input': 1}"), 400, "invalid_json"],
    ["invalid UTF-8", postJson("/ask", new Uint8Array([0x7b, 0x22, 0x69, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d])), 400, "invalid_json"],
    ["an array body", postJson("/ask", [1]), 400, "invalid_input"],
    ["no input", postJson("/ask", { question: "x" }), 400, "invalid_input"],
    ["input an object", postJson("/ask", { input: { text: "x" } }), 400, "invalid_input"],
    ["blank input", postJson("/ask", { input: "   " }), 400, "invalid_input"],
    ["input too long", postJson("/ask", { input: "é".repeat(201) }), 413, "input_too_large"],
    ["body over the byte cap", postJson("/ask", { input: "a", pad: "x".repeat(3000) }), 413, "input_too_large"],
    ["wrong content type", postJson("/ask", { input: "a" }, { "content-type": "multipart/form-data" }), 415, "unsupported_media_type"],
  ];
  it.each(cases)("rejects %s", async (_n, request, status, code) => {
    await expectError(await call(worker, request), status, code);
  });

  it("AUTH_TOKEN guards the admin routes, not /ask; /health open", async () => {
    await expectBearerAuth(worker, "/ask", 200);
  });
});
