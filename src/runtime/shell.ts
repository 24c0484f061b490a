/**
 * `ctx.shell`: runs a command through the system shell.
 * @module
 */
import { untilAborted } from "../model/_abort.ts";
import { ShellError } from "../model/errors.ts";

/** Options of `Job.shell`. */
export interface ShellOptions {
  /** Text written to the command's stdin (none when absent). */
  input?: string;
  /** The working directory (this process's when absent). */
  cwd?: string;
  /** Variables added to the command's environment. */
  env?: Record<string, string>;
  /** Log every output line on the job's logger as it arrives. */
  interactive?: boolean;
}

/** Where a line of output goes when the command runs interactively. */
interface LineLogger {
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
}

/**
 * Runs `command` with `sh -c` and resolves with its stdout. A non-zero exit
 * rejects with a {@linkcode ShellError}; an abort kills the command (SIGTERM)
 * and rejects with the signal's reason.
 */
export async function runShell(
  command: string,
  options: ShellOptions & { signal?: AbortSignal; logger?: LineLogger } = {},
): Promise<string> {
  if (typeof command !== "string" || command.trim() === "") {
    throw new TypeError(
      `Cannot run a shell command as it is empty: got ${
        JSON.stringify(command)
      }`,
    );
  }
  options.signal?.throwIfAborted();
  const child = new Deno.Command("sh", {
    args: ["-c", command],
    cwd: options.cwd,
    env: options.env,
    stdin: options.input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).spawn();
  const logLine = options.interactive ? options.logger : undefined;
  // Both pipes are read at once, so a command that fills one never blocks.
  const output = Promise.all([
    readText(child.stdout, logLine && ((line) => logLine.info(line))),
    readText(child.stderr, logLine && ((line) => logLine.warn(line))),
    writeInput(child, options.input),
    child.status,
  ]);
  // A killed shell's own children may hold its pipes open: do not wait.
  const [stdout, stderr, , status] = await untilAborted(output, options.signal);
  if (!status.success) {
    const code = status.code;
    const message = stderr.trim() || stdout.trim() ||
      `Command exited with code ${code}: ${command}`;
    throw new ShellError(message, { code, stdout, stderr });
  }
  return stdout;
}

async function writeInput(
  child: Deno.ChildProcess,
  input: string | undefined,
): Promise<void> {
  if (input === undefined) return;
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  } catch {
    // The command exited without reading all of its input.
  }
}

/** Reads a stream to its end as text, passing each line to `onLine`. */
async function readText(
  stream: ReadableStream<Uint8Array>,
  onLine?: (line: string) => void,
): Promise<string> {
  let text = "";
  let partial = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    if (!onLine) continue;
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  }
  if (onLine && partial) onLine(partial);
  return text;
}
