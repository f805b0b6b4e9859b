// The entry the Go bundler generates for a product without hooks (docs/design.md, Hooks):
// the Worker, and on runner: workflow the Workflow class it binds as JOB_WORKFLOW.
import { createJobWorkflow, createWorker } from "../../src/patterns/event-agent.ts";
import * as hooks from "../fixtures/no-hooks.ts";

export default createWorker(hooks);
export const JobWorkflow = createJobWorkflow(hooks);
