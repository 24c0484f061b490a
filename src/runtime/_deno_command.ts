/**
 * The `deno` a pq process runs its children with (worker processes, CPUBOUND
 * subprocesses, `execute.deno`), and the flags that give them this process's
 * permissions and its deno.json, never more.
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { permissionFlags } from "./permissions.ts";

/**
 * The variable naming the permission set of the program's deno.json that
 * children run with when this process runs under one (`-P=<name>`).
 */
const PERMISSION_SET_ENV = "PQ_PERMISSION_SET";

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

/**
 * `--config=<the program's deno.json>` unless `permissionArgs` name it, so a
 * child resolves imports as this process does.
 */
export function configArgs(permissionArgs: readonly string[]): string[] {
  const config = denoConfig();
  return config && !permissionArgs.some((arg) => arg.startsWith("--config="))
    ? [`--config=${config}`]
    : [];
}

const SEPARATOR = Deno.build.os === "windows" ? "\\" : "/";

/**
 * The deno.json that applies to this program, found as Deno finds it: from
 * the main module's folder up; but when pq was started by its package name
 * (`deno run jsr:@pq/queue/cli`) and a project's `links` point it at a clone,
 * the main module is that clone's cli.ts while Deno runs with the project's
 * deno.json, the one of the working folder up whose `links` hold the main
 * module. Undefined when there is none or it cannot be looked for.
 */
function denoConfig(): string | undefined {
  if (!Deno.mainModule.startsWith("file:")) return undefined;
  let cwd: URL | undefined;
  try {
    cwd = pathToFileURL(Deno.cwd() + SEPARATOR);
  } catch {
    // Not allowed to read the working folder: the main module's config.
  }
  return (cwd && linkingConfig(cwd)) ??
    nearestConfig(new URL(".", Deno.mainModule));
}

/** The first deno.json(c) from `dir` up. */
function nearestConfig(dir: URL): string | undefined {
  for (const config of configsUp(dir)) return fileURLToPath(config);
  return undefined;
}

/**
 * The first deno.json(c) from `dir` up when it, or a workspace root above
 * it, links a folder that holds the main module.
 */
function linkingConfig(dir: URL): string | undefined {
  const main = realPath(new URL(Deno.mainModule));
  if (!main) return undefined;
  let nearest: URL | undefined;
  for (const config of configsUp(dir)) {
    nearest ??= config;
    for (const link of configLinks(config)) {
      const folder = realPath(new URL(link, config));
      if (folder && main.startsWith(folder + SEPARATOR)) {
        return fileURLToPath(nearest);
      }
    }
  }
  return undefined;
}

/**
 * Each deno.json(c) from `dir` up, nearest first, among the files this
 * process may read (asked without a prompt).
 */
function* configsUp(dir: URL): Generator<URL> {
  while (true) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const candidate = new URL(name, dir);
      try {
        const read = { name: "read", path: candidate } as const;
        if (Deno.permissions.querySync(read).state !== "granted") continue;
        if (Deno.statSync(candidate).isFile) {
          yield candidate;
          break;
        }
      } catch {
        // Absent, or not readable by this process.
      }
    }
    const parent = new URL("..", dir);
    if (parent.href === dir.href) return;
    dir = parent;
  }
}

/** The `links` of a deno.json (none when it cannot be read as JSON). */
function configLinks(config: URL): string[] {
  try {
    const links = JSON.parse(Deno.readTextFileSync(config))?.links;
    return Array.isArray(links)
      ? links.filter((link) => typeof link === "string")
      : [];
  } catch {
    return [];
  }
}

function realPath(url: URL): string | undefined {
  try {
    return Deno.realPathSync(url);
  } catch {
    return undefined;
  }
}

/**
 * What to do when a job module of a project failed to import a bare name
 * that its project's deno.json does map: this process runs with another
 * deno.json. That is `deno run ../pq/cli.ts` from the project, since Deno
 * takes the deno.json of the script's folder, pq's; `deno task pq` (which
 * runs `jsr:@pq/queue/cli`) or `--config deno.json` run with the project's.
 * Undefined for any other failure (then Deno's own hint stands: the name
 * is missing from the project's imports).
 *
 * @example
 * ```ts
 * import { importMapHint } from "./_deno_command.ts";
 * const error = new TypeError('Import "ms" not a dependency and not in import map');
 * console.log(importMapHint("file:///app/jobs/wait.ts", error) ?? "");
 * ```
 */
export function importMapHint(
  moduleUrl: string,
  error: unknown,
): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const name = message.match(/Import "([^"]+)" not a dependency/)?.[1];
  if (!name || !moduleUrl.startsWith("file:")) return undefined;
  const project = nearestConfig(new URL(".", moduleUrl));
  if (!project || !configImports(project).some((key) => maps(key, name))) {
    return undefined;
  }
  let cwd = "";
  try {
    cwd = Deno.cwd();
  } catch {
    // Not allowed to read it: absolute paths.
  }
  const shown = (path: string) => cwd ? relative(cwd, path) || "." : path;
  const main = Deno.mainModule.startsWith("file:")
    ? shown(fileURLToPath(Deno.mainModule))
    : Deno.mainModule;
  return `"${name}" is in the imports of ${
    shown(project)
  }, but this process runs with another deno.json: started as \`deno run ${main}\`, Deno takes the deno.json of the script's folder. From your project, run \`deno task pq\` (a task "deno run -A jsr:@pq/queue/cli", with \`links\` to the clone) or \`deno run -A --config ${
    shown(project)
  } ${main}\``;
}

/** Whether import map key `key` maps the bare name `name`. */
function maps(key: string, name: string): boolean {
  return key === name || (key.endsWith("/") && name.startsWith(key));
}

/** The keys of a deno.json's `imports` (none when it is not plain JSON). */
function configImports(config: string): string[] {
  try {
    const imports = JSON.parse(Deno.readTextFileSync(config))?.imports;
    return imports && typeof imports === "object" ? Object.keys(imports) : [];
  } catch {
    return [];
  }
}
