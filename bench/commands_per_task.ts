/**
 * Redis commands per task over a task's life (queued BATCH at a time, claimed
 * and finished in batches as a worker does, its record dropped after its
 * retention), from `INFO commandstats` (which counts the commands a script
 * runs as well as the EVALSHA itself). Prints one JSON line. Run it at two
 * commits to see what a change costs per task.
 *
 *   deno task bench:commands                  # N=2000, queued one at a time
 *   BATCH=1000 deno task bench:commands       # queued 1000 a call
 */
import { RedisStore } from "../src/store/redis_store.ts";
import { TaskStatus } from "../src/status.ts";
import { newTaskId } from "../src/task.ts";
import { startRedis } from "../tests/_redis.ts";

const N = Number(Deno.env.get("N") ?? 2000);
const BATCH = Number(Deno.env.get("BATCH") ?? 1);
let clock = Date.now() / 1000;
await using redis = await startRedis();
await using store = await RedisStore.open(redis.url(), {
  serializer: "json",
  resultTtl: 60,
  now: () => clock,
});

/** Commands run so far, by name, read with redis-cli. */
async function stats(): Promise<Map<string, number>> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-p", new URL(redis.url()).port, "INFO", "commandstats"],
  }).output();
  const calls = new Map<string, number>();
  for (
    const match of new TextDecoder().decode(out.stdout).matchAll(
      /^cmdstat_(\S+):calls=(\d+)/gm,
    )
  ) calls.set(match[1], Number(match[2]));
  return calls;
}

const before = await stats();
for (let at = 0; at < N; at += BATCH) {
  await store.enqueue(
    Array.from({ length: Math.min(BATCH, N - at) }, (_, k) => ({
      id: newTaskId(),
      name: "noop",
      queue: "bench",
      status: TaskStatus.QUEUED,
      timeQueued: clock,
      delay: 0,
      retry: 1,
      kwargs: { i: at + k },
      meta: {},
      runInfo: {},
    })),
  );
}
for (let done = 0; done < N;) {
  const claims = await store.claim({
    queues: ["bench"],
    max: 100,
    worker: "bench",
    node: "bench",
    leaseSeconds: 30,
  });
  await store.finish(claims.map((claim) => ({
    id: claim.id,
    token: claim.token,
    task: { ...claim.task!, status: TaskStatus.SUCCESS, timeEnded: clock },
  })));
  done += claims.length;
}
clock += 120;
await store.reclaim(3, ["bench"]);
const after = await stats();
const byCommand: Record<string, number> = {};
let total = 0;
for (const [name, calls] of after) {
  const n = calls - (before.get(name) ?? 0) - (name === "info" ? 1 : 0);
  if (n > 0) {
    byCommand[name] = Math.round((n / N) * 100) / 100;
    total += n;
  }
}
console.log(JSON.stringify({
  n: N,
  batch: BATCH,
  commands_per_task: Math.round((total / N) * 100) / 100,
  by_command_per_task: byCommand,
}));
