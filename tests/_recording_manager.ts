/**
 * A Manager for tests: appends every hook call, as a JSON line, to
 * `manager.jsonl` next to the SQLite file of `dataStore`.
 */
import { type ChannelMessage, Manager } from "../mod.ts";

/** One line of the log. */
export interface HookCall {
  hook: "start" | "close" | "queues" | "storeMessage";
  role: string;
  pid: number;
  channel?: string;
  event?: string;
  id?: string;
  status?: number;
  worker?: string;
}

/** The log file of a data store URL (`sqlite:<dir>/x.sqlite`). */
export function hookLogOf(dataStore: string): string {
  const path = dataStore.replace(/^sqlite:/, "");
  return path.slice(0, path.lastIndexOf("/") + 1) + "manager.jsonl";
}

/** Reads the log (empty when there is none yet). */
export async function readHookLog(dataStore: string): Promise<HookCall[]> {
  try {
    const text = await Deno.readTextFile(hookLogOf(dataStore));
    return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Logs every hook; consumes the extra queue `managed`. */
export class RecordingManager extends Manager {
  async #log(call: Omit<HookCall, "role" | "pid">): Promise<void> {
    await Deno.writeTextFile(
      hookLogOf(this.settings.dataStore),
      JSON.stringify({ ...call, role: this.role, pid: Deno.pid }) + "\n",
      { append: true },
    );
  }

  override async storeMessage(message: ChannelMessage): Promise<void> {
    const data = message.data as {
      id?: string;
      status?: number;
      worker?: string;
    };
    await this.#log({
      hook: "storeMessage",
      channel: message.channel,
      event: message.event,
      id: data?.id,
      status: data?.status,
      worker: data?.worker,
    });
  }

  override async queues(): Promise<string[]> {
    await this.#log({ hook: "queues" });
    return ["managed"];
  }

  override async start(): Promise<void> {
    await this.#log({ hook: "start" });
  }

  override async close(): Promise<void> {
    await this.#log({ hook: "close" });
  }
}
