/**
 * How the store contract (`store_contract.ts`) opens each store: SQLite on
 * temporary files, Redis in namespaces of a private server, a SplitStore of
 * two of them, and any of them as a Manager sees it (`managedStore`).
 * @module
 */
import assert from "node:assert/strict";
import type { ChannelMessage } from "../src/model/events.ts";
import { Manager } from "../src/runtime/manager.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import { TaskStatus } from "../src/model/status.ts";
import { managedStore } from "../src/runtime/managed_store.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { splitStore } from "../src/store/split_store.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { Claim, ClaimRequest, Finish, Store } from "../src/store/store.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { namespaceOf, sqlitePathOf } from "./_garbage.ts";
import { queuedRecord } from "./_helpers.ts";
import { type RedisServer, startRedis } from "./_redis.ts";
import { startRedisCluster } from "./_redis_cluster.ts";
import type { OpenContractStore } from "./store_contract.ts";

/** Stores open per temporary directory: the last close removes it. */
const openIn = new Map<string, number>();

/**
 * Opens a SQLite store on a new temporary file, or on the file of `sameAs`.
 * The directory goes when its last store closes.
 */
export const openSqlite: OpenContractStore = async (options) => {
  const path = options.sameAs
    ? sqlitePathOf(options.sameAs)
    : `${await Deno.makeTempDir({ prefix: "pq_sqlite_" })}/store.sqlite`;
  const dir = path.slice(0, path.lastIndexOf("/"));
  const store = await SqliteStore.open(path, options);
  openIn.set(dir, (openIn.get(dir) ?? 0) + 1);
  const close = store.close.bind(store);
  let closed = false;
  store.close = async () => {
    await close();
    if (closed) return;
    closed = true;
    const left = openIn.get(dir)! - 1;
    if (left > 0) return void openIn.set(dir, left);
    openIn.delete(dir);
    await Deno.remove(dir, { recursive: true });
  };
  return store;
};

/**
 * Opens Redis stores on `redis`: each fresh one in a namespace of its own,
 * or in the namespace of `sameAs`.
 */
export function redisOpener(
  redis: Pick<RedisServer, "url">,
): OpenContractStore {
  return (options) =>
    RedisStore.open(
      redis.url(
        options.sameAs
          ? namespaceOf(options.sameAs)
          : `c${crypto.randomUUID().slice(0, 8)}`,
      ),
      options,
    );
}

/** The parts of each SplitStore opened here. */
const splits = new WeakMap<Store, { broker: Store; data: Store }>();
/** The store under each managedStore opened here. */
const managed = new WeakMap<Store, Store>();

/**
 * Opens SplitStores, as settings with a `messageBroker` do: the queues on a
 * store of `openBroker`, other channels and locks on one of `openData`
 * (each on the data of the same part of `sameAs`).
 */
export function splitOpener(
  openBroker: OpenContractStore,
  openData: OpenContractStore,
): OpenContractStore {
  return async ({ sameAs, ...options }) => {
    const parts = sameAs && splits.get(sameAs);
    if (sameAs && !parts) throw new Error(`${sameAs.url} is not split here`);
    const broker = await openBroker({ ...options, sameAs: parts?.broker });
    try {
      const data = await openData({ ...options, sameAs: parts?.data });
      const store = splitStore(broker, data);
      splits.set(store, { broker, data });
      return store;
    } catch (error) {
      await broker.close();
      throw error;
    }
  };
}

/** Opens stores of `open`, each as `manager` sees it (`managedStore`). */
export function managedOpener(
  open: OpenContractStore,
  manager: Manager,
): OpenContractStore {
  return async ({ sameAs, ...options }) => {
    const raw = await open({
      ...options,
      sameAs: sameAs && (managed.get(sameAs) ?? sameAs),
    });
    const store = managedStore(raw, manager);
    // A manager that keeps the default storeMessage gets the store itself.
    if (store === raw) throw new Error("the manager must hear messages");
    managed.set(store, raw);
    return store;
  };
}

/**
 * The store that holds the queues of a store opened here (under a
 * managedStore, the broker of a SplitStore), where garbage is written.
 */
export function queuesOf(store: Store): Store {
  const raw = managed.get(store) ?? store;
  return splits.get(raw)?.broker ?? raw;
}

/** A clock a test moves by hand (Unix seconds). */
export class ManualClock {
  t = 1_700_000_000.5;
  readonly now = (): number => this.t;
  /** Moves the clock on. */
  advance(seconds: number): void {
    this.t += seconds;
  }
}

