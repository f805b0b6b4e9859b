// The model stand-in (internal/devmodel) with Anthropic's official TypeScript
// SDK as its client: what a user's own code would send to `zerocost dev`'s
// stand-in. The SDK is a test dependency only.
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { MARKER } from "../standin-protocol";
import { calls, newToken, script, url } from "./standin";


describe("the official SDK against the stand-in", () => {
  it("messages.create with an API key (sent as Authorization: Bearer)", async () => {
    const client = new Anthropic({ apiKey: "sk-ant-standin-test", baseURL: url, maxRetries: 0 });
    const t = newToken();
    const { data: msg, response } = await client.messages
      .create({
        model: "claude-haiku-4-5",
        max_tokens: 256,
        system: "Be brief.",
        messages: [{ role: "user", content: `What is a Worker? ${t}` }],
      })
      .withResponse();
    expect(response.headers.get("x-zerocost-stand-in")).toBe("true");
    expect(msg).toMatchObject({ type: "message", role: "assistant", model: "claude-haiku-4-5", stop_reason: "end_turn" });
    expect(msg.id).toMatch(/^msg_/);
    expect(msg.content).toHaveLength(1);
    const block = msg.content[0]!;
    expect(block.type).toBe("text");
    expect(block.type === "text" && block.text.startsWith(`${MARKER} reply to "What is a Worker? ${t}"`)).toBe(true);
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);

    const [c] = await calls(t);
    expect(c!.headers.authorization).toBe("Bearer sk-ant-standin-test");
    expect(c!.headers["x-api-key"]).toBeUndefined();
    expect(c!.headers["anthropic-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(c!.body).toMatchObject({ model: "claude-haiku-4-5", max_tokens: 256, system: "Be brief." });
  });

  it("messages.create with an auth token, and content blocks", async () => {
    const client = new Anthropic({ authToken: "oauth-standin-token", baseURL: url, maxRetries: 0 });
    const t = newToken();
    const msg = await client.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 3,
      messages: [{ role: "user", content: [{ type: "text", text: `A long question about Workers ${t}` }] }],
    });
    expect(msg.stop_reason).toBe("max_tokens");
    expect(msg.usage.output_tokens).toBeLessThanOrEqual(3);
    expect((await calls(t))[0]!.headers.authorization).toBe("Bearer oauth-standin-token");
  });

  it("the SDK retries the stand-in's 529 and honours its retry-after", async () => {
    const client = new Anthropic({ apiKey: "sk-ant-standin-test", baseURL: url, maxRetries: 2 });
    const t = newToken();
    await script(t, [{ status: 529 }, { status: 429, retryAfter: "1" }]);
    const started = Date.now();
    const msg = await client.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 64,
      messages: [{ role: "user", content: `retry ${t}` }],
    });
    expect(msg.content[0]!.type).toBe("text");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(await calls(t)).toHaveLength(3);
  });

  it("the SDK's typed errors carry the stand-in's error shape", async () => {
    const client = new Anthropic({ apiKey: "sk-ant-standin-test", baseURL: url, maxRetries: 0 });
    const t = newToken();
    await script(t, [{ status: 429, retryAfter: "30" }, { status: 529 }]);
    const create = () =>
      client.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: `busy ${t}` }] });
    const limited = await create().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited).toMatchObject({ status: 429, error: { type: "error", error: { type: "rate_limit_error" } } });
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).headers.get("retry-after")).toBe("30");
    const overloaded = await create().catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect(overloaded).toMatchObject({ status: 529, error: { error: { type: "overloaded_error" } } });
    const invalid = await client.messages
      .create({ model: "claude-haiku-4-5", max_tokens: 0, messages: [{ role: "user", content: `zero ${t}` }] })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(Anthropic.BadRequestError);
    expect(invalid).toMatchObject({ status: 400, error: { error: { type: "invalid_request_error" } } });
  });

  it("without a key the stand-in answers 401 authentication_error", async () => {
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "m", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });
});
