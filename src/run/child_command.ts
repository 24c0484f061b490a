/**
 * The command of a CPUBOUND task's subprocess, and how a compiled pq binary
 * reads the sandbox it is to run a job in.
 * @module
 */
import {
  configArgs,
  denoCommand,
  inheritedPermissionArgs,
} from "../runtime/_deno_command.ts";
import {
  jobPermissionFlags,
  type JobPermissions,
  permissionsProblem,
} from "../model/job_permissions.ts";

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
  return {
    command: denoCommand(),
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...configArgs(permissionArgs),
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
