/**
 * How a pq process starts another copy of itself (worker processes).
 * @module
 */

/** Permission names `deno run` takes as `--allow-<name>`. */
const PERMISSIONS = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "sys",
  "ffi",
  "import",
] as const;

/**
 * The `--allow-*` flags of the permissions this process holds in full, so a
 * child gets the same ones and never more. A permission held only for some
 * paths or hosts is not passed on in full (the child is denied it).
 */
export function permissionFlags(): string[] {
  const granted = PERMISSIONS.filter((name) =>
    Deno.permissions.querySync({ name }).state === "granted"
  );
  if (granted.length === PERMISSIONS.length) return ["--allow-all"];
  return granted.map((name) => `--allow-${name}`);
}

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
