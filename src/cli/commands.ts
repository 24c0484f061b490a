/**
 * The commands of the `pq` command line besides `serve`.
 * @module
 */
import type { Command } from "./_command.ts";
import { dashboardCommand } from "./dashboard.ts";
import { jobsCommand } from "./jobs.ts";
import { pauseCommand, resumeCommand } from "./pause.ts";
import { purgeCommand, queuesCommand } from "./queues.ts";
import { queueCommand } from "./queue.ts";
import { revokeCommand } from "./revoke.ts";
import { statusCommand } from "./status.ts";
import { tasksCommand } from "./tasks.ts";
import { workersCommand } from "./workers.ts";
import { workflowCommand } from "./workflow.ts";

export { type Command, type CommandIO, UsageError } from "./_command.ts";

/** Every command but `serve`, in the order help lists them. */
export const COMMANDS: readonly Command[] = [
  queueCommand,
  statusCommand,
  tasksCommand,
  jobsCommand,
  revokeCommand,
  workflowCommand,
  queuesCommand,
  workersCommand,
  purgeCommand,
  pauseCommand,
  resumeCommand,
  dashboardCommand,
];

/** The commands' help: a usage line and a line of help each. */
export function commandsHelp(program = "pq"): string {
  const rows = [
    {
      usage: `${program} [serve] [options]`,
      help: "Run a server (the default command).",
    },
    ...COMMANDS.map((c) => ({
      usage: `${program} ${c.name} ${c.usage}`.trimEnd(),
      help: c.help,
    })),
  ];
  return [
    "Commands:",
    ...rows.flatMap((row) => [`  ${row.usage}`, `        ${row.help}`]),
    "",
    "Every command but serve takes --json to print JSON for scripts, and the",
    "options below (--data-store, --task-paths, --config...) to find the store",
    "and the jobs. Exit status: 0 done, 1 failed (unknown job or id, a task",
    "that did not succeed with --wait), 2 bad usage.",
  ].join("\n");
}
