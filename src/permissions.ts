/**
 * Deno permissions: what this process holds, and what a CPUBOUND job's
 * subprocess may be given.
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
const PERMISSION_NAMES: readonly PermissionName[] = [
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

/**
 * The `--allow-*` flags of the permissions this process holds in full, so a
 * child gets the same ones and never more. A permission held only for some
 * paths or hosts is not passed on in full (the child is denied it).
 */
export function permissionFlags(): string[] {
  const granted = PERMISSION_NAMES.filter((name) =>
    Deno.permissions.querySync({ name }).state === "granted"
  );
  if (granted.length === PERMISSION_NAMES.length) return ["--allow-all"];
  return granted.map((name) => `--allow-${name}`);
}

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

/**
 * The permission names `permissions` gives nothing of, which a compiled
 * binary's subprocess revokes (it cannot narrow a name to some paths).
 */
export function permissionsNotGiven(
  permissions: JobPermissions,
): PermissionName[] {
  if (permissions === "none") return [...PERMISSION_NAMES];
  return PERMISSION_NAMES.filter((name) => {
    const value = permissions[name];
    return !value || (Array.isArray(value) && value.length === 0);
  });
}

/**
 * The first permission of `permissions` this process does not hold itself,
 * described for an error message, or undefined when it holds them all: a
 * job's subprocess never gets more than its worker.
 */
export function missingFromParent(
  permissions: JobPermissions,
): string | undefined {
  if (permissions === "none") return undefined;
  for (const [name, value] of Object.entries(permissions)) {
    if (!value) continue;
    const entries = value === true ? [undefined] : value as readonly string[];
    for (const entry of entries) {
      if (!holds(name as PermissionName, entry)) {
        return entry === undefined ? `${name} (all)` : `${name} of ${entry}`;
      }
    }
  }
  return undefined;
}

function holds(name: PermissionName, entry?: string): boolean {
  const descriptor = entry === undefined
    ? { name }
    : descriptorFor(name, entry);
  return Deno.permissions.querySync(descriptor as Deno.PermissionDescriptor)
    .state === "granted";
}

function descriptorFor(name: PermissionName, entry: string): object {
  switch (name) {
    case "read":
    case "write":
    case "ffi":
      return { name, path: entry };
    case "net":
    case "import":
      return { name, host: entry };
    case "env":
      return { name, variable: entry };
    case "run":
      return { name, command: entry };
    case "sys":
      return { name, kind: entry };
  }
}
