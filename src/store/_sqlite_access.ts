/**
 * Why a SQLite store file cannot be opened for writing, in words: SQLite
 * itself only says `unable to open database file` or `attempt to write a
 * readonly database`, which name neither the cause nor the path at fault.
 *
 * Invariants:
 * - Only asked after SQLite failed to open the file; it looks, in order, at
 *   the path (a directory? a part of it a file?), the file, its folder
 *   (where SQLite makes its `-wal` and `-shm` files) and those files, and
 *   says the first thing that stops a write, with the OS's reason
 *   (read-only file system, permission denied, not permitted).
 * - To learn whether the folder takes new files it makes one and removes it
 *   at once; it never changes the database or its `-wal` and `-shm` files.
 * - Undefined when it finds nothing wrong (then SQLite's own message
 *   stands: a damaged file, a file that is not a database...).
 * @module
 */
import { dirname, join, resolve } from "node:path";

/**
 * What stops pq from writing the SQLite store at `path`, as a sentence
 * part (`cannot write in the directory /srv/pq: the file system is
 * read-only`), or undefined when nothing does.
 *
 * @example
 * ```ts
 * import { sqliteAccessProblem } from "./_sqlite_access.ts";
 * const problem = await sqliteAccessProblem("/nowhere/pq.sqlite");
 * // "the directory /nowhere does not exist: create it first"
 * ```
 */
export async function sqliteAccessProblem(
  path: string,
): Promise<string | undefined> {
  let file: string;
  try {
    file = resolve(path);
  } catch {
    return undefined; // The working folder cannot be read: SQLite said it.
  }
  const info = await statOf(file);
  if (info instanceof Error) {
    if (!(info instanceof Deno.errors.NotFound)) {
      return await pathProblem(file, info);
    }
  } else if (info.isDirectory) {
    return `${file} is a directory, not a database file: name a file in it, as sqlite:${
      join(file, "pq.sqlite")
    }`;
  } else {
    const problem = await cannotOpenForWriting(file);
    if (problem) return `cannot write ${file}: ${problem}`;
  }
  const dir = dirname(file);
  const dirInfo = await statOf(dir);
  if (dirInfo instanceof Deno.errors.NotFound) {
    return `the directory ${dir} does not exist: create it first`;
  }
  if (dirInfo instanceof Error) return await pathProblem(dir, dirInfo);
  const problem = await cannotCreateIn(dir);
  if (problem) {
    return `cannot write in the directory ${dir}, where SQLite keeps the database's -wal and -shm files: ${problem}`;
  }
  for (const companion of [`${file}-wal`, `${file}-shm`]) {
    if (await statOf(companion) instanceof Error) continue;
    const problem = await cannotOpenForWriting(companion);
    if (problem) return `cannot write ${companion}: ${problem}`;
  }
  return undefined;
}

/** The file's information, or the error that stopped `stat`. */
async function statOf(path: string): Promise<Deno.FileInfo | Error> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Why `path` cannot be looked at: a part of it a file, no permission... */
async function pathProblem(
  path: string,
  error: Error,
): Promise<string | undefined> {
  if (error instanceof Deno.errors.NotADirectory) {
    // The nearest part of the path that exists is a file.
    for (
      let part = dirname(path);
      part !== dirname(part);
      part = dirname(part)
    ) {
      const info = await statOf(part);
      if (!(info instanceof Error) && info.isFile) {
        return `${part} is a file, not a directory, so ${path} cannot be made`;
      }
    }
  }
  const reason = osReason(error);
  return reason ? `cannot reach ${path}: ${reason}` : undefined;
}

/** Why `file` cannot be opened for writing, or undefined when it can. */
async function cannotOpenForWriting(file: string): Promise<string | undefined> {
  try {
    (await Deno.open(file, { read: true, write: true })).close();
    return undefined;
  } catch (error) {
    return osReason(error);
  }
}

/** Why no new file can be made in `dir`, or undefined when one can. */
async function cannotCreateIn(dir: string): Promise<string | undefined> {
  let probe: string;
  try {
    probe = await Deno.makeTempFile({ dir, prefix: ".pq_write_probe_" });
  } catch (error) {
    return osReason(error);
  }
  await Deno.remove(probe).catch(() => undefined);
  return undefined;
}

/**
 * The OS's reason in words, from the error's code; undefined for an error
 * that is not the OS refusing (Deno's own permissions, say).
 */
function osReason(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  switch (code) {
    case "EROFS":
      return "the file system is read-only (a read-only mount)";
    case "EACCES":
      return "permission denied (the file mode does not let this user write)";
    case "EPERM":
      return "operation not permitted (an immutable file or directory, or a security policy)";
    case "ENOTDIR":
      return "a part of the path is a file, not a directory";
    case "ENOSPC":
      return "the disk is full";
    default:
      return undefined;
  }
}
