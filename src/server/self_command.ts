/**
 * How a pq process starts another copy of itself (worker processes) and
 * its CPUBOUND subprocesses, with the permissions it holds.
 * @module
 */
import {
  jobPermissionFlags,
  type JobPermissions,
  permissionFlags,
  permissionsProblem,
} from "../permissions.ts";

/**
 * The variable naming the permission set of the program's deno.json that
 * children run with when this process runs under one (`-P=<name>`).
 */
export const PERMISSION_SET_ENV = "PQ_PERMISSION_SET";

/**
 * The command that runs this program again with the same arguments: the
 * binary itself when compiled, else `deno run <permissions> <main module>`.
 */
export function selfCommand(): { command: string; args: string[] } {
  if (Deno.build.standalone) {
    return { command: Deno.execPath(), args: [...Deno.args] };
  }
  return {
    command: denoCommand(),
    args: ["run", ...inheritedPermissionArgs(), Deno.mainModule, ...Deno.args],
  };
}

/**
 * The `deno` to run children with: this one, by path, when this process may
 * run it; else `deno` from PATH (a permission set grants `run: ["deno"]`,
 * which names the one on PATH, not the resolved binary). A compiled binary
 * is not a `deno`: it uses the one on PATH.
 */
export function denoCommand(): string {
  if (Deno.build.standalone) return "deno";
  const path = Deno.execPath();
  const mayRun = Deno.permissions.querySync({ name: "run", command: path });
  return mayRun.state === "granted" ? path : "deno";
}

/**
 * The `deno run` flags that give a child this process's permissions and no
 * more: `--allow-all` when it holds every one; the program's permission set
 * (`-P=$PQ_PERMISSION_SET`, `default` when unset) when its deno.json has
 * permission sets, since flags cannot carry permissions held for some paths
 * or hosts only; else the permissions it holds in full.
 */
export function inheritedPermissionArgs(): string[] {
  const granted = permissionFlags();
  if (granted[0] === "--allow-all") return granted;
  const config = denoConfig();
  if (!config || !hasPermissionSets(config)) return granted;
  let name = "default";
  try {
    name = Deno.env.get(PERMISSION_SET_ENV) || name;
  } catch {
    // Not allowed to read it: the default set.
  }
  return [`--config=${config}`, `--permission-set=${name}`];
}

function hasPermissionSets(config: string): boolean {
  try {
    const parsed = JSON.parse(Deno.readTextFileSync(config));
    return typeof parsed?.permissions === "object" && parsed.permissions;
  } catch {
    return false;
  }
}

/** The argument that makes a compiled pq binary run a CPUBOUND task. */
export const SUBPROCESS_ARG = "--pq-subprocess";

/** How `SUBPROCESS_ARG` is followed by a job's declared permissions. */
const PERMISSIONS_ARG = "--permissions=";

/**
 * The command of a CPUBOUND subprocess for a job with `permissions`
 * (undefined: what this process holds in full, never more).
 *
 * Under `deno run` it is `deno run` of `entry` with `modules` preloaded (so
 * the job's module and the config module need no read permission) and only
 * those permissions.
 * A compiled binary runs itself with `SUBPROCESS_ARG`: its permissions
 * were fixed when it was compiled, so the child drops the kinds the job
 * was not given once it has imported the job ({@linkcode subprocessSandbox}).
 */
export function childCommand(
  entry: URL,
  modules: readonly string[],
  permissions: JobPermissions | undefined,
): { command: string; args: string[] } {
  if (Deno.build.standalone) {
    const sandbox = permissions === undefined
      ? []
      : [PERMISSIONS_ARG + JSON.stringify(permissions)];
    return { command: Deno.execPath(), args: [SUBPROCESS_ARG, ...sandbox] };
  }
  const permissionArgs = permissions === undefined
    ? inheritedPermissionArgs()
    : jobPermissionFlags(permissions);
  const config = denoConfig();
  const configArgs =
    config && !permissionArgs.some((arg) => arg.startsWith("--config="))
      ? [`--config=${config}`]
      : [];
  return {
    command: denoCommand(),
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...configArgs,
      ...modules.map((module) => `--preload=${module}`),
      ...permissionArgs,
      entry.href,
    ],
  };
}

/**
 * The job permissions given after `SUBPROCESS_ARG` (`args` without it), or
 * undefined when none were: the child keeps what the binary holds.
 *
 * @throws {TypeError} for an argument that is not `--permissions=<json>`
 * of valid {@linkcode JobPermissions}.
 */
export function subprocessSandbox(
  args: readonly string[],
): JobPermissions | undefined {
  if (args.length === 0) return undefined;
  const usage = new TypeError(
    `${SUBPROCESS_ARG} takes only ${PERMISSIONS_ARG}<json>: got ${
      args.join(" ")
    }`,
  );
  if (args.length > 1 || !args[0].startsWith(PERMISSIONS_ARG)) throw usage;
  let permissions: unknown;
  try {
    permissions = JSON.parse(args[0].slice(PERMISSIONS_ARG.length));
  } catch {
    throw usage;
  }
  const problem = permissionsProblem(permissions);
  if (problem) {
    throw new TypeError(
      `${SUBPROCESS_ARG}: the permissions must be ${problem}`,
    );
  }
  return permissions as JobPermissions;
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
