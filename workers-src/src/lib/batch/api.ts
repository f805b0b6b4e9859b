// The Message Batches API (https://docs.anthropic.com/en/api/creating-message-batches):
// create, retrieve, cancel and the results of a batch, each one fetch with no
// retry (a create has no idempotency key: the queue retries the delivery; the
// poller tries a retrieve again on its next run). Headers, errors and
// timeouts are lib/anthropic.ts's.
import type { BaseEnv } from "../../env";
import { apiFetch, ModelError } from "../anthropic";
import type { Config } from "../config";
import type { MessagesRequest, MessagesResponse } from "../types";

/** The message_batch object (the fields used here). */
export interface MessageBatch {
  id: string;
  type?: string;
  processing_status: "in_progress" | "canceling" | "ended" | string;
  results_url?: string | null;
  ended_at?: string | null;
}

/** One line of a batch's results. */
export interface BatchResultLine {
  custom_id: string;
  result:
    | { type: "succeeded"; message: MessagesResponse }
    | { type: "errored"; error?: { type?: string; error?: { type?: string; message?: string } } }
    | { type: "canceled" }
    | { type: "expired" };
}

export type BatchResult = BatchResultLine["result"];

/** One fetch, no retry. Throws ModelError, its message starting with `what`. */
const api = (env: BaseEnv, cfg: Config, url: string, what: string, init: RequestInit = {}) =>
  apiFetch(env, url, init, cfg.modelTimeoutMs, what, true);

async function apiJson<T>(env: BaseEnv, cfg: Config, url: string, what: string, init?: RequestInit): Promise<T> {
  const res = await api(env, cfg, url, what, init);
  try {
    return (await res.json()) as T;
  } catch {
    throw new ModelError(`${what}: the answer is not JSON`, 502, true);
  }
}

const batchUrl = (cfg: Config, id: string) => `${cfg.baseUrl}/v1/messages/batches/${encodeURIComponent(id)}`;

export async function createBatch(env: BaseEnv, cfg: Config, requests: Array<{ custom_id: string; params: MessagesRequest }>): Promise<MessageBatch> {
  const b = await apiJson<MessageBatch>(env, cfg, `${cfg.baseUrl}/v1/messages/batches`, "creating a message batch", {
    method: "POST",
    body: JSON.stringify({ requests }),
  });
  if (typeof b?.id !== "string" || b.id === "") throw new ModelError("creating a message batch: the answer has no batch id", 502, true);
  return b;
}

export async function retrieveBatch(env: BaseEnv, cfg: Config, id: string): Promise<MessageBatch> {
  return apiJson<MessageBatch>(env, cfg, batchUrl(cfg, id), `retrieving message batch ${id}`);
}

export async function cancelBatch(env: BaseEnv, cfg: Config, id: string): Promise<void> {
  await api(env, cfg, `${batchUrl(cfg, id)}/cancel`, `canceling message batch ${id}`, { method: "POST" });
}

/** The results of an ended batch, by custom_id (JSONL; lines that do not parse are skipped and logged). */
export async function batchResults(env: BaseEnv, cfg: Config, batch: MessageBatch): Promise<Map<string, BatchResult>> {
  const url = typeof batch.results_url === "string" && batch.results_url !== "" ? batch.results_url : `${batchUrl(cfg, batch.id)}/results`;
  const res = await api(env, cfg, url, `reading the results of message batch ${batch.id}`);
  const out = new Map<string, BatchResult>();
  for (const line of (await res.text()).split("\n")) {
    if (line.trim() === "") continue;
    try {
      const v = JSON.parse(line) as BatchResultLine;
      if (typeof v?.custom_id === "string" && typeof v.result?.type === "string") out.set(v.custom_id, v.result);
      else console.error(`message batch ${batch.id}: a results line without custom_id or result type`);
    } catch {
      console.error(`message batch ${batch.id}: a results line that is not JSON`);
    }
  }
  return out;
}
