/**
 * CPUBOUND: each task runs in a `Deno.Command` subprocess that imports the
 * job's module. The task goes in on stdin; messages come back on stdout,
 * marked; stderr is logged. On timeout or revoke the subprocess gets
 * SIGTERM, then SIGKILL after a grace period.
 * @module
 */
import { readLines } from "../model/_lines.ts";
import { TaskError } from "../model/errors.ts";
import type { JobLogger } from "../runtime/job.ts";
import type { JobPermissions } from "../model/job_permissions.ts";
import { missingFromParent } from "../runtime/permissions.ts";
import { childCommand } from "./child_command.ts";
import type { Task } from "../model/task.ts";
import type { RemoteHost } from "./remote_host.ts";
import {
  frameMark,
  fromRemoteError,
  parseFromRemote,
  type RemoteDone,
  type RunRequest,
  type ToRemote,
} from "./remote_protocol.ts";

/** Milliseconds between SIGTERM and SIGKILL of a stopped subprocess. */
const KILL_GRACE_MS = 3000;

/** The most stderr kept to explain a subprocess that died. */
const STDERR_TAIL_CHARS = 8192;

const CHILD_URL = new URL("./subprocess_child.ts", import.meta.url);

/** How a CPUBOUND task runs. */
export interface SubprocessOptions {
  /** Stops the subprocess (SIGTERM, then SIGKILL). */
  signal: AbortSignal;
  /** The job's logger: the subprocess's logs and stderr go there. */
  logger: JobLogger;
  /** The job's permissions (default: what this process holds in full). */
  permissions?: JobPermissions;
}

/**
 * Runs `request` in a new subprocess; resolves with the job's result or
 * rejects with its error (its stack trace comes from the subprocess).
 */
export async function runInSubprocess(
  request: RunRequest,
  task: Task,
  host: RemoteHost,
  options: SubprocessOptions,
): Promise<unknown> {
  const { signal, logger, permissions } = options;
  if (permissions !== undefined) {
    const missing = missingFromParent(permissions);
    if (missing) {
      throw new TaskError(
        `Cannot run ${task}: its job asks for permission ${missing}, which this worker does not have`,
      );
    }
  }
  signal.throwIfAborted();
  const nonce = crypto.randomUUID();
  const preloads = [request.module];
  if (request.manager) preloads.push(request.manager.module);
  const { command, args } = childCommand(CHILD_URL, preloads, permissions);
  const child = new Deno.Command(command, {
    args,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const send = (message: ToRemote) =>
    stdin.write(new TextEncoder().encode(JSON.stringify(message) + "\n"))
      .catch(() => undefined);
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    kill(child, "SIGTERM");
    killTimer = setTimeout(() => kill(child, "SIGKILL"), KILL_GRACE_MS);
  };
  signal.addEventListener("abort", stop, { once: true });
  let done: RemoteDone | undefined;
  let stderrTail = "";
  try {
    send({ ...request, nonce });
    // Both pipes are read at once: a job that logs a lot never blocks.
    const [status] = await Promise.all([
      child.status,
      readLines(child.stdout, (line) => {
        const [text, payload] = splitFrame(line, frameMark(nonce));
        if (text) logger.info("{output}", { output: text });
        if (payload === undefined) return;
        const message = parseFromRemote(parseJson(payload));
        if (!message) {
          logger.warn("Ignored a malformed message from the subprocess");
        } else if (message.type === "done") {
          done = message;
          stdin.close().catch(() => undefined);
        } else {
          host.handle(message, send);
        }
      }),
      readLines(child.stderr, (line) => {
        stderrTail = (stderrTail + line + "\n").slice(-STDERR_TAIL_CHARS);
        logger.warn("{output}", { output: line });
      }),
    ]);
    signal.throwIfAborted();
    if (!done) {
      throw new Error(
        `The subprocess of ${task} exited with code ${status.code} before it finished${
          stderrTail ? `: ${stderrTail.trim()}` : ""
        }`,
      );
    }
  } finally {
    signal.removeEventListener("abort", stop);
    clearTimeout(killTimer);
    await stdin.close().catch(() => undefined);
  }
  Object.assign(task.runInfo, done.runInfo);
  if (done.ok) return done.result;
  throw fromRemoteError(done.error);
}

function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // It has exited already.
  }
}

/** The text before the mark, and the message after it (when marked). */
function splitFrame(line: string, mark: string): [string, string | undefined] {
  const at = line.indexOf(mark);
  if (at < 0) return [line, undefined];
  return [line.slice(0, at), line.slice(at + mark.length)];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
