/**
 * The README and the pages of docs/ say what the repository has: their links
 * lead to files and headings that exist, the README stays a front page that
 * links every page, no file points outside the repository, docs/cli.md names
 * every command the CLI registers, and docs/layout.md every folder of src/.
 * (Their code blocks are type-checked by `deno task ok`; the settings table
 * is checked by tests/readme_test.ts.)
 */
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMANDS } from "../src/cli/commands.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const README_MAX_LINES = 350;

/** The Markdown pages: the README, then docs/*.md, as paths from ROOT. */
async function pages(): Promise<string[]> {
  const docs = [];
  for await (const entry of Deno.readDir(join(ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      docs.push(`docs/${entry.name}`);
    }
  }
  return ["README.md", ...docs.sort()];
}

function read(path: string): Promise<string> {
  return Deno.readTextFile(join(ROOT, path));
}

/** Fenced code blocks, indented (in a list item) or not. */
const FENCED = /^ *(```|~~~)[^\n]*\n[\s\S]*?^ *\1[^\n]*$/gm;

/** The text of a page outside its fenced code blocks and code spans. */
function prose(markdown: string): string {
  return markdown.replace(FENCED, "").replace(/`[^`\n]*`/g, "");
}

/** The targets of a page's inline links and images. */
function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)[^)]*\)/g)]
    .map(([, target]) => target);
}

/** GitHub's anchor of a heading: lower case, no punctuation, `-` for spaces. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .trim()
    .replace(/\s/g, "-");
}

/** The anchors of a page's headings (a repeated one gets `-1`, `-2`...). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const headings = markdown.replace(FENCED, "").matchAll(/^#{1,6} (.+)$/gm);
  for (const [, text] of headings) {
    const base = slug(text);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(join(ROOT, path));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Where a relative link of `page` leads, as a path from ROOT. */
function resolve(page: string, target: string): string {
  return normalize(join(dirname(page), decodeURIComponent(target)));
}

/**
 * The relative links of `texts` (page → its text) that lead to no file, or
 * to no heading of a Markdown file.
 */
