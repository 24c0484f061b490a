import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** A file URL for a path, relative paths taken from `baseDir`. */
function toFileUrl(path: string, baseDir: string): URL {
  return pathToFileURL(resolve(baseDir, path));
}

/**
 * The URL of an application's file (a config module, a job module or a
 * folder of them): a URL as is; a relative path from `baseDir`, the working
 * folder. A compiled binary looks among its own files first, where
 * `deno compile --include` put them (relative to its main module), so it
 * runs the jobs it was built with from any folder.
 */
export function appFileUrl(path: string, baseDir: string = Deno.cwd()): URL {
  if (/^[a-z][a-z0-9+.-]+:/i.test(path)) return new URL(path);
  if (Deno.build.standalone && !isAbsolute(path)) {
    const embedded = new URL(path, Deno.mainModule);
    if (exists(embedded)) return embedded;
  }
  return toFileUrl(path, baseDir);
}

/** Whether `url` names a file or folder this process can see. */
export function exists(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch {
    return false;
  }
}
