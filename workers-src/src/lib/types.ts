// Types the model client, the spend guard and the price table share. Kept
// apart from model.ts so that the spend guard (lib/spend/) and prices.ts need
// nothing of the client, and the client nothing of them but a hook.

export interface MessageParam {
  role: "user" | "assistant";
  content: string | Array<Record<string, unknown>>;
}

/** The request body of POST /v1/messages (the fields zerocost sets; others pass through). */
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: MessageParam[];
  system?: string | Array<Record<string, unknown>>;
  [field: string]: unknown;
}

export interface ContentBlock {
  type: string;
  text?: string;
  [field: string]: unknown;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

export interface MessagesResponse {
  id?: string;
  type?: string;
  model?: string;
  content: ContentBlock[];
  stop_reason?: string | null;
  usage?: Usage;
}

/** How a call was billed: the Messages API, or the Message Batches API at its discount. */
export type ModelMode = "realtime" | "batch";

/** A reservation of a model call in flight (lib/spend/guard.ts); release() is idempotent. */
export interface BudgetTicket {
  release(): void;
}
export const NO_TICKET: BudgetTicket = { release() {} };

/**
 * Who pays for a model call: the customer whose key made the request (a
 * product with keys) and the customer's monthly budget in USD from the key's
 * record (null: none). The spend guard checks that budget before the call and
 * adds the call to the customer's row after it (lib/spend/customer.ts).
 */
export interface Payer {
  customer: string;
  budgetUsd: number | null;
}

/**
 * The payer of a call whose budget was checked already: its spend is
 * recorded, and its budget (when known) only sets off its alerts; undefined
 * without a customer.
 */
export const payerFor = (customer: string, budgetUsd: number | null = null): Payer | undefined => (customer ? { customer, budgetUsd } : undefined);
