/**
 * `pq workflow <id> [--revoke]`: a workflow's members and their statuses,
 * or its revoke.
 * @module
 */
import type { Producer } from "../producer/producer.ts";
import type { Workflow } from "../producer/workflows.ts";
import {
  checkArgs,
  type Command,
  type CommandIO,
  inline,
  JSON_FLAG,
  printJson,
  table,
  UsageError,
} from "./_command.ts";

/** What `pq workflow` shows of a member. */
interface MemberRow {
  step: number;
  id: string;
  job: string;
  /** The task's status name, or `not queued` while its turn has not come. */
  status: string;
  result?: unknown;
}

/** The message for an id no workflow has. */
function unknownWorkflow(id: string): string {
  return `No workflow with id '${id}' (unknown, or its first step dropped after its retention: see --result-ttl)`;
}

/** Each member with its task's status and, once ended, its result. */
async function memberRows(api: Producer, wf: Workflow): Promise<MemberRow[]> {
  const tasks = await Promise.all(wf.ids.map((id) => api.tasks.get(id)));
  return wf.members.map((member, i) => {
    const task = tasks[i];
    return {
      ...member,
      status: task?.statusString ?? "not queued",
      ...(task?.done() && { result: task.result }),
    };
  });
}

/** `Workflow<W>: 3 members: 2 SUCCESS, 1 not queued`, then the table. */
function printRows(io: CommandIO, wf: Workflow, rows: MemberRow[]): void {
  const counts = new Map<string, number>();
  for (const row of rows) {
    counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
  }
  const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(", ");
  io.out(
    `${wf}: ${rows.length} member${rows.length === 1 ? "" : "s"}: ${summary}`,
  );
  io.out(table([
    ["STEP", "ID", "JOB", "STATUS", "RESULT"],
    ...rows.map((row) => [
      String(row.step),
      row.id,
      row.job,
      row.status,
      "result" in row ? inline(row.result) : "",
    ]),
  ]));
}

/** `pq workflow <id> [--revoke]`. */
export const workflowCommand: Command = {
  name: "workflow",
  usage: "<id>",
  help: "Show a workflow: each member's step, task id, job, status and result.",
  details:
    "A workflow is queued with api.workflows.queue (chain, group, chord); its id is its first member's task id. A member whose turn has not come shows 'not queued'.",
  options: {
    json: JSON_FLAG,
    revoke: {
      type: "boolean",
      help:
        "Revoke every member not ended, and store those not queued yet as REVOKED so they never run.",
    },
  },
  examples: [
    "pq workflow report-2024-07-01",
    "pq workflow report-2024-07-01 --revoke",
  ],
  async run({ api, args, values, io }) {
    checkArgs(this, args, 1, 1);
    const [id] = args;
    const wf = await api.workflows.get(id).then(undefined, (error) => {
      // An id that is not a task id is bad usage.
      throw error instanceof TypeError
        ? new UsageError(error.message, { cause: error })
        : error;
    });
    if (!wf) {
      io.err(`pq: ${unknownWorkflow(id)}`);
      return 1;
    }
    if (values.revoke) {
      const outcomes = await wf.revoke();
      if (values.json) printJson(io, { id, outcomes });
      else {
        io.out(`Revoked ${wf}:`);
        io.out(
          table(wf.members.map((m) => ["  " + m.id, m.job, outcomes[m.id]])),
        );
      }
      return 0;
    }
    const rows = await memberRows(api, wf);
    if (values.json) printJson(io, { id, members: rows });
    else printRows(io, wf, rows);
    return 0;
  },
};
