/**
 * The command line's help, version and usage errors, through `main()` of
 * cli.ts with its output captured: `pq help <command>` and
 * `pq <command> --help`, `pq --version`, did-you-mean for commands and
 * flags, and server flags refused by client commands. None of these reach
 * a store.
 */
import assert from "node:assert/strict";
import { main } from "../cli.ts";
import { COMMANDS } from "../src/cli/commands.ts";
import { CLIENT_SETTINGS } from "../src/cli/help.ts";
import { VERSION } from "../src/cli/version.ts";
import { SETTINGS } from "../src/model/settings_table.ts";

/** What a run of `main(args)` printed, and its exit status. */
interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main(args)` with console.log and console.error captured. */
async function run(...args: string[]): Promise<Output> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => stdout.push(parts.join(" "));
  console.error = (...parts: unknown[]) => stderr.push(parts.join(" "));
  try {
    const code = await main(args);
    return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("pq help queue and pq queue --help print the queue command's help", async () => {
  const help = await run("help", "queue");
  assert.equal(help.code, 0, help.stderr);
  assert.deepEqual(await run("queue", "--help"), help);
  assert.deepEqual(await run("queue", "-h"), help);
  const text = help.stdout;
  assert.match(text, /^Usage: pq queue <job> \[key=value \.\.\.\] \[options\]/);
  for (
    const flag of [
      "--wait",
      "--wait-timeout <seconds>",
      "--task-timeout <seconds>",
      "--delay <seconds>",
      "--priority <n>",
      "--max-retries <n>",
      "--rate-limit-key <key>",
      "--data-store <url>",
      "--task-paths <path,...>",
      "--config <path>",
    ]
  ) assert.ok(text.includes(flag), `queue's help lacks ${flag}`);
  // Not the server's flags.
  assert.doesNotMatch(text, /--workers|--grace-period|--concurrent-tasks/);
  assert.match(text, /^Examples:\n {2}pq queue addition a=4 b=6 --wait$/m);
  assert.ok(text.split("\n").length < 102);
});

Deno.test("every command's help lists its own flags, with a line of help each, and an example", async () => {
  for (const command of COMMANDS) {
    const { code, stdout } = await run("help", command.name);
    assert.equal(code, 0, command.name);
    assert.match(stdout, new RegExp(`^Usage: pq ${command.name}\\b`));
    const lines = stdout.split("\n");
    for (const [name, flag] of Object.entries(command.options)) {
      const at = lines.findIndex((line) =>
        new RegExp(`^ +--${name}( <[^>]+>)?$`).test(line)
      );
      assert.ok(at >= 0, `${command.name}: no line for --${name}`);
      assert.ok(
        lines[at + 1].trim().startsWith(flag.help.split(" ")[0]),
        `${command.name} --${name}: its help follows its line`,
      );
    }
    for (const s of CLIENT_SETTINGS) {
      assert.ok(stdout.includes(`--${s.flag}`), `${command.name}: --${s.flag}`);
    }
    assert.ok(command.examples.length > 0, command.name);
    for (const example of command.examples) {
      assert.ok(example.includes(`pq ${command.name}`), example);
      assert.ok(stdout.includes(`  ${example}`), `${command.name}: ${example}`);
    }
    for (const line of lines) {
      assert.ok(line.length <= 80, `${command.name}: a line over 80: ${line}`);
    }
  }
});

Deno.test("pq help and pq --help list the commands and point to pq help <command>", async () => {
  const help = await run("help");
  assert.equal(help.code, 0);
  assert.deepEqual(await run("--help"), help);
  const lines = help.stdout.split("\n");
  assert.ok(lines.length <= 40, `the global help has ${lines.length} lines`);
  for (const name of ["serve", ...COMMANDS.map((c) => c.name)]) {
    assert.ok(
      lines.some((line) => line.startsWith(`  ${name} `)),
      `no line for command ${name}`,
    );
  }
  for (const s of CLIENT_SETTINGS) {
    assert.ok(help.stdout.includes(`--${s.flag}`), s.flag);
  }
  assert.match(help.stdout, /Run 'pq help <command>' for a command's flags/);
  assert.match(help.stdout, /--version \(-V\)/);
});

Deno.test("pq help serve and pq serve --help list every setting", async () => {
  const help = await run("help", "serve");
  assert.equal(help.code, 0);
  assert.deepEqual(await run("serve", "--help"), help);
  for (const s of SETTINGS) {
    assert.ok(help.stdout.includes(`--${s.flag}`), s.flag);
    assert.ok(help.stdout.includes(s.env), s.env);
  }
  assert.match(help.stdout, /^ {2}pq --workers 2 --task-paths \.\/jobs\/$/m);
});

Deno.test("pq --version, -V and pq version print the version of deno.json", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  assert.equal(VERSION, config.version);
  for (const args of [["--version"], ["-V"], ["version"], ["queue", "-V"]]) {
    assert.deepEqual(await run(...args), {
      code: 0,
      stdout: `pq ${config.version}`,
      stderr: "",
    }, args.join(" "));
  }
});

