// Starts the model stand-in (test/node/model-standin.ts) for one vitest project
// and hands its URL to the Worker as ANTHROPIC_BASE_URL (see vitest.config.ts).
import type { TestProject } from "vitest/node";
import { startModelStandin } from "./model-standin";

declare module "vitest" {
  export interface ProvidedContext {
    modelUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const standin = await startModelStandin();
  project.provide("modelUrl", standin.url);
  return () => standin.close();
}
