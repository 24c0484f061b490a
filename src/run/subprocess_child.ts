/**
 * The entry of the subprocess that runs one CPUBOUND task. The task comes
 * on stdin as a JSON line; messages go back on stdout as lines that start
 * with the run's mark, so whatever else the job prints stays apart. Logs
 * and `console` output become log messages; `ctx.queue` and `ctx.lock` are
 * answered by the worker on stdin.
 * @module
 */
import { readLines } from "../model/_lines.ts";
import { type Manager, managerFromConfig } from "../runtime/manager.ts";
import type { JobPermissions } from "../model/job_permissions.ts";
import { permissionsNotGiven } from "../runtime/permissions.ts";
import { RemoteJobRunner } from "./remote_job.ts";
import {
  frameMark,
  type FromRemote,
  type RemoteLog,
  type RunRequest,
  type ToRemote,
} from "./remote_protocol.ts";

const encoder = new TextEncoder();

/** Writes all of `bytes` to stdout, in order, even when the pipe is full. */
function writeAll(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

/** Sends `console` output as log messages, as pulsar-queue's child does. */
function captureConsole(send: (message: FromRemote) => void): void {
  const levels: Array<[keyof Console, RemoteLog["level"]]> = [
    ["debug", "debug"],
    ["log", "info"],
    ["info", "info"],
    ["warn", "warn"],
    ["error", "error"],
  ];
  for (const [method, level] of levels) {
    (console as unknown as Record<string, unknown>)[method] = (
      ...args: unknown[]
    ) => {
      const text = args.map((arg) =>
        typeof arg === "string" ? arg : Deno.inspect(arg)
      ).join(" ");
      send({
        type: "log",
        level,
        message: "{output}",
        properties: { output: text },
      });
    };
  }
}

/**
 * Reads stdin and runs the task it brings; exits when the task is done.
 *
 * Once the job's module is imported, and before the job runs: with
 * `sandbox` (a compiled binary's child, which holds the binary's
 * permissions), every permission the job was not given is revoked; then the
 * Manager the config module exports, if any, is made (role `child`) and
 * started. It is closed when the job ends.
 */
export async function runSubprocessChild(
  sandbox?: JobPermissions,
): Promise<never> {
  let mark = "";
  const send = (message: FromRemote) =>
    writeAll(encoder.encode(mark + JSON.stringify(message) + "\n"));
  let manager: Manager | undefined;
  const prepare = async ({ manager: made }: RunRequest) => {
    // Imported before the sandbox narrows: it may need to read the module.
    const cls = made && await managerFromConfig(made.module);
    if (sandbox !== undefined) {
      for (const name of permissionsNotGiven(sandbox)) {
        Deno.permissions.revokeSync({ name } as Deno.PermissionDescriptor);
      }
    }
    if (!cls || !made) return;
    const started = new cls({ settings: made.settings, role: "child" });
    await started.start();
    manager = started; // Closed after the job: it started.
  };
  const runner = new RemoteJobRunner(send, prepare);
  Deno.addSignalListener("SIGTERM", () => {
    // Aborted I/O (fetch, shell) stops first; the worker SIGKILLs later.
    runner.controller.abort(new Error("The task was stopped"));
    setTimeout(() => Deno.exit(143), 100);
  });
  /** The Manager's close once the job has ended (the worker has the answer). */
  let closing: Promise<void> | undefined;
  await readLines(Deno.stdin.readable, (line) => {
    const message = JSON.parse(line) as ToRemote;
    if (message.type !== "run") {
      runner.receive(message);
      return;
    }
    mark = frameMark(message.nonce ?? "");
    captureConsole(send);
    runner.receive(message)
      .then(() => closing = manager?.close())
      .catch((error) =>
        send({
          type: "log",
          level: "error",
          message: "Manager close failed: {error}",
          properties: { error: String(error) },
        })
      )
      .finally(() => Deno.exit(0));
  });
  // The worker closed stdin: without a task, or gone (the job stops here),
  // or with the answer, which it closes on: the Manager still closes first.
  await closing?.catch(() => undefined);
  Deno.exit(0);
}

if (import.meta.main) await runSubprocessChild();
