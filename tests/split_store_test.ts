/**
 * The store contract on SplitStores, as settings with a `messageBroker`
 * open them (`openSettingsStore`): the queues on the broker, the other
 * channels and the locks on the data store. The broker on Redis with the
 * data on SQLite, and each on a SQLite file of its own.
 */
import {
  openSqlite,
  queuesOf,
  redisOpener,
  splitOpener,
} from "./_contract_stores.ts";
import { injectGarbage } from "./_garbage.ts";
import { startRedis } from "./_redis.ts";
import { storeContract, type StoreContractOptions } from "./store_contract.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

/** Garbage goes where the queues are: on the broker. */
const garbage: StoreContractOptions["injectGarbage"] = (store, task, payload) =>
  injectGarbage(queuesOf(store), task, payload, redis);

storeContract(
  "split redis broker, sqlite data, json",
  splitOpener(redisOpener(redis), openSqlite),
  { serializer: "json", injectGarbage: garbage },
);
storeContract(
  "split sqlite broker, sqlite data, msgpack",
  splitOpener(openSqlite, openSqlite),
  { serializer: "msgpack", injectGarbage: garbage },
);
