/**
 * Builds the `pq` binary: `deno task compile [--output <path>]
 * [--include <path> ...]`. The binary is the server, its workers and its
 * CPUBOUND subprocesses at once (it runs itself again for them), with this
 * repository's config and example jobs embedded; more `--include` paths
 * embed more (a config or jobs of your own, relative to this folder).
 *
 * `deno compile` downloads the `denort` runtime it builds on; where that is
 * not possible, point `DENORT_BIN` at one.
 * @module
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url);

/**
 * The files the binary needs that no static import reaches: the Web
 * Worker of THREAD_IO, and the config and job modules read at start.
 */
export const COMPILE_INCLUDES: readonly string[] = [
  "src/run/thread_worker.ts",
  "pq.config.ts",
  "examples/jobs/",
];

/**
 * The binary's permissions, fixed when it is compiled. Paths are taken
 * from the folder it runs in. Net and run are whole: the store's host and
 * the binary's own path are known only when it runs.
 */
export const COMPILE_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write=.",
  "--allow-net",
  "--allow-env=PQ_*",
  "--allow-run",
  "--allow-sys=hostname",
];

/** The `deno compile` arguments that build `output` with `includes` more. */
export function compileArgs(
  output: string,
  includes: readonly string[] = [],
): string[] {
  return [
    "compile",
    ...COMPILE_PERMISSIONS,
    ...[...COMPILE_INCLUDES, ...includes].map((path) => `--include=${path}`),
    `--output=${output}`,
    "cli.ts",
  ];
}

/** Runs `deno compile` in this repository; resolves with its exit status. */
export async function compile(
  output: string,
  includes: readonly string[] = [],
): Promise<Deno.CommandStatus> {
  return await new Deno.Command(Deno.execPath(), {
    args: compileArgs(output, includes),
    cwd: ROOT,
    stdin: "null",
  }).spawn().status;
}

/** The flags of `deno task compile`, or a usage error naming the bad one. */
function parseFlags(args: string[]): { output: string; include: string[] } {
  try {
    return parseArgs({
      args,
      options: {
        output: { type: "string", default: "pq" },
        include: { type: "string", multiple: true, default: [] },
      },
    }).values;
  } catch (error) {
    console.error(`compile: ${(error as Error).message}`);
    console.error(
      "Usage: deno task compile [--output <path>] [--include <path> ...]",
    );
    Deno.exit(2);
  }
}

if (import.meta.main) {
  const values = parseFlags(Deno.args);
  const output = resolve(values.output);
  const status = await compile(output, values.include);
  if (status.success) {
    console.error(`Built ${output}`);
  } else if (!Deno.env.get("DENORT_BIN")) {
    console.error(
      "deno compile failed. If it could not download its denort runtime " +
        "(no network), point DENORT_BIN at a denort binary of Deno " +
        `${Deno.version.deno} and run it again.`,
    );
  }
  Deno.exit(status.code);
}
