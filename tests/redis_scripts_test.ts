/**
 * The Redis store's Lua scripts as files: every `.lua` file is loaded and
 * its header parses; bodies read keys and arguments by name only; a call
 * whose names differ from the header throws; and every store method's
 * calls match their scripts on a real redis-server.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  loadScript,
  parseHeader,
  scriptCall,
  type ScriptContext,
} from "../src/store/redis/lua/script.ts";
import {
  CLAIM,
  CLAIMED_BY,
  FINISH,
  LUA_FILES,
  RENEW,
  SCRIPTS,
} from "../src/store/redis/script_files.ts";
import { QUEUE_KEYS, queueKeys } from "../src/store/redis/keys.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { checkSchedule } from "../src/model/schedule.ts";
import { TaskStatus } from "../src/model/status.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { startRedis } from "./_redis.ts";

const LUA_DIR = new URL("../src/store/redis/lua/", import.meta.url);

/** A context with a queue of three keys and one helper. */
const CONTEXT: ScriptContext = {
  queueKeys: ["ready", "tasks", "marker"],
  helpers: {
    "_h.lua": "-- Helpers.\n--\n-- KEYS   @queue\n-- ARGV   (none)\n" +
      "-- REPLY  (none)\n\nlocal function wake() redis.call('LPUSH', K.marker, 'r') end\n",
  },
};

/** A script file: a header then a body. */
function lua(header: string[], body: string): string {
  return header.map((line) => line === "" ? "--" : `-- ${line}`).join("\n") +
    "\n\n" + body + "\n";
}

const SAMPLE = lua(
  [
    "Renews leases.",
    "",
    "KEYS   @queue",
    "       indexes...   then one index key per lease",
    "ARGV   until_       when the leases end",
    "       leases...    then, for each lease:",
    "         id         the task's id",
    "         token      its lease token",
    "REPLY  per lease: 1 renewed, 0 lost; goes on",
    "       over two lines",
    "USES   _h.lua",
  ],
  [
    "local out = {}",
    "for n, lease in ipairs(A.leases) do",
    "  if redis.call('HGET', K.tasks, lease.id) == lease.token then",
    "    redis.call('SET', K.indexes[n], A.until_)",
    "    wake()",
    "  end",
    "end",
    "return out",
  ].join("\n"),
);

Deno.test("every .lua file of the store is loaded, as it is on disk", async () => {
  const onDisk: string[] = [];
  for await (const entry of Deno.readDir(LUA_DIR)) {
    if (entry.name.endsWith(".lua")) onDisk.push(entry.name);
  }
  assert.deepEqual(onDisk.sort(), Object.keys(LUA_FILES).sort());
  for (const [file, text] of Object.entries(LUA_FILES)) {
    assert.equal(text, await Deno.readTextFile(new URL(file, LUA_DIR)), file);
  }
  // Every file but the helpers is a script of the store.
  assert.deepEqual(
    SCRIPTS.map((script) => script.file).sort(),
    Object.keys(LUA_FILES).filter((file) => !file.startsWith("_")).sort(),
  );
});

Deno.test("every script's header parses, with its keys, arguments and reply", () => {
  for (const script of SCRIPTS) {
    const header = parseHeader(
      script.file,
      LUA_FILES[script.file],
      QUEUE_KEYS,
    );
    assert.deepEqual(header, script.header);
    assert.ok(header.summary, `${script.file} says what it does`);
    assert.ok(header.reply, `${script.file} says what it returns`);
    assert.ok(header.keys.names.length > 0, `${script.file} names its keys`);
    // A queue's keys come in the order of queueKeys.
    if (header.keys.queue) {
      assert.deepEqual(
        header.keys.names.slice(0, QUEUE_KEYS.length),
        [...QUEUE_KEYS],
      );
    }
  }
});

