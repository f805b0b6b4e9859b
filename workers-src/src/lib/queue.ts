// Sending many messages on a queue within Cloudflare Queues' limits: a
// sendBatch carries at most 100 messages and 256 KB in all
// (https://developers.cloudflare.com/queues/platform/limits/).

/** Messages per sendBatch (the Queues limit). */
export const SEND_MAX_MESSAGES = 100;
/** Bytes per sendBatch: the 256 KB limit less a margin, counting each body's JSON plus SEND_OVERHEAD_BYTES. */
export const SEND_MAX_BYTES = 200_000;
/** What each message is counted at beyond its JSON body (its metadata), erring high. */
const SEND_OVERHEAD_BYTES = 100;

export interface SendOptions {
  /** seconds before the messages may be delivered */
  delaySeconds?: number;
}

/**
 * Sends the messages: one with send, more with sendBatch in chunks within
 * the limits, in order. Returns how many were sent, which is less than all
 * only when a send failed (`error`; the messages before it were sent).
 */
export async function sendAll<T>(queue: Queue<T>, messages: T[], opts: SendOptions = {}): Promise<{ sent: number; error?: unknown }> {
  const extra = opts.delaySeconds === undefined ? {} : { delaySeconds: opts.delaySeconds };
  let sent = 0;
  try {
    if (messages.length === 1) {
      await queue.send(messages[0]!, { contentType: "json", ...extra });
      return { sent: 1 };
    }
    const enc = new TextEncoder();
    let chunk: MessageSendRequest<T>[] = [];
    let bytes = 0;
    const flush = async () => {
      if (chunk.length) await queue.sendBatch(chunk);
      sent += chunk.length;
      chunk = [];
      bytes = 0;
    };
    for (const body of messages) {
      const size = enc.encode(JSON.stringify(body)).byteLength + SEND_OVERHEAD_BYTES;
      if (chunk.length === SEND_MAX_MESSAGES || (chunk.length > 0 && bytes + size > SEND_MAX_BYTES)) await flush();
      chunk.push({ body, contentType: "json", ...extra });
      bytes += size;
    }
    await flush();
    return { sent };
  } catch (error) {
    return { sent, error };
  }
}

/** A message retry's delay (seconds) within Queues' maximum delay of 12 hours (43,200 s, the limits page above). */
export const retryDelay = (seconds: number) => Math.min(43_200, Math.max(0, Math.ceil(seconds)));
