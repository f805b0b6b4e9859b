// The model stand-in's Message Batches API (internal/devmodel, batches.go) with
// Anthropic's official TypeScript SDK as its client: create, poll retrieve,
// results() (the SDK's JSONL decoding), cancel, delete and list with paging,
// with the key as the SDK sends it (Authorization: Bearer) and as x-api-key.
// The stand-in runs with its default batch knobs (no processing delay): the
// tests steer single requests with scripted steps (delayMs holds a request,
// hang keeps one processing until the batch is canceled or expires).
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { MARKER } from "../standin-protocol";
import { calls, newToken, script, url } from "./standin";

const MODEL = "claude-haiku-4-5";
const POLL_MS = 50;
const POLL_LIMIT_MS = 10_000;

const params = (content: string) => ({
  model: MODEL,
  max_tokens: 256,
  system: "Be brief.",
  messages: [{ role: "user" as const, content }],
});

/** Retrieves the batch until it has ended; returns it and the statuses seen on the way. */
async function untilEnded(client: Anthropic, id: string) {
  const seen: string[] = [];
  const deadline = Date.now() + POLL_LIMIT_MS;
  for (;;) {
    const b = await client.messages.batches.retrieve(id);
    seen.push(b.processing_status);
    if (b.processing_status === "ended") return { batch: b, seen };
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${b.processing_status} after ${POLL_LIMIT_MS} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function collect(client: Anthropic, id: string) {
  const lines = new Map<string, Anthropic.Messages.MessageBatchIndividualResponse>();
  for await (const line of await client.messages.batches.results(id)) lines.set(line.custom_id, line);
  return lines;
}

describe("Message Batches through the official SDK", () => {
  const bearer = new Anthropic({ apiKey: "sk-ant-standin-test", baseURL: url, maxRetries: 0 });
  // The key as x-api-key (what the Workers send): no SDK credential, the header set by hand.
  const xApiKey = new Anthropic({
    apiKey: null,
    authToken: null,
    baseURL: url,
    maxRetries: 0,
    defaultHeaders: { "x-api-key": "sk-ant-standin-test" },
  });

  it("create, poll retrieve until ended, stream results() (Authorization: Bearer)", async () => {
    const slow = newToken();
    const busy = newToken();
    await script(slow, [{ delayMs: 300 }]);
    await script(busy, [{ status: 529 }]);
    const created = await bearer.messages.batches.create({
      requests: [
        { custom_id: "job-slow", params: params(`slow question ${slow}`) },
        { custom_id: "job_plain", params: params("plain question") },
        { custom_id: "job-busy", params: params(`busy question ${busy}`) },
      ],
    });
    expect(created).toMatchObject({
      type: "message_batch",
      processing_status: "in_progress",
      request_counts: { processing: 3, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      cancel_initiated_at: null,
      archived_at: null,
      results_url: null,
    });
    expect(created.id).toMatch(/^msgbatch_/);
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3600 * 1000);
    // The SDK refuses to read results before the batch has a results_url.
    await expect(bearer.messages.batches.results(created.id)).rejects.toThrow(/results_url/);

    const { batch } = await untilEnded(bearer, created.id);
    expect(batch.request_counts).toEqual({ processing: 0, succeeded: 2, errored: 1, canceled: 0, expired: 0 });
    expect(Date.parse(batch.ended_at!) - Date.parse(batch.created_at)).toBeGreaterThanOrEqual(300);
    expect(batch.results_url).toBe(`${url}/v1/messages/batches/${batch.id}/results`);

    const lines = await collect(bearer, batch.id);
    expect([...lines.keys()].sort()).toEqual(["job-busy", "job-slow", "job_plain"]);
    const plain = lines.get("job_plain")!.result;
    expect(plain.type).toBe("succeeded");
    if (plain.type !== "succeeded") return;
    expect(plain.message).toMatchObject({ type: "message", role: "assistant", model: MODEL, stop_reason: "end_turn" });
    const block = plain.message.content[0]!;
    expect(block.type === "text" && block.text.startsWith(`${MARKER} reply to "plain question"`)).toBe(true);
    // Usage is what the Messages API reports for the same request: what a cost report prices.
    const direct = await bearer.messages.create(params("plain question"));
    expect(plain.message.usage.input_tokens).toBe(direct.usage.input_tokens);
    expect(plain.message.usage.output_tokens).toBe(direct.usage.output_tokens);
    expect(plain.message.usage.input_tokens).toBeGreaterThan(0);
    expect(lines.get("job-busy")!.result).toMatchObject({
      type: "errored",
      error: { type: "error", error: { type: "overloaded_error" } },
    });

    const [c] = await calls(slow);
    expect(c!.headers.authorization).toBe("Bearer sk-ant-standin-test");
    expect(c!.headers["anthropic-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("cancel: canceling, then ended with the unfinished request canceled; then delete (x-api-key)", async () => {
    const stuck = newToken();
    await script(stuck, [{ hang: true }]);
    const created = await xApiKey.messages.batches.create({
      requests: [
        { custom_id: "done", params: params("answered at once") },
        { custom_id: "stuck", params: params(`never answered ${stuck}`) },
      ],
    });
    // The hanging request keeps the batch processing.
    expect((await xApiKey.messages.batches.retrieve(created.id)).processing_status).toBe("in_progress");
    // The SDK refuses delete while processing with the stand-in's 400.
    await expect(xApiKey.messages.batches.delete(created.id)).rejects.toBeInstanceOf(Anthropic.BadRequestError);

    const canceling = await xApiKey.messages.batches.cancel(created.id);
    expect(canceling.processing_status).toBe("canceling");
    expect(canceling.cancel_initiated_at).not.toBeNull();
    const { batch } = await untilEnded(xApiKey, created.id);
    expect(batch.request_counts).toEqual({ processing: 0, succeeded: 1, errored: 0, canceled: 1, expired: 0 });
    expect(batch.cancel_initiated_at).toBe(canceling.cancel_initiated_at);

    const lines = await collect(xApiKey, batch.id);
    expect(lines.get("done")!.result.type).toBe("succeeded");
    expect(lines.get("stuck")!.result).toEqual({ type: "canceled" });
    const [c] = await calls(stuck);
    expect(c!.headers["x-api-key"]).toBe("sk-ant-standin-test");
    expect(c!.headers.authorization).toBeUndefined();

    expect(await xApiKey.messages.batches.delete(batch.id)).toEqual({ id: batch.id, type: "message_batch_deleted" });
    await expect(xApiKey.messages.batches.retrieve(batch.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  it("list pages newest first with limit and after_id (the SDK's auto-pagination)", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await bearer.messages.batches.create({ requests: [{ custom_id: `r${i}`, params: params(`list ${i}`) }] })).id);
    }
    const first = await bearer.messages.batches.list({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    expect(first.first_id).toBe(first.data[0]!.id);
    expect(first.last_id).toBe(first.data[1]!.id);
    // Auto-pagination walks every page (after_id = last_id) until has_more is false.
    const all: string[] = [];
    for await (const b of bearer.messages.batches.list({ limit: 2 })) all.push(b.id);
    expect(new Set(all).size).toBe(all.length);
    const mine = all.filter((id) => ids.includes(id));
    expect(mine).toEqual([...ids].reverse());
    // before_id pages back towards the newest.
    const back = await bearer.messages.batches.list({ limit: 1, before_id: ids[0]! });
    expect(back.data.map((b) => b.id)).toEqual([all[all.indexOf(ids[0]!) - 1]]);
  });

  it("the stand-in's validation errors reach the SDK as typed errors", async () => {
    const dup = bearer.messages.batches.create({
      requests: [
        { custom_id: "same", params: params("a") },
        { custom_id: "same", params: params("b") },
      ],
    });
    await expect(dup).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await expect(dup).rejects.toMatchObject({ status: 400, error: { type: "error", error: { type: "invalid_request_error" } } });
    const bad = bearer.messages.batches.create({ requests: [{ custom_id: "not valid!", params: params("a") }] });
    await expect(bad).rejects.toMatchObject({ status: 400, error: { error: { message: expect.stringMatching(/custom_id/) } } });
    await expect(bearer.messages.batches.retrieve("msgbatch_missing")).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    const noKey = new Anthropic({ apiKey: null, authToken: null, baseURL: url, maxRetries: 0, defaultHeaders: { authorization: null } });
    await expect(noKey.messages.batches.list()).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
  });
});
