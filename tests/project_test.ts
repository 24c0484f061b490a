/**
 * A project in a folder of its own uses pq as the README's "Use pq in your
 * project" says: the files are that section's blocks, its deno.json imports
 * `@pq/queue` by name and `links` it to this repository, and `deno check`,
 * the server (`deno task pq`), the producer script and `pq queue --wait` all
 * run from that folder. Its jobs also import a module of the project by its
 * own import map, in every execution mode, so worker processes and CPUBOUND
 * subprocesses must run with the project's deno.json, not pq's.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { type Server, serverArgs, startServer, tempDir } from "./_server.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The files of the README's section, by the name given before each block. */
async function readmeProject(): Promise<Map<string, string>> {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const section = readme.match(/^## Use pq in your project\n([\s\S]*?)^## /m);
  assert.ok(section, "the README has a section 'Use pq in your project'");
  const files = new Map<string, string>();
  const block =
    /^`([\w./-]+)`[^\n]*(?:\n[^\n]+)*:\n\n```\w+\n([\s\S]*?)\n```$/gm;
  for (const [, path, text] of section[1].matchAll(block)) {
    files.set(path, text + "\n");
  }
  assert.deepEqual(
    [...files.keys()].sort(),
    ["deno.json", "jobs/hello.ts", "pq.config.ts", "produce.ts"],
  );
  return files;
}

/** Beyond the README: jobs that import the project's own `greeting`. */
const GREETINGS = `import { Concurrency, Job, job } from "@pq/queue";
import { greeting } from "greeting";

export const greet = job(
  function greet(_ctx, { who }: { who: string }) {
    return greeting(who, "the worker");
  },
);

export const greetThread = job(
  { name: "greet.thread", concurrency: Concurrency.THREAD_IO },
  (_ctx, { who }: { who: string }) => greeting(who, "thread"),
);

export class GreetCpu extends Job {
  static override jobName = "greet.cpu";
  static override concurrency = Concurrency.CPUBOUND;
  override run({ who }: { who: string }) {
    return greeting(who, "subprocess");
  }
}
`;

/**
 * A command still running after this many seconds is stuck (a server whose
 * worker processes cannot load the jobs never runs the tasks it is waited
 * for): it is killed and its step fails, saying so, rather than hanging.
 */
const STUCK_SECONDS = 120;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno <args>` in `cwd`. */
async function deno(cwd: string, ...args: string[]): Promise<Run> {
  const stuck = new AbortController();
  const timer = setTimeout(() => stuck.abort(), STUCK_SECONDS * 1000);
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      signal: stuck.signal,
    }).output();
    const decoder = new TextDecoder();
    const stderr = decoder.decode(output.stderr);
    const stopped = `deno ${
      args.join(" ")
    } was stopped after ${STUCK_SECONDS} s`;
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: stuck.signal.aborted ? `${stopped}\n${stderr}` : stderr,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** What a failed step shows: the command's stderr, then the server's. */
function why(run: Run, server: Server): string {
  return `${run.stderr}\n--- server stderr ---\n${server.stderr()}`;
}

Deno.test("a project in its own folder uses pq as the README says", async (t) => {
  await using dir = await tempDir();
  const project = dir.path;
  const store = `sqlite:${project}/pq.sqlite`;
  const files = await readmeProject();
  const config = JSON.parse(files.get("deno.json")!);
  assert.equal(config.tasks?.pq, "deno run -A jsr:@pq/queue/cli");
  // A relative link, as the README's "../pq", to this repository.
  config.links = [relative(project, ROOT)];
  config.imports.greeting = "./lib/greeting.ts";
  files.set("deno.json", JSON.stringify(config, null, 2) + "\n");
  files.set("jobs/greetings.ts", GREETINGS);
  files.set(
    "lib/greeting.ts",
    "export const greeting = (who: string, where: string): string =>\n" +
      "  `Hello, ${who}, from ${where}`;\n",
  );
  for (const [path, text] of files) {
    await Deno.mkdir(dirname(join(project, path)), { recursive: true });
    await Deno.writeTextFile(join(project, path), text);
  }

  await t.step("deno check passes on the project", async () => {
    const run = await deno(project, "check");
    assert.equal(run.code, 0, run.stderr);
  });

  await using server = startServer(
    ["task", "pq", ...serverArgs({ workers: 1, dataStore: store })],
    { program: Deno.execPath(), cwd: project },
  );

  await t.step(
    "the producer script runs a task of each mode on the project's server",
    async () => {
      const run = await deno(project, "run", "-A", "produce.ts");
      assert.equal(run.code, 0, why(run, server));
      assert.deepEqual(run.stdout.trim().split("\n"), [
        'hello SUCCESS "Hello, Ada!"',
        "words SUCCESS 6",
        "fibonacci SUCCESS 75025",
      ]);
    },
  );

  await t.step("pq queue --wait runs a job of the project", async () => {
    const run = await deno(
      project,
      ...["task", "pq", "queue", "hello", "who=Grace", "--wait"],
      ...["--data-store", store],
    );
    assert.equal(run.code, 0, why(run, server));
    assert.match(run.stdout, /^task\.hello<[0-9a-f]+><SUCCESS>/);
    assert.match(run.stdout, /result\s+Hello, Grace!/);
  });

  await t.step(
    "jobs resolve the project's own imports in every mode",
    async () => {
      const results = [];
      for (const name of ["greet", "greet.thread", "greet.cpu"]) {
        const run = await deno(
          project,
          ...["task", "pq", "queue", name, "who=Ada", "--wait", "--json"],
          ...["--data-store", store],
        );
        assert.equal(run.code, 0, why(run, server));
        const task = JSON.parse(run.stdout);
        assert.equal(task.statusString, "SUCCESS", task.result);
        results.push(task.result);
      }
      assert.deepEqual(results, [
        "Hello, Ada, from the worker",
        "Hello, Ada, from thread",
        "Hello, Ada, from subprocess",
      ]);
    },
  );

  // The clone's cli.ts run by path: Deno takes the deno.json of the
  // script's folder (pq's), without the project's imports.
  const cli = join(relative(project, ROOT), "cli.ts");

  await t.step(
    "deno run <clone>/cli.ts from the project says to use the project's deno.json",
    async () => {
      const run = await deno(project, "run", "-A", cli, "jobs");
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        /Import "greeting" not a dependency and not in import map/,
      );
      assert.ok(
        run.stderr.includes(
          `"greeting" is in the imports of deno.json, but this process runs with another deno.json: started as \`deno run ${cli}\`, Deno takes the deno.json of the script's folder. From your project, run \`deno task pq\` (a task "deno run -A jsr:@pq/queue/cli", with \`links\` to the clone) or \`deno run -A --config deno.json ${cli}\``,
        ),
        run.stderr,
      );
      // Deno's own hint would send the user the wrong way.
      assert.doesNotMatch(run.stderr, /deno add/);
    },
  );

  await t.step(
    "deno run --config deno.json <clone>/cli.ts runs the project's jobs",
    async () => {
      const run = await deno(
        project,
        ...["run", "-A", "--config", "deno.json", cli],
        ...["queue", "greet.cpu", "who=Ada", "--wait", "--json"],
        ...["--data-store", store],
      );
      assert.equal(run.code, 0, why(run, server));
      assert.equal(
        JSON.parse(run.stdout).result,
        "Hello, Ada, from subprocess",
      );
    },
  );

  await t.step("the server stops on SIGTERM", async () => {
    const status = await server.stop();
    assert.ok(status.success, server.stderr());
  });
});
