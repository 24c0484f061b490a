/**
 * How a pq server starts another copy of itself (its worker processes),
 * with the permissions it holds.
 * @module
 */
import {
  configArgs,
  denoCommand,
  inheritedPermissionArgs,
} from "../runtime/_deno_command.ts";

/**
 * The command that runs this program again with the same arguments: the
 * binary itself when compiled, else `deno run <permissions> <main module>`.
 */
export function selfCommand(): { command: string; args: string[] } {
  if (Deno.build.standalone) {
    return { command: Deno.execPath(), args: [...Deno.args] };
  }
  const permissionArgs = inheritedPermissionArgs();
  return {
    command: denoCommand(),
    args: [
      "run",
      ...configArgs(permissionArgs),
      ...permissionArgs,
      Deno.mainModule,
      ...Deno.args,
    ],
  };
}
