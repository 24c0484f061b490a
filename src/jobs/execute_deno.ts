/**
 * Jobs that run Deno code in a subprocess. A run that fails is a
 * `TaskError` saying how Deno ended (exit code or signal) and the last
 * lines of its stderr.
 * @module
 */
import { z } from "zod";
import { TaskError } from "../model/errors.ts";
import type { JobClass } from "../runtime/job.ts";
import { job } from "../runtime/job_function.ts";
import { denoCommand } from "../runtime/_deno_command.ts";
import { exitText, outputTail } from "../runtime/shell.ts";

/** A permission as `deno run` takes it: `read`, `net=example.com:443`... */
const permission = z.string().regex(
  /^(read|write|net|env|run|sys|ffi|import)(=[^\s]+)?$/,
  "must be a permission name, optionally with =<list>",
);

/**
 * Runs a Deno script with only the given permissions; resolves with stdout.
 * `what` names the script in an error (`the code`, the script's path).
 */
async function runDeno(
  script: string,
  allow: readonly string[],
  signal: AbortSignal,
  what: string = script,
): Promise<string> {
  const output = await new Deno.Command(denoCommand(), {
    args: [
      "run",
      "--no-prompt",
      "--no-config",
      ...allow.map((entry) => `--allow-${entry}`),
      script,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr);
    throw new TaskError(
      `Deno ${exitText(output)} running ${what}` + outputTail(stderr, stdout),
    );
  }
  return stdout;
}

/**
 * `execute.deno`: runs TypeScript `code` in a Deno subprocess with the
 * permissions in `allow` (none by default) and returns its stdout.
 */
export const executeDeno: JobClass = job(
  {
    name: "execute.deno",
    doc: "Runs TypeScript `code` in a Deno subprocess; returns its stdout.",
    schema: z.strictObject({
      code: z.string(),
      allow: z.array(permission).optional(),
    }),
  },
  async (ctx, { code, allow = [] }: { code: string; allow?: string[] }) => {
    const file = await Deno.makeTempFile({ prefix: "pq_code_", suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, code);
      return await runDeno(file, allow, ctx.signal, "the code");
    } finally {
      await Deno.remove(file);
    }
  },
);

/**
 * `execute.deno.script`: runs the script file `script` in a Deno subprocess
 * with the permissions in `allow` (none by default); returns its stdout.
 */
export const executeDenoScript: JobClass = job(
  {
    name: "execute.deno.script",
    doc: "Runs the Deno script file `script`; returns its stdout.",
    schema: z.strictObject({
      script: z.string().min(1),
      allow: z.array(permission).optional(),
    }),
  },
  async (ctx, { script, allow = [] }: { script: string; allow?: string[] }) => {
    const info = await Deno.stat(script).catch(() => undefined);
    if (!info?.isFile) throw new TaskError(`No script file at '${script}'`);
    return await runDeno(script, allow, ctx.signal);
  },
);
