/**
 * Opening a store by URL: a client (`create: false`) never creates a SQLite
 * file, and says which file is missing and who makes it.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { SettingsError, StoreConnectionError } from "../src/model/errors.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import { openSettingsStore, openStore } from "../src/store/open_store.ts";
import type { StoreOptions } from "../src/store/store.ts";
import { newTaskId, standInRecord } from "../src/model/task.ts";
import { startRedis } from "./_redis.ts";
import { tempDir } from "./_server.ts";

const OPTIONS: StoreOptions = { serializer: "json", resultTtl: 60 };

/** Asserts that opening fails with a StoreConnectionError saying `message`. */
async function rejectsWith(
  opening: Promise<unknown>,
  message: string,
): Promise<void> {
  await assert.rejects(opening, (error: Error) => {
    assert.ok(error instanceof StoreConnectionError, String(error));
    assert.equal(error.message, message);
    return true;
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("a client opening a sqlite file that does not exist fails, naming the file, and creates nothing", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pq.sqlit`;
  const url = `sqlite:${path}`;
  await rejectsWith(
    openStore(url, { ...OPTIONS, create: false }),
    `Cannot open store '${url}': no such file ${path} (a pq server creates it: start one with --data-store ${url})`,
  );
  assert.equal(await exists(path), false);
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("the missing file of a relative sqlite path is named as resolved, absolute", async () => {
  const relative = `pq_missing_${newTaskId()}/pq.sqlite`;
  const url = `sqlite:${relative}`;
  await rejectsWith(
    openStore(url, { ...OPTIONS, create: false }),
    `Cannot open store '${url}': no such file ${Deno.cwd()}/${relative} (a pq server creates it: start one with --data-store ${url})`,
  );
});

Deno.test("a client opens a sqlite file a server made, and sees its tasks", async () => {
  await using dir = await tempDir();
  const url = `sqlite:${dir.path}/pq.sqlite`;
  const task = standInRecord(
    { id: newTaskId(), name: "addition", queue: "fast" },
    Date.now() / 1000,
  );
  {
    // A server: the default creates the file.
    await using server = await openStore(url, OPTIONS);
    await server.enqueue([task]);
  }
  await using client = await openStore(url, { ...OPTIONS, create: false });
  assert.deepEqual(await client.get(task.id), task);
  assert.deepEqual(await client.queueNames(), ["fast"]);
});

Deno.test("create: false leaves sqlite::memory: as it is", async () => {
  await using store = await openStore("sqlite::memory:", {
    ...OPTIONS,
    create: false,
  });
  assert.deepEqual(await queueSizes(store, ["default"]), [0]);
});

Deno.test("openSettingsStore with create: false names the flag of the missing store", async () => {
  await using dir = await tempDir();
  const data = `sqlite:${dir.path}/data.sqlite`;
  const broker = `sqlite:${dir.path}/broker.sqlite`;
  const settings = { ...defaultSettings(), dataStore: data };
  await rejectsWith(
    openSettingsStore(settings, { create: false }),
    `Cannot open store '${data}': no such file ${dir.path}/data.sqlite (a pq server creates it: start one with --data-store ${data})`,
  );
  // The data store exists (a server made it); the broker does not.
  await (await openSettingsStore(settings)).close();
  await rejectsWith(
    openSettingsStore({ ...settings, messageBroker: broker }, {
      create: false,
    }),
    `Cannot open store '${broker}': no such file ${dir.path}/broker.sqlite (a pq server creates it: start one with --message-broker ${broker})`,
  );
  assert.equal(await exists(`${dir.path}/broker.sqlite`), false);

  // Both exist: the client opens them; the broker holds the queues.
  await (await openStore(broker, OPTIONS)).close();
  await using split = await openSettingsStore(
    { ...settings, messageBroker: broker },
    { create: false },
  );
  await split.enqueue([
    standInRecord(
      { id: newTaskId(), name: "addition", queue: "fast" },
      Date.now() / 1000,
    ),
  ]);
  assert.deepEqual(await split.queueNames(), ["fast"]);
  await using onBroker = await openStore(broker, OPTIONS);
  assert.deepEqual(await onBroker.queueNames(), ["fast"]);
  await using onData = await openStore(data, OPTIONS);
  assert.deepEqual(await onData.queueNames(), []);
});

Deno.test({
  name: "create: false leaves redis URLs as they are",
  async fn() {
    await using redis = await startRedis();
    await using store = await openStore(redis.url("openstore"), {
      ...OPTIONS,
      create: false,
    });
    assert.deepEqual(await store.queueNames(), []);
  },
});

Deno.test("a Redis URL that cannot be read is a setting to change, named by its flag, before any store is opened", async () => {
  await assert.rejects(
    openStore("redis://127.0.0.1:abc", OPTIONS),
    (error: unknown) =>
      error instanceof SettingsError && error.setting === "dataStore" &&
      /'127\.0\.0\.1:abc' is not a host\[:port\]; set --data-store/.test(
        error.message,
      ),
  );
  await using dir = await tempDir();
  const settings = {
    ...defaultSettings(),
    dataStore: `sqlite:${dir.path}/missing.sqlite`,
    messageBroker: "redis://:s3cret@127.0.0.1:6379/x",
  };
  // The broker's URL is read first: the missing data file is not what fails.
  await assert.rejects(
    openSettingsStore(settings, { create: false }),
    (error: unknown) =>
      error instanceof SettingsError &&
      error.setting === "messageBroker" && !error.message.includes("s3cret"),
  );
});