async function brokenLinks(texts: Map<string, string>): Promise<string[]> {
  const broken = [];
  for (const [page, text] of texts) {
    for (const target of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [file, anchor] = target.split("#", 2);
      const path = file === "" ? page : resolve(page, file);
      if (path.startsWith("..") || !(texts.has(path) || await exists(path))) {
        broken.push(`${page}: ${target} (no file ${path})`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!path.endsWith(".md")) {
        broken.push(`${page}: ${target} (an anchor in a file not Markdown)`);
        continue;
      }
      const text = texts.get(path) ?? await read(path);
      if (!anchors(text).has(anchor)) {
        broken.push(`${page}: ${target} (no heading #${anchor} in ${path})`);
      }
    }
  }
  return broken;
}

Deno.test("every relative link of the README and docs/ leads to a file and heading", async () => {
  const texts = new Map<string, string>();
  for (const page of await pages()) texts.set(page, await read(page));
  assert.deepEqual(await brokenLinks(texts), []);
});

Deno.test("the link check finds a missing file and a missing heading", async () => {
  const page = [
    "[a](nowhere.md), [b](../README.md#no-such-heading), [c](#here),",
    "[d](cli.md#the-command-line), ![e](screenshots/overview.png)",
    "`[f](nowhere.md)`",
    "## Here",
  ].join("\n");
  const broken = await brokenLinks(new Map([["docs/page.md", page]]));
  assert.deepEqual(broken, [
    "docs/page.md: nowhere.md (no file docs/nowhere.md)",
    "docs/page.md: ../README.md#no-such-heading (no heading #no-such-heading in README.md)",
  ]);
});

Deno.test("the README is a front page of at most 350 lines", async () => {
  const lines = (await read("README.md")).trimEnd().split("\n").length;
  assert.ok(
    lines <= README_MAX_LINES,
    `README.md has ${lines} lines: move the details into docs/`,
  );
});

Deno.test("the README links every page of docs/", async () => {
  const readme = await read("README.md");
  const linked = new Set(
    links(readme).map((target) => resolve("README.md", target.split("#")[0])),
  );
  const docs = (await pages()).filter((page) => page !== "README.md");
  assert.deepEqual(docs.filter((page) => !linked.has(page)), []);
});

/** The tracked files of the repository, as paths from ROOT. */
async function trackedFiles(): Promise<string[]> {
  const output = await new Deno.Command("git", {
    args: ["ls-files", "-z"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, "git ls-files failed");
  return new TextDecoder().decode(output.stdout).split("\0").filter(Boolean);
}

/**
 * The places where `text` (the file `path`) names a path of a folder
 * `shared` that is not in the repository: a relative path out of it, an
 * absolute one, or one that does not exist here.
 */
async function outsideShared(path: string, text: string): Promise<string[]> {
  const found = [];
  const paths =
    /(?<![\w.~\/-])(?:(?:[\w.~-]*\/)*shared(?:\/[\w.-]+)+|(?:\.\.\/)+shared\b)/g;
  for (const [name] of text.matchAll(paths)) {
    const inside = !name.startsWith("/") && !name.startsWith("~") &&
      !resolve(path, name).startsWith("..") &&
      (await exists(name) || await exists(resolve(path, name)));
    if (!inside) found.push(`${path}: ${name}`);
  }
  return found;
}

Deno.test("no tracked file refers to a file outside the repository", async () => {
  const found = [];
  for (const path of await trackedFiles()) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(join(ROOT, path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue; // moved meanwhile
      throw error;
    }
    if (bytes.includes(0)) continue; // an image
    found.push(...await outsideShared(path, new TextDecoder().decode(bytes)));
  }
  assert.deepEqual(found, []);
});

Deno.test("the outside-file check finds relative and absolute paths", async () => {
  const dir = ["..", "shared"].join("/");
  const text = `see ${dir}/bench.md, /work/${
    ["shared", "x.md"].join("/")
  } and ${["shared", "bench.md"].join("/")}; a shared state, un${
    ["shared", "x"].join("/")
  }, \${dir.path}/shared.sqlite`;
  assert.equal((await outsideShared("bench/x.ts", text)).length, 3);
});

/** The names of the commands the CLI registers, `serve` first. */
function commandNames(): string[] {
  return ["serve", ...COMMANDS.map((command) => command.name)];
}

Deno.test("docs/cli.md names every command of the CLI", async () => {
  const cli = await read("docs/cli.md");
  const missing = commandNames().filter((name) =>
    !new RegExp(`\\bpq ${name}\\b|^- \`${name}\\b`, "m").test(cli)
  );
  assert.deepEqual(missing, [], "docs/cli.md does not name these commands");
});

/** The entry of the layout's tree that starts with `src/cli/`. */
function cliEntry(layout: string): string {
  const entry = layout.match(/^src\/cli\/[^\n]*(?:\n {2,}[^\n]*)*/m);
  assert.ok(entry, "docs/layout.md has an entry src/cli/");
  return entry[0];
}

Deno.test("docs/layout.md lists every command in its src/cli/ entry", async () => {
  const entry = cliEntry(await read("docs/layout.md"));
  const missing = commandNames().filter((name) =>
    name !== "serve" && !new RegExp(`\\b${name}\\b`).test(entry)
  );
  assert.deepEqual(missing, [], "the src/cli/ entry misses these commands");
});

/** Every folder under src/, as `src/.../`. */
async function sourceFolders(dir = "src"): Promise<string[]> {
  const folders = [`${dir}/`];
  for await (const entry of Deno.readDir(join(ROOT, dir))) {
    if (entry.isDirectory) {
      folders.push(...await sourceFolders(`${dir}/${entry.name}`));
    }
  }
  return folders.sort();
}

/** The repository paths a page names: `src/...`, `tests/...` and the like. */
function namedPaths(markdown: string): string[] {
  const paths = markdown.matchAll(
    /(?<![\w./-])((?:src|tests|bench|examples|scripts|docs|\.ci)\/(?:[\w.-]+\/?)*)/g,
  );
  return [...new Set([...paths].map(([, path]) => path.replace(/\.$/, "")))];
}

Deno.test("docs/layout.md names every folder of src/, and only paths that exist", async () => {
  const layout = await read("docs/layout.md");
  const named = namedPaths(layout);
  const unnamed = (await sourceFolders()).filter((dir) => !named.includes(dir));
  assert.deepEqual(unnamed, [], "folders of src/ that docs/layout.md misses");
  const gone = [];
  for (const path of named) if (!(await exists(path))) gone.push(path);
  assert.deepEqual(gone, [], "paths docs/layout.md names that do not exist");
});

Deno.test("the README and docs/ name only repository paths that exist", async () => {
  const gone = [];
  for (const page of await pages()) {
    for (const path of namedPaths(await read(page))) {
      if (!(await exists(path))) gone.push(`${page}: ${path}`);
    }
  }
  assert.deepEqual(gone, [], "paths named by the pages that do not exist");
});

Deno.test("deno task ok type-checks the code blocks of the README and docs/", async () => {
  const config = JSON.parse(await read("deno.json"));
  assert.match(
    config.tasks.ok,
    /deno check --doc-only README\.md docs\/\*\.md/,
  );
  const published: string[] = config.publish.include;
  assert.ok(published.includes("docs/"), "docs/ is published with the README");
});
