/**
 * Checks the layout of `src/`: each file belongs to one layer, a layer
 * imports only itself and the layers it is allowed to (the ones below it),
 * and no group of modules imports itself round in a cycle. Type-only and
 * dynamic imports count as imports. The module graph is Deno's own
 * (`deno info --json`), so what is checked is what Deno loads.
 *
 * Run by `deno task ok`; exits 1 naming every offending import.
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Each layer: which files are in it, and the layers it may import. From the
 * bottom: the pure model (no I/O), the stores, the runtime around an
 * application's code (its jobs, config, hooks, permissions), the execution
 * modes, the producer and the consumer, the dashboard, the server processes,
 * and the faces (the library's entry points and the command line).
 */
const LAYERS: Record<string, { files: RegExp; imports: string[] }> = {
  model: { files: /^src\/model\//, imports: [] },
  storing: { files: /^src\/store\//, imports: ["model"] },
  runtime: { files: /^src\/runtime\//, imports: ["model", "storing"] },
  running: { files: /^src\/run\//, imports: ["model", "runtime"] },
  producing: {
    files: /^src\/producer\//,
    imports: ["model", "storing", "runtime", "running"],
  },
  consuming: {
    files: /^src\/consumer\//,
    imports: ["model", "storing", "runtime", "running"],
  },
  jobs: { files: /^src\/jobs\//, imports: ["model", "runtime", "running"] },
  web: {
    files: /^src\/web\//,
    imports: ["model", "storing", "runtime", "producing"],
  },
  serving: {
    files: /^src\/server\//,
    imports: [
      "model",
      "storing",
      "runtime",
      "running",
      "producing",
      "consuming",
      "web",
    ],
  },
  face: {
    files: /^(mod\.ts|cli\.ts|src\/app\.ts|src\/cli\/)/,
    imports: [
      "model",
      "storing",
      "runtime",
      "running",
      "producing",
      "consuming",
      "jobs",
      "web",
      "serving",
    ],
  },
};

const root = fileURLToPath(new URL("..", import.meta.url));

function layerOf(path: string): string | undefined {
  return Object.entries(LAYERS).find(([, layer]) => layer.files.test(path))
    ?.[0];
}

function localPath(specifier: string): string | undefined {
  if (!specifier.startsWith("file:")) return undefined;
  const path = relative(root, fileURLToPath(specifier));
  return path.startsWith("..") ? undefined : path;
}

interface InfoModule {
  specifier: string;
  dependencies?: Array<
    { code?: { specifier?: string }; type?: { specifier?: string } }
  >;
}

/** The local imports of every module reachable from `roots`. */
async function moduleGraph(
  roots: string[],
): Promise<Map<string, Set<string>>> {
  const graph = new Map<string, Set<string>>();
  for (const path of roots) {
    if (graph.has(path)) continue;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", path],
      cwd: root,
      stderr: "inherit",
    }).output();
    if (!output.success) throw new Error(`deno info ${path} failed`);
    const info = JSON.parse(new TextDecoder().decode(output.stdout));
    for (const module of info.modules as InfoModule[]) {
      const from = localPath(module.specifier);
      if (!from || graph.has(from)) continue;
      const imports = new Set<string>();
      for (const dependency of module.dependencies ?? []) {
        for (const kind of [dependency.code, dependency.type]) {
          const to = kind?.specifier && localPath(kind.specifier);
          if (to) imports.add(to);
        }
      }
      graph.set(from, imports);
    }
  }
  return graph;
}

/** The cycles of the graph: its strongly connected components of 2 or more. */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  // Tarjan's algorithm.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${root}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

/**
 * What is wrong with the imports of `graph` (module → its local imports):
 * modules of `roots` in no layer, imports of a higher layer, cycles.
 */
export function layerProblems(
  graph: Map<string, Set<string>>,
  roots: readonly string[],
): string[] {
  const problems: string[] = [];
  for (const [from, imports] of graph) {
    const layer = layerOf(from);
    if (!layer) {
      if (roots.includes(from)) problems.push(`${from}: in no layer`);
      continue;
    }
    for (const to of imports) {
      const target = layerOf(to);
      if (!target) problems.push(`${from} imports ${to}, which is in no layer`);
      else if (target !== layer && !LAYERS[layer].imports.includes(target)) {
        problems.push(
          `${from} (${layer}) imports ${to} (${target}): a higher layer`,
        );
      }
    }
  }
  for (const cycle of cycles(graph)) {
    problems.push(`import cycle: ${cycle.join(" → ")}`);
  }
  return problems;
}

if (import.meta.main) {
  const roots = ["mod.ts", "cli.ts", ...await sourceFiles("src")];
  const graph = await moduleGraph(roots);
  const problems = layerProblems(graph, roots);
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    Deno.exit(1);
  }
  console.log(
    `Layers: ${graph.size} modules, ${
      Object.keys(LAYERS).length
    } layers, no upward import, no cycle`,
  );
}
