/**
 * What the Redis-side benches share: a node's commands counted from INFO
 * commandstats and watched on MONITOR (sent by clients, or run inside
 * scripts), rates per second, and stopping a process group.
 * @module
 */

/** A process group killed with `signal`; nothing when it is gone. */
export function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

/** The calls of each command in INFO commandstats text. */
export function commandStats(text: string): Map<string, number> {
  return new Map(
    [...text.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map((m) => [
      m[1],
      Number(m[2]),
    ]),
  );
}

/** Every command Redis shows on MONITOR until `stop()`, by source. */
export async function monitor(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode("MONITOR\r\n"));
  const sent = new Map<string, number>();
  const inside = new Map<string, number>();
  const clients = new Set<string>();
  const ready = Promise.withResolvers<void>();
  const reading = (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of conn.readable) {
        rest += decoder.decode(chunk, { stream: true });
        const lines = rest.split("\r\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line === "+OK") ready.resolve();
          const m = line.match(/^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]*)"/);
          if (!m) continue;
          const [, source, name] = m;
          const command = name.toLowerCase();
          const into = source === "lua" ? inside : sent;
          into.set(command, (into.get(command) ?? 0) + 1);
          if (source !== "lua") clients.add(source);
        }
      }
    } catch {
      // Closed by stop().
    }
  })();
  await ready.promise;
  return {
    async stop() {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      await reading;
      return { sent, inside, clients };
    },
  };
}

/** Counts per second, the largest first ("none" when all are 0). */
export function perSecond(
  counts: Map<string, number>,
  seconds: number,
): string {
  const list = [...counts].filter(([, v]) => v !== 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / seconds).toFixed(2)}`);
  return list.length ? list.join(", ") : "none";
}
