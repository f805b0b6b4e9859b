// What test/node/global-setup.ts provides to every project (inject("modelUrl")):
// read by the tests in workerd (tsconfig.json) and by the setup in Node
// (tsconfig.node.json), which both include this file.
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    modelUrl: string;
    webhookUrl: string;
  }
}
