/**
 * The multi-node harness of tests/_redis_cluster.ts does what the failover
 * tests count on: a 6-node cluster starts with 3 primaries, queues can be
 * spread over them, and a SIGKILLed primary is replaced by its replica; a
 * Sentinel set replaces its SIGKILLed primary by its replica.
 * @module
 */
import assert from "node:assert/strict";
import { startRedisCluster, startRedisSentinel } from "./_redis_cluster.ts";

/** The first line of ROLE: "master" or "slave". */
async function role(cli: (...args: string[]) => Promise<string>) {
  return (await cli("ROLE")).split("\n")[0];
}

Deno.test("cluster harness: 6 nodes, queues on 3 primaries, a killed primary's replica takes over", async () => {
  await using cluster = await startRedisCluster();
  const ports = cluster.nodes.map((node) => node.port);
  assert.equal(new Set(ports).size, 6);
  assert.equal(
    cluster.url("ns"),
    `redis://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${
      ports[2]
    }/0?namespace=ns`,
  );
  const primaries = await cluster.primaries();
  assert.deepEqual([...primaries].sort(), ports.slice(0, 3).sort());
  for (const port of ports) {
    assert.equal(
      await role((...args) => cluster.cli(port, ...args)),
      primaries.includes(port) ? "master" : "slave",
    );
  }

  const queues = await cluster.queuesOnDistinctPrimaries(3);
  assert.equal(queues.length, 3);
  const slots = await Promise.all(queues.map((q) => cluster.keySlot(`{${q}}`)));
  const owners = await Promise.all(slots.map((s) => cluster.primaryOf(s)));
  assert.deepEqual([...owners].sort(), [...primaries].sort());

  const victim = owners[0];
  cluster.signal(victim, "SIGKILL");
  const promoted = await cluster.waitForFailover(victim);
  assert.notEqual(promoted, victim);
  assert.ok(!primaries.includes(promoted), "a replica was promoted");
  assert.equal(
    await role((...args) => cluster.cli(promoted, ...args)),
    "master",
  );
  assert.equal(await cluster.primaryOf(slots[0]), promoted);
  assert.deepEqual(
    (await cluster.primaries()).sort(),
    [promoted, owners[1], owners[2]].sort(),
  );
  // The killed node stays down.
  assert.equal(await cluster.cli(victim, "PING"), "");
});

Deno.test("sentinel harness: a killed primary's replica takes over", async () => {
  await using sentinel = await startRedisSentinel();
  const [s1, s2, s3] = sentinel.sentinelPorts;
  assert.equal(
    sentinel.url("ns"),
    `redis+sentinel://127.0.0.1:${s1},127.0.0.1:${s2},127.0.0.1:${s3}/${sentinel.masterName}?namespace=ns`,
  );
  assert.match(sentinel.masterName, /^pqmaster-[0-9a-f]{8}$/);
  assert.equal(await sentinel.currentPrimary(), sentinel.primaryPort);
  // Kept apart: only its own sentinels can make its servers replicas.
  assert.match(
    await sentinel.cli(sentinel.primaryPort, "SLAVEOF", "NO", "ONE"),
    /unknown command/,
  );
  assert.notEqual(sentinel.replicaPort, sentinel.primaryPort);
  assert.equal(
    await role((...args) => sentinel.cli(sentinel.replicaPort, ...args)),
    "slave",
  );

  sentinel.signal(sentinel.primaryPort, "SIGKILL");
  const promoted = await sentinel.waitForFailover(sentinel.primaryPort);
  assert.equal(promoted, sentinel.replicaPort);
  assert.equal(
    await role((...args) => sentinel.cli(promoted, ...args)),
    "master",
  );
  assert.equal(await sentinel.currentPrimary(), promoted);
});
