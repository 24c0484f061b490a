/**
 * Deno permissions: what this process holds, and what a CPUBOUND job's
 * subprocess may be given.
 * @module
 */
import {
  type JobPermissions,
  PERMISSION_NAMES,
  type PermissionName,
} from "../model/job_permissions.ts";

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
