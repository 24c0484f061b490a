/**
 * `ctx.shell`: runs a command through the system shell.
 *
 * A command that fails rejects with a {@linkcode ShellError} whose message
 * says how it ended (its exit code, or the signal that killed it), which
 * command it was, and the last lines it wrote on stderr (stdout when stderr
 * is empty), so a failed task's result says why without its logs.
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
 * (or a kill) rejects with a {@linkcode ShellError}; an abort kills the
 * command (SIGTERM) and rejects with the signal's reason.
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
    const message = `Command ${exitText(status)}: ${shortened(command)}` +
      outputTail(stderr, stdout);
    throw new ShellError(message, {
      code: status.code,
      signal: status.signal,
      stdout,
      stderr,
    });
  }
  return stdout;
}

/** The most lines of output a failure message keeps, from the end. */
const TAIL_LINES = 10;
/** The most characters of output a failure message keeps, from the end. */
const TAIL_CHARS = 2000;

/** Signal numbers by name, for an exit code of 128 + n. */
const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  6: "SIGABRT",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
};

/**
 * How a process ended, for a message: `exited with code 7`, `was killed by
 * SIGKILL (exit code 137)`; a shell's code 128 + n names signal n too, as
 * the shell's way of saying a command it ran was killed by it.
 */
export function exitText(status: Deno.CommandStatus): string {
  if (status.signal) {
    return `was killed by ${status.signal} (exit code ${status.code})`;
  }
  const signal = SIGNALS[status.code - 128];
  return signal
    ? `exited with code ${status.code} (128 + ${
      status.code - 128
    }: a command killed by ${signal})`
    : `exited with code ${status.code}`;
}

/**
 * The last lines of a failed command's output, labelled, on lines of their
 * own after a message: its stderr, or its stdout when stderr is empty; ""
 * when both are.
 */
export function outputTail(stderr: string, stdout: string): string {
  const [label, text] = stderr.trim()
    ? ["stderr", stderr.trim()]
    : ["stdout", stdout.trim()];
  if (!text) return "";
  const lines = text.split("\n");
  let tail = lines.slice(-TAIL_LINES).join("\n");
  if (tail.length > TAIL_CHARS) tail = "…" + tail.slice(-TAIL_CHARS);
  const which = lines.length > TAIL_LINES
    ? `${label} (last ${TAIL_LINES} of ${lines.length} lines)`
    : label;
  return `\n${which}:${tail.includes("\n") ? "\n" : " "}${tail}`;
}

/** A command as a message quotes it: its first line, 200 characters at most. */
function shortened(command: string): string {
  const text = command.trim();
  const line = text.split("\n")[0].slice(0, 200);
  return line.length < text.length ? `${line}…` : line;
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