/** What a test of {@linkcode storeTests} is given; its stores close after. */
export interface StoreTest {
  clock: ManualClock;
  store: Store;
  /** One more store: on the data of `sameAs`, else a fresh one. */
  open(sameAs?: Store): Promise<Store>;
}

/**
 * Registers tests named `<label> (<store>): <behaviour>`, each run on every
 * store of `stores` (JSON, on a clock moved by hand), or on those `only`
 * keeps.
 */
export function storeTests(
  label: string,
  stores: ReadonlyArray<[string, OpenContractStore]>,
  resultTtl: number,
) {
  return (
    behaviour: string,
    fn: (t: StoreTest) => Promise<void>,
    only?: (name: string) => boolean,
  ): void => {
    for (const [name, open] of stores) {
      if (only && !only(name)) continue;
      Deno.test(`${label} (${name}): ${behaviour}`, async () => {
        const clock = new ManualClock();
        const opened: Store[] = [];
        const opener = async (sameAs?: Store) => {
          const store = await open({
            serializer: "json",
            resultTtl,
            now: clock.now,
            sameAs,
          });
          opened.push(store);
          return store;
        };
        try {
          await fn({ clock, store: await opener(), open: opener });
        } finally {
          for (const store of opened.reverse()) await store.close();
        }
      });
    }
  };
}

/** A Manager that keeps every message a managed store tells it. */
export class HearingManager extends Manager {
  /** The messages heard, oldest first. */
  readonly heard: ChannelMessage[] = [];
  override storeMessage(message: ChannelMessage): Promise<void> {
    this.heard.push(message);
    return Promise.resolve();
  }
}

/** The shared record builder (tests/_helpers.ts), for the store tests. */
export { queuedRecord };

/**
 * A queued record told apart by `label`: its id starts with `<label>-`
 * (see {@linkcode labels}) and its kwargs are `{ label }`.
 */
export function labelledRecord(
  clock: { t: number },
  label: string,
  overrides: Partial<TaskRecord> = {},
): TaskRecord {
  return queuedRecord(clock, {
    id: `${label}-${newTaskId().slice(-8)}`,
    kwargs: { label },
    ...overrides,
  });
}

/** The labels of claimed tasks of {@linkcode labelledRecord}, in order. */
export function labels(claims: readonly Claim[]): string[] {
  return claims.map((claim) => claim.id.split("-")[0]);
}

/** The outcome of a claimed task: SUCCESS with `result`, ended at `clock.t`. */
export function succeeded(
  claim: Claim,
  clock: { t: number },
  result: unknown = null,
): Finish {
  assert.ok(claim.task, `claim ${claim.id} has a task`);
  return {
    id: claim.id,
    token: claim.token,
    task: {
      ...claim.task,
      status: TaskStatus.SUCCESS,
      result,
      timeEnded: clock.t,
    },
  };
}

/** A claim of up to 100 tasks of queue `default`, with a 30 s lease. */
export function claimRequest(
  overrides: Partial<ClaimRequest> = {},
): ClaimRequest {
  return {
    queues: ["default"],
    max: 100,
    worker: "worker-1",
    node: "host-1",
    leaseSeconds: 30,
    ...overrides,
  };
}

/**
 * The stores of {@linkcode featureStores}, and two decorated ones: a
 * SplitStore (Redis broker, SQLite data) and a managed SQLite store, whose
 * `manager` hears what it is told.
 */
export async function decoratedStores(): Promise<{
  redis: RedisServer;
  manager: HearingManager;
  stores: Array<[string, OpenContractStore]>;
}> {
  const { redis, stores } = await featureStores();
  const manager = new HearingManager({
    settings: defaultSettings(),
    role: "worker",
  });
  return {
    redis,
    manager,
    stores: [
      ...stores,
      ["split redis+sqlite", splitOpener(redisOpener(redis), openSqlite)],
      ["managed sqlite", managedOpener(openSqlite, manager)],
    ],
  };
}

/**
 * A private redis-server and a Redis Cluster of three primaries for a test
 * module, stopped when it unloads, and the stores a feature's tests run
 * on: SQLite, Redis and the Cluster (a feature's queues on several nodes).
 */
export async function featureStores(): Promise<{
  redis: RedisServer;
  stores: Array<[string, OpenContractStore]>;
}> {
  const [redis, cluster] = await Promise.all([
    startRedis(),
    startRedisCluster({ replicasPerPrimary: 0 }),
  ]);
  globalThis.addEventListener("unload", () => {
    redis.stopSync();
    cluster.stopSync();
  });
  return {
    redis,
    stores: [
      ["sqlite", openSqlite],
      ["redis", redisOpener(redis)],
      ["redis cluster", redisOpener(cluster)],
    ],
  };
}
