/**
 * How a pq process starts another copy of itself (worker processes).
 * @module
 */
import { permissionFlags } from "../permissions.ts";

/**
 * The command that runs this program again with the same arguments: the
 * binary itself when compiled, else `deno run <permissions> <main module>`.
 */
export function selfCommand(): { command: string; args: string[] } {
  if (Deno.build.standalone) {
    return { command: Deno.execPath(), args: [...Deno.args] };
  }
  return {
    command: Deno.execPath(),
    args: ["run", ...permissionFlags(), Deno.mainModule, ...Deno.args],
  };
}

/** The argument that makes a compiled pq binary run a CPUBOUND task. */
export const SUBPROCESS_ARG = "--pq-subprocess";

/**
 * The command of a CPUBOUND subprocess: `deno run` of `entry` with `module`
 * preloaded (so the job's module needs no read permission) and only
 * `permissionArgs`. A compiled binary runs itself with `SUBPROCESS_ARG`
 * (its permissions were fixed when it was compiled).
 */
export function childCommand(
  entry: URL,
  module: string,
  permissionArgs: readonly string[],
): { command: string; args: string[] } {
  if (Deno.build.standalone) {
    return { command: Deno.execPath(), args: [SUBPROCESS_ARG] };
  }
  const config = denoConfig();
  return {
    command: Deno.execPath(),
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...(config ? [`--config=${config}`] : []),
      `--preload=${module}`,
      ...permissionArgs,
      entry.href,
    ],
  };
}

/**
 * The deno.json that applies to this program (found as Deno finds it, from
 * the main module's folder up), so a subprocess resolves imports the same
 * way. Undefined when there is none or it cannot be looked for.
 */
function denoConfig(): string | undefined {
  if (!Deno.mainModule.startsWith("file:")) return undefined;
  let dir = new URL(".", Deno.mainModule);
  while (true) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const candidate = new URL(name, dir);
      try {
        if (Deno.statSync(candidate).isFile) return candidate.pathname;
      } catch {
        // Absent, or not readable by this process.
      }
    }
    const parent = new URL("..", dir);
    if (parent.href === dir.href) return undefined;
    dir = parent;
  }
}