Deno.test("no script or helper reads KEYS or ARGV by position", () => {
  for (const [file, text] of Object.entries(LUA_FILES)) {
    const code = text.split("\n").filter((line) => !line.startsWith("--"))
      .map((line) => line.replace(/--.*$/, ""));
    for (const line of code) {
      assert.doesNotMatch(line, /\b(KEYS|ARGV)\s*\[/, `${file}: ${line}`);
    }
  }
});

Deno.test("the header parser reads names, tails, fields, reply and helpers", () => {
  const header = parseHeader("sample.lua", SAMPLE, CONTEXT.queueKeys);
  assert.deepEqual(header, {
    summary: "Renews leases.",
    keys: {
      names: ["ready", "tasks", "marker"],
      tail: { name: "indexes", fields: [] },
      queue: true,
    },
    argv: {
      names: ["until_"],
      tail: { name: "leases", fields: ["id", "token"] },
    },
    reply: "per lease: 1 renewed, 0 lost; goes on over two lines",
    uses: ["_h.lua"],
  });
  const none = parseHeader(
    "none.lua",
    lua(["Nothing.", "", "KEYS   lock", "ARGV   (none)", "REPLY  1"], ""),
  );
  assert.deepEqual(none.argv, { names: [], tail: undefined });
});

Deno.test("a malformed header is refused, naming the file, line and why", () => {
  const bad: Array<[string[], RegExp]> = [
    [["ARGV   now", "KEYS   lock", "REPLY  x"], /line 1: ARGV out of place/],
    [["KEYS   lock", "ARGV   now"], /no REPLY section/],
    [["KEYS   lock", "ARGV   end", "REPLY  x"], /'end' is not a name/],
    [["KEYS   lock", "ARGV   now", "         id", "REPLY  x"], /under no tail/],
    [
      ["KEYS   lock", "ARGV   rows...", "       now", "REPLY  x"],
      /'now' comes after the repeated tail/,
    ],
    [["KEYS   lock", "ARGV   now", "       now", "REPLY  x"], /'now' twice/],
    [["KEYS   lock", "ARGV   @queue", "REPLY  x"], /@queue only first/],
    [["KEYS   lock", "ARGV   now", "", "REPLY  x"], /a blank comment line/],
    [["KEYS   lock", "ARGV   now", "REPLY  x", "USES   a", "REPLY  y"], /out/],
  ];
  for (const [lines, message] of bad) {
    assert.throws(
      () => parseHeader("bad.lua", lua(lines, "return 1")),
      (error: Error) =>
        error instanceof SyntaxError &&
        error.message.startsWith("Bad header in bad.lua, line ") &&
        message.test(error.message),
      lines.join(" / "),
    );
  }
});

Deno.test("a script loads with the prelude that names its keys and arguments", () => {
  const script = loadScript("sample.lua", SAMPLE, CONTEXT);
  const lines = script.source.split("\n");
  assert.deepEqual(lines.slice(1, 7), [
    "local K = {ready = KEYS[1], tasks = KEYS[2], marker = KEYS[3]}",
    "K.indexes = {}",
    "for i = 4, #KEYS, 1 do K.indexes[#K.indexes + 1] = KEYS[i] end",
    "local A = {until_ = ARGV[1]}",
    "A.leases = {}",
    "for i = 2, #ARGV, 2 do A.leases[#A.leases + 1] = {id = ARGV[i], token = ARGV[i + 1]} end",
  ]);
  // Then the helpers it uses, then its own file.
  assert.ok(
    script.source.endsWith(
      `${CONTEXT.helpers["_h.lua"]}\n${SAMPLE}`,
    ),
  );
});

Deno.test("a script whose body and header disagree is refused", () => {
  const header = [
    "Sample.",
    "",
    "KEYS   @queue",
    "ARGV   now          the clock",
    "REPLY  1",
  ];
  const refused: Array<[string, RegExp]> = [
    ["return ARGV[1]", /reads ARGV by position/],
    ["return redis.call('GET', KEYS[2]) or A.now", /reads KEYS by position/],
    ["return A.now .. A.later", /reads A\.later, but its ARGV has no 'later'/],
    ["return K.queue .. A.now", /reads K\.queue, but its KEYS has no 'queue'/],
    ["return 1", /names ARGV 'now' but never reads A\.now/],
  ];
  for (const [body, message] of refused) {
    assert.throws(
      () => loadScript("bad.lua", lua(header, body), CONTEXT),
      (error: Error) =>
        error instanceof SyntaxError && message.test(error.message),
      body,
    );
  }
  assert.throws(
    () =>
      loadScript(
        "bad.lua",
        lua([...header, "USES   _missing.lua"], "return A.now"),
        CONTEXT,
      ),
    /uses _missing\.lua, which is not a helper/,
  );
  assert.throws(
    () =>
      loadScript(
        "bad.lua",
        lua([
          "S.",
          "",
          "KEYS   lock",
          "ARGV   (none)",
          "REPLY  1",
          "USES   _h.lua",
        ], "return K.lock"),
        CONTEXT,
      ),
    /which reads keys it lacks: ready,tasks,marker/,
  );
});

Deno.test("a call's named keys and arguments are sent in the header's order", () => {
  const keys = queueKeys("pq", "jobs");
  const call = scriptCall(FINISH, keys, {
    outcomes: [{
      retryName: "",
      token: "t",
      id: "a",
      record: "R",
      status: "SUCCESS",
      retryId: "",
      retryDue: "",
      retryQueued: "",
      retryRecord: "",
      retryLimit: "",
    }],
    onlyExpired: "0",
    expires: 900,
    channel: "pq:task",
    now: 100,
  });
  assert.deepEqual(call.keys, QUEUE_KEYS.map((name) => `pq:{jobs}:${name}`));
  assert.deepEqual(call.argv, [
    100,
    "pq:task",
    900,
    "0",
    "a",
    "t",
    "R",
    "SUCCESS",
    "",
    "",
    "",
    "",
    "",
    "",
  ]);
});

Deno.test("a call that names an argument the header lacks, or misses one, throws", () => {
  const keys = queueKeys("pq", "jobs");
  const claim = {
    now: 1,
    max: 2,
    leaseEnd: 31,
    prefix: "x",
    startInfo: "[]",
    scanExtra: 100,
    namespace: "",
    waiter: "",
    inbox: "0",
    waitUntil: 0,
    waiterInfo: "[]",
    queues: [{ name: "jobs" }, { name: "more" }],
  };
  const more = queueKeys("pq", "more");
  const call = scriptCall(CLAIM, { ...keys, more: [more] }, claim);
  assert.deepEqual(call.argv, [
    1,
    2,
    31,
    "x",
    "[]",
    100,
    "",
    "",
    "0",
    0,
    "[]",
    "jobs",
    "more",
  ]);
  assert.deepEqual(call.keys, [
    ...Object.values(keys),
    ...QUEUE_KEYS.map((name) => more[name]),
  ]);
  const { scanExtra: _, ...withoutScan } = claim;
  const argv =
    "its ARGV: now, max, leaseEnd, prefix, startInfo, scanExtra, namespace, waiter, inbox, waitUntil, waiterInfo, then queues(name)...";
  const mismatched: Array<[() => unknown, string]> = [
    [
      () => scriptCall(CLAIM, { ...keys, more: [] }, withoutScan),
      `Cannot run claim.lua: ARGV 'scanExtra' is missing (${argv})`,
    ],
    [
      () =>
        scriptCall(CLAIM, { ...keys, more: [] }, {
          ...claim,
          leaseSeconds: 30,
        }),
      `Cannot run claim.lua: ARGV 'leaseSeconds' is not in its header (${argv})`,
    ],
    [
      () => scriptCall(CLAIM, { ...keys, more: [], indexes: [] }, claim),
      "Cannot run claim.lua: KEYS 'indexes' is not in its header",
    ],
    [
      () => {
        const { marker: _, ...rest } = keys;
        return scriptCall(CLAIM, { ...rest, more: [] }, claim);
      },
      "Cannot run claim.lua: KEYS 'marker' is missing",
    ],
    [
      () => {
        const { marker: _, ...rest } = more;
        return scriptCall(CLAIM, { ...keys, more: [rest] }, claim);
      },
      "Cannot run claim.lua: KEYS more[0] is missing 'marker'",
    ],
    [
      () => scriptCall(RENEW, keys, { leaseEnd: 1, leases: [{ id: "a" }] }),
      "Cannot run renew.lua: ARGV leases[0] is missing 'token'",
    ],
    [
      () =>
        scriptCall(RENEW, keys, {
          leaseEnd: 1,
          leases: [{ id: "a", token: "t", queue: "q" }],
        }),
      "Cannot run renew.lua: ARGV leases[0] has 'queue', not in its header",
    ],
    [
      () => scriptCall(RENEW, keys, { leaseEnd: 1, leases: ["a", "t"] }),
      "Cannot run renew.lua: ARGV leases[0] is not a group of values",
    ],
    [
      () => scriptCall(RENEW, keys, { leaseEnd: 1 }),
      "Cannot run renew.lua: ARGV 'leases' is missing, or not a list",
    ],
  ];
  for (const [call, message] of mismatched) {
    assert.throws(
      call,
      (error: Error) =>
        error instanceof TypeError && error.message.startsWith(message),
      message,
    );
  }
});

/** The SHA1 of a script's source, as Redis names it. */
async function sha1(source: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(source),
  );
  return Buffer.from(digest).toString("hex");
}