Deno.test("an unknown command is named alone, with the command meant", async () => {
  const typo = await run("qeueu", "hello");
  assert.equal(typo.code, 2);
  assert.equal(typo.stdout, "");
  assert.equal(
    typo.stderr,
    "pq: Unknown command 'qeueu' (did you mean 'queue'?)\n" +
      "Run 'pq help' for the commands.",
  );
  const far = await run("frobnicate");
  assert.equal(far.code, 2);
  assert.match(
    far.stderr,
    /^pq: Unknown command 'frobnicate': the commands are serve, queue, status, /,
  );
  const help = await run("help", "wrokers");
  assert.equal(help.code, 2);
  assert.match(
    help.stderr,
    /Unknown command 'wrokers' \(did you mean 'workers'\?\)/,
  );
  const serve = await run("serve", "extra");
  assert.equal(serve.code, 2);
  assert.match(serve.stderr, /Command 'serve' takes no arguments: got 'extra'/);
});

Deno.test("an unknown flag is named, with the flag meant among the command's", async () => {
  const typo = await run("queue", "hello", "--dealy", "5");
  assert.equal(typo.code, 2);
  assert.equal(
    typo.stderr,
    "pq: Unknown option '--dealy' of command 'queue' (did you mean '--delay'?)\n" +
      "Run 'pq help queue' for its usage and flags.",
  );
  const inline = await run("tasks", "--limt=5");
  assert.match(
    inline.stderr,
    /Unknown option '--limt' of command 'tasks' \(did you mean '--limit'\?\)/,
  );
  const setting = await run("queue", "hello", "--data-stor", "sqlite:x");
  assert.match(setting.stderr, /\(did you mean '--data-store'\?\)/);
  const kwarg = await run("queue", "hello", "--who=Ada");
  assert.match(
    kwarg.stderr,
    /Unknown option '--who' of command 'queue'; a job's argument is written key=value, as in who=<value>/,
  );
  const serve = await run("--wokers", "2");
  assert.equal(serve.code, 2);
  assert.match(
    serve.stderr,
    /Unknown option '--wokers' of command 'serve' \(did you mean '--workers'\?\)/,
  );
  const other = await run("jobs", "--wait");
  assert.equal(other.code, 2);
  assert.match(
    other.stderr,
    /Option '--wait' is not an option of command 'jobs' \(it is one of pq queue\)/,
  );
});

Deno.test("client commands refuse the server's flags", async () => {
  const run1 = await run(
    "queue",
    "hello",
    "--workers",
    "5",
    "--grace-period",
    "3",
  );
  assert.equal(run1.code, 2);
  assert.equal(run1.stdout, "");
  assert.match(
    run1.stderr,
    /^pq: --workers is a flag of the server \(pq serve\), not of 'queue'/,
  );
  assert.match(run1.stderr, /Run 'pq help queue' for its usage and flags\./);
  const serverOnly = SETTINGS.filter((s) => s.serverOnly);
  assert.ok(serverOnly.length > 5);
  for (const command of COMMANDS) {
    for (const s of serverOnly) {
      const flag = s.kind.type === "boolean"
        ? [`--${s.flag}`]
        : [`--${s.flag}`, "1"];
      const { code, stderr } = await run(command.name, ...flag);
      assert.equal(code, 2, `${command.name} --${s.flag}`);
      assert.match(
        stderr,
        new RegExp(
          `--${s.flag} is a flag of the server \\(pq serve\\), not of '${command.name}'`,
        ),
      );
    }
  }
  const short = await run("status", "x", "-w", "2");
  assert.match(
    short.stderr,
    /-w is a flag of the server \(pq serve\), not of 'status'/,
  );
  const negative = await run("queues", "--no-schedule-periodic");
  assert.match(negative.stderr, /--schedule-periodic is a flag of the server/);
});
