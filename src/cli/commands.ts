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
import { schedulesCommand } from "./schedules.ts";
import { statusCommand } from "./status.ts";
import { tasksCommand } from "./tasks.ts";
import { workersCommand } from "./workers.ts";
import { workflowCommand } from "./workflow.ts";

export { type Command, type CommandIO, UsageError } from "./_command.ts";
export { commandHelp, globalHelp, serveHelp } from "./help.ts";
export { readCommandLine } from "./command_line.ts";
export { VERSION } from "./version.ts";

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
  schedulesCommand,
  dashboardCommand,
];
