/**
 * The SQLite errors the embedded store tells apart, by their result code,
 * never by their message text: node:sqlite gives the error of a statement
 * an `errcode`, SQLite's extended result code, whose low byte is the
 * primary code. `DatabaseSync.exec` throws errors without one, so a
 * statement whose errors are told apart is prepared, not `exec`ed.
 * @module
 */

/** The primary result code of a database locked by another connection. */
const SQLITE_BUSY = 5;
/** SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE. */
const DUPLICATE_KEY = new Set([1555, 2067]);

/** SQLite's extended result code of an error of node:sqlite, if it has one. */
function resultCode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { errcode?: unknown }).errcode;
  return typeof code === "number" ? code : undefined;
}

/**
 * True when another connection held the lock for longer than the busy
 * timeout, or the file was being recovered (SQLITE_BUSY and its extended
 * codes).
 */
export function isBusy(error: unknown): boolean {
  const code = resultCode(error);
  return code !== undefined && (code & 0xff) === SQLITE_BUSY;
}

/** True when an insert broke a primary key or a unique index. */
export function isDuplicateKey(error: unknown): boolean {
  const code = resultCode(error);
  return code !== undefined && DUPLICATE_KEY.has(code);
}

/** The message of an error, or the thrown value as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
