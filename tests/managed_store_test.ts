/**
 * The store contract on each store as a Manager sees it (`managedStore`:
 * every call forwarded, then `storeMessage` told what it published), on
 * SQLite, Redis and a SplitStore; the manager must have heard the task
 * events and the messages the contract published.
 */
import assert from "node:assert/strict";
import { type ChannelMessage, Manager } from "../mod.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import {
  managedOpener,
  openSqlite,
  queuesOf,
  redisOpener,
  splitOpener,
} from "./_contract_stores.ts";
import { injectGarbage } from "./_garbage.ts";
import { startRedis } from "./_redis.ts";
import {
  type OpenContractStore,
  storeContract,
  type StoreContractOptions,
} from "./store_contract.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

/** Keeps every message it is told of. */
class Recorder extends Manager {
  readonly heard: ChannelMessage[] = [];
  override storeMessage(message: ChannelMessage): Promise<void> {
    this.heard.push(message);
    return Promise.resolve();
  }
}

/** Garbage goes into the store under the manager's view, where queues are. */
const garbage: StoreContractOptions["injectGarbage"] = (store, task, payload) =>
  injectGarbage(queuesOf(store), task, payload, redis);

/**
 * Runs the contract on the stores of `open`, managed, then checks what the
 * manager heard.
 */
function managedContract(
  name: string,
  open: OpenContractStore,
  options: Omit<StoreContractOptions, "injectGarbage">,
): void {
  const manager = new Recorder({ settings: defaultSettings(), role: "worker" });
  storeContract(name, managedOpener(open, manager), {
    ...options,
    injectGarbage: garbage,
  });
  // Registered last, so it runs after the contract (tests run in order).
  Deno.test(`${name}: the manager heard the task events and messages`, () => {
    const heard = new Set(
      manager.heard.map(({ channel, event }) => `${channel} ${event}`),
    );
    for (
      const expected of [
        "task queued",
        "task started",
        "task done",
        "news first",
      ]
    ) {
      assert.ok(heard.has(expected), `${expected}: heard ${[...heard]}`);
    }
  });
}

managedContract("managed sqlite json", openSqlite, { serializer: "json" });
managedContract("managed redis msgpack", redisOpener(redis), {
  serializer: "msgpack",
});
managedContract(
  "managed split redis broker, sqlite data, json",
  splitOpener(redisOpener(redis), openSqlite),
  { serializer: "json" },
);
