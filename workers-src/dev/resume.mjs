// Resumes the Workflow instances a previous run of `zerocost dev` left under
// way. On Cloudflare a Workflow instance outlives the machine that runs it: a
// step's state "allows a Workflow to persist and continue from that step,
// even if a Workflow fails due to a network or infrastructure issue"
// (developers.cloudflare.com/workflows/reference/glossary/, "step"; "Durable
// Execution": "resistant to errors caused by API, network or even
// machine/infrastructure failures"). Miniflare's engine persists each
// instance (its status, its params and every finished step's result, in the
// instance's Durable Object under the persist dir) but nothing wakes an engine
// that was running when workerd stopped: it keeps the status running and
// never runs again (its priority queue sets no Durable Object alarm; an engine
// starts only from create(), restart(), resume() or an event). So, before the
// runner reports ready, this finds the instances whose persisted status is
// queued or running and sends each an event: the engine, not running in this
// process, starts its run() again from its metadata, and every step that had
// finished returns its stored result without running (the model is not paid
// again for a finished model step). The event itself waits in the instance's
// event map; the job's Workflow never waits for events.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import v8 from "node:v8";

/** Miniflare's engine statuses (workflows-shared's InstanceStatus) that were under way. */
const UNDER_WAY = new Set([0 /* Queued */, 1 /* Running */]);
export const RESUME_EVENT = "zerocost-dev-resume";

/** The ids of the instances of one Workflow whose persisted status is queued or running. */
export function instancesUnderWay(persist, workflowName) {
  // Miniflare keeps each Workflow's engine objects under workflows/ by
  // their namespace key (getWorkflowNamespaceKey: miniflare-workflows-<name>).
  const dir = path.join(persist, "workflows", `miniflare-workflows-${workflowName}`);
  if (!existsSync(dir)) return [];
  let DatabaseSync;
  try {
    // node:sqlite: Node 22.13 and later without a flag.
    ({ DatabaseSync } = process.getBuiltinModule("node:sqlite"));
  } catch (err) {
    console.error(`zerocost dev runner: cannot read Workflow state (node:sqlite: ${err instanceof Error ? err.message : err}); instances under way when dev last stopped stay as they were`);
    return [];
  }
  const ids = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".sqlite") || f === "metadata.sqlite") continue;
    let db;
    try {
      db = new DatabaseSync(path.join(dir, f), { readOnly: true });
      const kv = Object.fromEntries(
        db
          .prepare("SELECT key, value FROM _cf_KV WHERE key IN ('INSTANCE_METADATA', 'ENGINE_STATUS')")
          .all()
          .map((r) => [r.key, v8.deserialize(Buffer.from(r.value))]),
      );
      const id = kv.INSTANCE_METADATA?.instance?.id;
      if (typeof id === "string" && UNDER_WAY.has(kv.ENGINE_STATUS)) ids.push(id);
    } catch (err) {
      console.error(`zerocost dev runner: reading Workflow state ${f}:`, err instanceof Error ? err.message : err);
    } finally {
      db?.close();
    }
  }
  return ids;
}

/** Wakes every instance under way of every Workflow the config binds; returns how many it woke. */
export async function resumeWorkflows(mf, config) {
  let woken = 0;
  for (const w of config.workers) {
    const workflows = Object.entries(w.options.workflows ?? {});
    if (!workflows.length) continue;
    let bindings;
    for (const [binding, wf] of workflows) {
      const ids = instancesUnderWay(config.persist, wf.name);
      if (!ids.length) continue;
      bindings ??= await mf.getBindings(w.name);
      for (const id of ids) {
        try {
          const instance = await bindings[binding].get(id);
          await instance.sendEvent({ type: RESUME_EVENT, payload: {} });
          woken++;
          console.error(`zerocost dev runner: Workflow ${wf.name}: resumed instance ${id}, under way when dev last stopped`);
        } catch (err) {
          console.error(`zerocost dev runner: Workflow ${wf.name}: could not resume instance ${id}:`, err instanceof Error ? err.message : err);
        }
      }
    }
  }
  return woken;
}
