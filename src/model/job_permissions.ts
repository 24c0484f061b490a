/**
 * The Deno permissions a CPUBOUND job declares, and their check: plain
 * data, read by `job()` when a job is defined.
 * @module
 */

/**
 * A Deno permission, as `deno run` takes it: `--allow-<name>`.
 *
 * @example
 * ```ts
 * import type { PermissionName } from "@pq/queue";
 * const name: PermissionName = "read";
 * ```
 */
export type PermissionName =
  | "read"
  | "write"
  | "net"
  | "env"
  | "run"
  | "sys"
  | "ffi"
  | "import";

/** Every {@linkcode PermissionName}. */
export const PERMISSION_NAMES: readonly PermissionName[] = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "sys",
  "ffi",
  "import",
];

/**
 * The Deno permissions of a CPUBOUND job's subprocess: `"none"`, or per
 * permission `true` (all) or a list (paths, hosts, variable or command
 * names, as `--allow-<name>=<list>` takes them). A permission not listed is
 * denied. Without this option the subprocess gets what its worker holds in
 * full, never more.
 *
 * @example
 * ```ts
 * import { Concurrency, job } from "@pq/queue";
 * export const crunch = job(
 *   {
 *     name: "crunch",
 *     concurrency: Concurrency.CPUBOUND,
 *     permissions: { read: ["./data"], net: ["api.example.com"] },
 *   },
 *   () => Deno.readTextFileSync("./data/input.txt").length,
 * );
 * ```
 */
export type JobPermissions =
  | "none"
  | { readonly [name in PermissionName]?: boolean | readonly string[] };

/** Why `permissions` is not a valid {@linkcode JobPermissions}, or undefined. */
export function permissionsProblem(permissions: unknown): string | undefined {
  if (permissions === "none") return undefined;
  if (typeof permissions !== "object" || permissions === null) {
    return `"none" or an object of permissions`;
  }
  for (const [name, value] of Object.entries(permissions)) {
    if (!(PERMISSION_NAMES as readonly string[]).includes(name)) {
      return `permission names among ${PERMISSION_NAMES.join(", ")}`;
    }
    const valid = typeof value === "boolean" ||
      (Array.isArray(value) &&
        value.every((entry) =>
          typeof entry === "string" && entry !== "" && !/[,\s]/.test(entry)
        ));
    if (!valid) return `true, false or a list of names for '${name}'`;
  }
  return undefined;
}

/** The `--allow-*` flags a job's declared permissions stand for. */
export function jobPermissionFlags(permissions: JobPermissions): string[] {
  if (permissions === "none") return [];
  return Object.entries(permissions).flatMap(([name, value]) => {
    if (value === true) return [`--allow-${name}`];
    if (Array.isArray(value) && value.length > 0) {
      return [`--allow-${name}=${value.join(",")}`];
    }
    return [];
  });
}
