/**
 * The Manager: an application's hooks into every pq process (arbiter,
 * worker, producer, CPUBOUND child), as pulsar-queue's `Manager`.
 * @module
 */
import { appFileUrl } from "./_paths.ts";
import type { Settings } from "../model/settings_types.ts";
import { describeValue } from "../model/errors.ts";
import type { ChannelMessage } from "../model/events.ts";

/**
 * What a pq process is: `arbiter` (a server that supervises worker
 * processes), `worker` (a process that consumes tasks: a worker process, or
 * the server itself when `workers` is 0), `producer` (a process that only
 * uses `app.api()`), `child` (a CPUBOUND subprocess).
 */
export type ManagerRole = "arbiter" | "worker" | "producer" | "child";

/**
 * What a {@linkcode Manager} is made with.
 *
 * @example
 * ```ts
 * import { Manager, type ManagerContext } from "@pq/queue";
 * class Audit extends Manager {
 *   constructor(context: ManagerContext) {
 *     super(context);
 *     // Cheap and side-effect free: connect in start(), not here.
 *   }
 * }
 * ```
 */
export interface ManagerContext {
  /** The resolved settings of the process. */
  readonly settings: Readonly<Settings>;
  /** What this process is. */
  readonly role: ManagerRole;
}

/**
 * The hooks of an application, made once per process and used in every
 * role: subclass it and pass the class as `new PulsarQueue({ manager })`
 * (or export it as `manager` from the config module, `pq.config.ts`, so
 * that `pq` on the command line uses it too).
 *
 * Worker processes re-run the same main module with the same arguments, so
 * they construct the same class: keep the constructor cheap and free of side
 * effects (CPUBOUND children construct it too), and open connections in
 * `start()`.
 *
 * - `storeMessage(message)` is awaited for every task event this process
 *   publishes (`queued`, `started`, `done`, channel `task`) and for every
 *   heartbeat (channel `consumer`, event `status`).
 * - `queues()` names extra queues for this process's worker to consume,
 *   after the host's local queue and `taskQueues`.
 * - `start()` and `close()` run once each: when the process's first pq user
 *   (server or producer) starts, and when its last one closes.
 *
 * @example
 * ```ts
 * import { type ChannelMessage, Manager, PulsarQueue } from "@pq/queue";
 *
 * class AuditManager extends Manager {
 *   override async storeMessage(message: ChannelMessage): Promise<void> {
 *     if (message.channel === "task") {
 *       await Deno.writeTextFile("audit.jsonl", JSON.stringify(message) + "\n", {
 *         append: true,
 *       });
 *     }
 *   }
 *   override queues(): string[] {
 *     return ["audit"];
 *   }
 * }
 *
 * const app = new PulsarQueue({ manager: AuditManager, taskPaths: ["./jobs/"] });
 * await app.start();
 * ```
 */
export class Manager {
  /** The resolved settings of the process. */
  readonly settings: Readonly<Settings>;
  /** What this process is. */
  readonly role: ManagerRole;

  /** Made by pq, once per process; keep it cheap and side-effect free. */
  constructor(context: ManagerContext) {
    this.settings = context.settings;
    this.role = context.role;
  }

  /**
   * Called, and awaited, with every task event and heartbeat this process
   * publishes. An error is logged; the task goes on. Default: nothing.
   */
  storeMessage(_message: ChannelMessage): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Extra queues for this process's worker to consume, after the host's
   * local queue and the `taskQueues` setting. Default: none.
   */
  queues(): string[] | Promise<string[]> {
    return [];
  }

  /** Called once when the process's pq starts. Default: nothing. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Called once when the process's pq closes. Default: nothing. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A {@linkcode Manager} class: `Manager` itself or a subclass of it.
 *
 * @example
 * ```ts
 * import { Manager, type ManagerClass } from "@pq/queue";
 * const cls: ManagerClass = class extends Manager {};
 * ```
 */
export type ManagerClass = new (context: ManagerContext) => Manager;

/** True for `Manager` and its subclasses. */
function isManagerClass(value: unknown): value is ManagerClass {
  return typeof value === "function" &&
    (value === Manager || value.prototype instanceof Manager);
}

/**
 * Checks a `manager` option at the boundary.
 *
 * @throws {TypeError} naming the value when it is not a Manager class.
 */
export function checkManagerClass(
  value: unknown,
  source: string,
): ManagerClass | undefined {
  if (value === undefined || isManagerClass(value)) return value;
  const shown = typeof value === "function"
    ? `function ${value.name || "(anonymous)"}`
    : describeValue(value);
  throw new TypeError(
    `The 'manager' of ${source} must be a class that extends Manager: got ${shown}`,
  );
}

/** The `manager` export of a config module (already imported: cheap). */
export async function managerFromConfig(
  path: string,
): Promise<ManagerClass | undefined> {
  if (!path) return undefined;
  const module = await import(appFileUrl(path).href);
  return checkManagerClass(module.manager, `config module ${path}`);
}

/**
 * The one Manager of an application in this process: made by its first
 * user, started once, closed when its last user releases it.
 */
export class ManagerHost {
  readonly #cls: ManagerClass | undefined;
  #manager?: Promise<Manager>;
  #users = 0;

  /** `cls` from the options; else the config module's, else `Manager`. */
  constructor(cls?: ManagerClass) {
    this.#cls = cls;
  }

  /** The started manager; call `release()` once done with it. */
  async acquire(settings: Settings, role: ManagerRole): Promise<Manager> {
    this.#users++;
    try {
      this.#manager ??= (async () => {
        const cls = this.#cls ?? await managerFromConfig(settings.config) ??
          Manager;
        const manager = new cls({ settings, role });
        await manager.start();
        return manager;
      })();
      return await this.#manager;
    } catch (error) {
      this.#users--;
      this.#manager = undefined;
      throw error;
    }
  }

  /** Releases the manager; the last user's release closes it. */
  async release(): Promise<void> {
    if (this.#users === 0) return;
    if (--this.#users > 0) return;
    const manager = this.#manager;
    this.#manager = undefined;
    await (await manager?.catch(() => undefined))?.close();
  }
}