Deno.test("every store method calls its script with the names of its header", async () => {
  await using redis = await startRedis();
  let t = 1_700_000_000.5;
  await using store = await RedisStore.open(redis.url("scripts"), {
    serializer: "json",
    resultTtl: 3600,
    now: () => t,
  });
  const task = (overrides: Partial<TaskRecord> = {}): TaskRecord => ({
    id: newTaskId(),
    name: "addition",
    queue: "default",
    status: TaskStatus.QUEUED,
    timeQueued: t,
    delay: 0,
    retry: 1,
    kwargs: {},
    meta: {},
    runInfo: {},
    ...overrides,
  });
  const request = {
    queues: ["default"],
    max: 10,
    worker: "worker-1",
    node: "host-1",
    leaseSeconds: 30,
  };
  // Each call throws a TypeError if it names its keys or arguments unlike
  // its script's header; the server then never sees the script.
  const [a, b, c] = [task(), task({ meta: { maxConcurrency: 1 } }), task()];
  await store.enqueue([a, b, c, task({ delay: 60 })]);
  const claims = await store.claim(request);
  assert.equal(claims.length, 3);
  assert.deepEqual(await store.renew(claims, 30), { lost: [], revoked: [] });
  const [first, second, third] = claims;
  const retry = task({ status: TaskStatus.RETRY, delay: 5 });
  assert.deepEqual(
    await store.finish([{
      ...first,
      task: { ...first.task!, status: TaskStatus.FAILURE, result: "x" },
      retry,
    }]),
    [true],
  );
  assert.equal(
    await store.setProgress(second, { value: 0.5, time: t }),
    true,
  );
  await store.release([second]);
  assert.equal(await store.revoke(third.id), "requested");
  assert.deepEqual(
    (await store.claim({ ...request, max: 1 })).map((claim) => claim.id),
    [second.id],
  );
  // Both leases expire: the revoked task ends REVOKED, the other runs again.
  t += 60;
  const report = await store.reclaim(3, ["default"]);
  assert.equal(report.redelivered, 1);
  assert.deepEqual(report.changed.sort(), [second.id, third.id].sort());
  assert.equal((await store.get(third.id))?.status, TaskStatus.REVOKED);
  const queued = task({ delay: 600 });
  await store.enqueue([queued]);
  assert.equal(await store.revoke(queued.id), "revoked");
  assert.equal(await store.expireLeases("worker-1", ["default"]), 0);
  assert.ok(await store.flush(["default"]) > 0);
  assert.deepEqual(
    await store.beat({
      worker: "worker-1",
      node: "host-1",
      pid: 1,
      queues: ["default"],
      maxConcurrentTasks: 1,
      concurrentTasks: [],
      processed: 0,
      cores: 1,
      time: t,
      until: t + 10,
      jobs: [],
    }),
    { dead: [], known: false },
  );
  assert.equal(await store.acquireLock("l", "me", 10), true);
  assert.equal(await store.releaseLock("l", "me"), true);
  assert.deepEqual(
    await store.enqueueUnique(task({ id: "mine" }), { key: "k", ttl: 60 }),
    { queued: true },
  );
  assert.equal(await store.pauseQueue("default"), true);
  assert.deepEqual(await store.pausedQueues(), ["default"]);
  assert.equal(await store.resumeQueue("default"), true);
  // A queue emptied, registered long ago, leaves the registry.
  await store.enqueue([task({ queue: "gone" })]);
  assert.equal(await store.flush(["gone"]), 1);
  t += 3600;
  assert.ok(!(await store.queueNames()).includes("gone"));
  const settled = task({ status: TaskStatus.REVOKED, result: "never ran" });
  assert.equal(await store.settle(settled), true);
  assert.equal(await store.settle(settled), false);
  assert.equal(await store.joinGroup("g", 1, 2, "b"), undefined);
  assert.deepEqual(await store.joinGroup("g", 0, 2, "a"), ["a", "b"]);
  // Revoked: the one reclaimed, the queued one, the settled one.
  const stats = await store.jobStats({ jobs: ["addition"] });
  assert.equal(stats.get("addition")?.counts.REVOKED, 3);
  // The history counted each end: the failure and the three revoked.
  assert.deepEqual((await store.statusHistory({ minutes: 1 })).totals, {
    FAILURE: 1,
    REVOKED: 3,
  });
  assert.equal(await store.deleteTasks([settled.id, queued.id]), 2);
  const schedule = checkSchedule({ id: "s", job: "addition", every: 60 });
  assert.equal(await store.upsertSchedule(schedule), true);
  assert.equal(await store.setSchedulePaused("s", true), true);
  assert.equal(await store.setSchedulePaused("s", false), true);
  assert.equal(
    await store.takeScheduleRun("s", t, { version: 3, runs: 0 }),
    true,
  );
  assert.equal(await store.removeSchedule("s"), true);
  // Every script ran: the server has each one, as the store sent it (but
  // claimed_by.lua, run after a claim whose reply was lost: see
  // tests/redis_resilience_test.ts).
  const ran = SCRIPTS.filter((script) => script !== CLAIMED_BY);
  const shas = await Promise.all(ran.map((script) => sha1(script.source)));
  const loaded = await redis.cli("SCRIPT", "EXISTS", ...shas);
  assert.deepEqual(
    loaded.split("\n").map(Number),
    ran.map(() => 1),
    ran.map((script, i) => `${script.file}: ${loaded.split("\n")[i]}`)
      .join(", "),
  );
});

