/**
 * Test helpers: a pq server in its own OS process, on its own store.
 */
import { PulsarQueue, type PulsarQueueOptions } from "../mod.ts";
import type { Producer } from "../src/producer/producer.ts";
import { eventually } from "./_helpers.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
export const EXAMPLE_JOBS = new URL("../examples/jobs/", import.meta.url)
  .pathname;

/** A temporary folder, removed on dispose. */
export async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "pq_test_" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

/** A running `cli.ts` server. */
export interface Server extends AsyncDisposable {
  process: Deno.ChildProcess;
  /** Sends SIGTERM and resolves with the exit status. */
  stop(): Promise<Deno.CommandStatus>;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /**
   * Resolves once a worker logged that it consumes its queues (so its store
   * exists); rejects after `seconds`. Needs the default log level.
   */
  ready(seconds?: number): Promise<void>;
}

/**
 * Starts `deno run -P=test cli.ts <args>`, or `program <args>` (a compiled
 * pq), with `env` added to this one's.
 */
export function startServer(
  args: string[],
  options: { env?: Record<string, string>; program?: string; cwd?: string } =
    {},
): Server {
  const command = options.program ?? Deno.execPath();
  const process = new Deno.Command(command, {
    args: options.program
      ? args
      : ["run", "--permission-set=test", "--no-prompt", CLI, ...args],
    cwd: options.cwd,
    env: { PQ_PERMISSION_SET: "test", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderrText = "";
  let ready = false;
  const decoder = new TextDecoder();
  const readStderr = async () => {
    for await (const chunk of process.stderr) {
      stderrText += decoder.decode(chunk, { stream: true });
    }
  };
  // Log lines go to stdout: only whether a worker started is kept.
  const readStdout = async () => {
    const lineDecoder = new TextDecoder();
    let tail = "";
    for await (const chunk of process.stdout) {
      if (ready) continue;
      tail = (tail + lineDecoder.decode(chunk, { stream: true })).slice(-4096);
      ready = /Worker \S+ consuming/.test(tail);
    }
  };
  const reading = Promise.all([readStdout(), readStderr()]);
  let stopped: Promise<Deno.CommandStatus> | undefined;
  // A server that fails on its own (bad settings, a job module that does not
  // load) fails the test at once, with its stderr, rather than leaving it
  // waiting for tasks no one will run. Servers a test kills die by signal.
  process.status.then(async (status) => {
    if (stopped || status.success || status.signal !== null) return;
    await reading;
    throw new Error(
      `The test server exited with code ${status.code} before the test ` +
        `stopped it:\n${stderrText}`,
    );
  });
  const stop = () => {
    stopped ??= (async () => {
      try {
        process.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      const status = await process.status;
      await reading;
      return status;
    })();
    return stopped;
  };
  return {
    process,
    stop,
    stderr: () => stderrText,
    ready: (seconds = 30) =>
      eventually(
        () => ready,
        seconds,
        "a worker consuming",
      ),
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** The command-line flags of settings for a test server. */
export function serverArgs(options: Record<string, string | number>): string[] {
  return Object.entries(options).flatMap(([key, value]) => [
    "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()),
    String(value),
  ]);
}

/** A started producer for a store. */
export async function producerFor(
  options: PulsarQueueOptions,
): Promise<Producer> {
  return await new PulsarQueue({ taskPaths: [EXAMPLE_JOBS], ...options }).api()
    .start();
}

/** Resolves once `check` is true, polling; fails after `seconds`. */
export { eventually };

/** What a run of `pq` did. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `pq <args>` on a store with the example jobs. */
export function pq(dataStore: string, ...args: string[]): Promise<Run> {
  return runPq([
    ...args,
    "--data-store",
    dataStore,
    "--task-paths",
    EXAMPLE_JOBS,
  ]);
}

/**
 * Runs `pq <args>` in `cwd` (default: the repository, whose pq.config.ts
 * names the example jobs) and resolves with what it did.
 */
export async function runPq(args: string[], cwd?: string): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    cwd,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Fails with how to install `program` (Debian's package `pkg`) when it
 * cannot be run here: the tests that need it fail without it, none is
 * skipped.
 */
export async function requireProgram(
  program: string,
  pkg: string = program,
): Promise<void> {
  haveRun[program] ??= haveProgram(program);
  if (await haveRun[program]) return;
  throw new Error(
    `This test needs ${program}, which cannot be run here: install it ` +
      `(Debian: apt-get install ${pkg}), or run the suite with ` +
      "scripts/test.sh, which installs it",
  );
}

/** Whether each program runs here, looked up once per module. */
const haveRun: Record<string, Promise<boolean>> = {};

/** True when `program` can be run here (a Debian package installed). */
export async function haveProgram(program: string): Promise<boolean> {
  try {
    // Run at all: some programs (openssl) answer --version with an error.
    await new Deno.Command(program, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return true;
  } catch {
    return false;
  }
}
