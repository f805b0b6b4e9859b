// Types for the tests that run inside workerd.
import type { AsyncPipelineEnv, EdgeCacheEnv, EventAgentEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    // The bindings the tests see: the union of the three test configs.
    interface Env extends EventAgentEnv, AsyncPipelineEnv, EdgeCacheEnv {}
    // exports.default (the main Worker) is an ExportedHandler in every project.
    interface GlobalProps {
      mainModule: typeof import("./entries/event-agent");
    }
  }

  // Used by cloudflare:test's createMessageBatch/getQueueResult; the
  // non-experimental @cloudflare/workers-types 5.x leaves them out.
  interface FetcherQueueResult {
    outcome: string;
    ackAll: boolean;
    retryBatch: { retry: boolean; delaySeconds?: number };
    explicitAcks: string[];
    retryMessages: Array<{ msgId: string; delaySeconds?: number }>;
  }
  type ServiceBindingQueueMessage<Body = unknown> = {
    id: string;
    timestamp: Date;
    attempts: number;
    body: Body;
  };
}
