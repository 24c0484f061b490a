import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** A file URL for a path, relative paths taken from `baseDir`. */
export function toFileUrl(path: string, baseDir: string): URL {
  return pathToFileURL(resolve(baseDir, path));
}
