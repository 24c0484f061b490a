/**
 * `pq revoke <id>`: stop a task.
 * @module
 */
import { checkArgs, type Command, JSON_OPTION, printJson } from "./_command.ts";
import { unknownId } from "./status.ts";

/** `pq revoke <id>`. */
export const revokeCommand: Command = {
  name: "revoke",
  usage: "<id>",
  help:
    "Revoke a task: a queued one never runs, a running one is stopped; fails for a finished or unknown task.",
  details:
    "Exits 1 for an unknown id or a task that had already finished. A revoked task's result says why it ended: revoked before it started, stopped by its worker, or its worker stopped first.",
  options: JSON_OPTION,
  examples: ["pq revoke 0c1f9e2a..."],
  async run({ api, args, values, io }) {
    checkArgs(this, args, 1, 1);
    const [id] = args;
    const outcome = await api.tasks.revoke(id);
    if (values.json) printJson(io, { id, outcome });
    switch (outcome) {
      case "revoked":
        if (!values.json) io.out(`Revoked task ${id}: it will not run`);
        return 0;
      case "requested":
        if (!values.json) {
          io.out(`Task ${id} is running: its worker was asked to stop it`);
        }
        return 0;
      case "finished": {
        const task = await api.tasks.get(id);
        io.err(
          `pq: Task ${id} had already finished${
            task ? ` (${task.statusString})` : ""
          }: nothing to revoke`,
        );
        return 1;
      }
      case "unknown":
        io.err(`pq: ${unknownId(id)}`);
        return 1;
    }
  },
};
