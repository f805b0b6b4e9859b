// The entry the Go bundler generates for a product without hooks (docs/design.md, Hooks).
import { createWorker } from "../../src/patterns/event-agent.ts";
import * as hooks from "../fixtures/no-hooks.ts";

export default createWorker(hooks);