Deno.test("the scripts that end tasks count them in their queue's history hash: totals, and the minute's slot of a ring of 1440", async () => {
  await using redis = await startRedis();
  let t = 1_700_000_000.5;
  await using store = await RedisStore.open(redis.url("history"), {
    serializer: "json",
    resultTtl: 3600,
    now: () => t,
  });
  const task = (overrides: Partial<TaskRecord> = {}): TaskRecord => ({
    id: newTaskId(),
    name: "addition",
    queue: "default",
    status: TaskStatus.QUEUED,
    timeQueued: t,
    delay: 0,
    retry: 1,
    kwargs: {},
    meta: {},
    runInfo: {},
    ...overrides,
  });
  const history = queueKeys("history", "default").history;
  const fields = async () =>
    Object.fromEntries(
      (await redis.cli("HGETALL", history)).split("\n").flatMap((
        line,
        i,
        all,
      ) => i % 2 ? [] : [[line, all[i + 1]]]),
    );
  const queued = task({ delay: 600 });
  await store.enqueue([task(), task(), task(), queued]);
  const claims = await store.claim({
    queues: ["default"],
    max: 10,
    worker: "w",
    node: "n",
    leaseSeconds: 30,
  });
  await store.finish(claims.map((claim, i) => ({
    ...claim,
    task: {
      ...claim.task!,
      status: i < 2 ? TaskStatus.SUCCESS : TaskStatus.FAILURE,
    },
  })));
  assert.equal(await store.revoke(queued.id), "revoked");
  const minute = Math.floor(t / 60) * 60;
  const slot = (minute / 60) % 1440;
  // A new slot is written whole: its stamp and a count for every status.
  assert.deepEqual(await fields(), {
    [`m:${slot}`]: String(minute),
    [`${slot}:SUCCESS`]: "2",
    [`${slot}:FAILURE`]: "1",
    [`${slot}:REVOKED`]: "1",
    [`${slot}:RETRY`]: "0",
    "all:SUCCESS": "2",
    "all:FAILURE": "1",
    "all:REVOKED": "1",
  });
  // A day later the slot is the current minute's again: it starts over;
  // the totals go on.
  t += 24 * 3600;
  const late = task({ delay: 600 });
  await store.enqueue([late]);
  assert.equal(await store.revoke(late.id), "revoked");
  assert.deepEqual(await fields(), {
    [`m:${slot}`]: String(minute + 24 * 3600),
    [`${slot}:SUCCESS`]: "0",
    [`${slot}:FAILURE`]: "0",
    [`${slot}:REVOKED`]: "1",
    [`${slot}:RETRY`]: "0",
    "all:SUCCESS": "2",
    "all:FAILURE": "1",
    "all:REVOKED": "2",
  });
  // The registry forgets the queue once it holds nothing; `counted` keeps
  // it, and the history with it.
  // The first tasks are past their retention (dropped by reclaim), the
  // last one deleted.
  await store.reclaim(3);
  assert.equal(
    await store.deleteTasks([
      ...claims.map((claim) => claim.id),
      queued.id,
      late.id,
    ]),
    1,
  );
  t += 3600;
  await store.queueNames();
  assert.equal(await redis.cli("ZSCORE", "history:queues", "default"), "");
  assert.equal(await redis.cli("SISMEMBER", "history:counted", "default"), "1");
  assert.deepEqual((await store.statusHistory()).totals, {
    SUCCESS: 2,
    FAILURE: 1,
    REVOKED: 2,
  });
});
