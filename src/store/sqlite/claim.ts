/**
 * Claiming in the embedded store: the due tasks of the queues, in order
 * (highest priority first, then the oldest due, then FIFO), each started
 * under a new lease unless its job's concurrency limit or rate limit holds
 * it back, in one transaction.
 *
 * Invariants:
 * - Two claims never take the same task: the transaction holds the write
 *   lock, and a started row leaves the claim index.
 * - A job's `maxConcurrency` counts its running tasks with a live lease,
 *   this claim's included.
 * - A rate limit bucket starts at most `tasks` tasks in any `per` seconds;
 *   a task held back by it waits, as a delayed task, for its slot, and the
 *   tasks held back come back in order, one a slot.
 * - A claim that finds nothing due takes no write lock.
 * - Fair queues: a queue whose tasks have groups (`groups.ts`) is claimed
 *   a turn at a time, one task a turn, the turns going round its groups
 *   with due tasks in name order and, before the first, the tasks without
 *   a group; the last turn taken is kept (`group_turns`), so the next claim
 *   goes on after it. A paused group, or one at its `groupConcurrency`
 *   (its running tasks with a live lease), is passed over. A queue without
 *   groups costs one index probe a claim (`groupAny`), and no more.
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { TaskStatus } from "../../model/status.ts";
import type { TaskRecord } from "../../model/task.ts";
import type { Claim, ClaimRequest } from "../store.ts";
import type { StoreContext } from "./context.ts";
import { decodeTask } from "./encoding.ts";
import { byPriority, type Statements, type TaskRow } from "./statements.ts";

/**
 * A claim candidate; its payload is read with it in the first window of a
 * claim, and only for the tasks taken past that.
 */
type Candidate =
  & Pick<
    TaskRow,
    | "rowid"
    | "id"
    | "name"
    | "max_concurrency"
    | "rate_limit"
    | "redeliveries"
    | "status"
  >
  & { payload?: Uint8Array; group_concurrency?: number | null };

/** One claim's state, while its transaction runs. */
interface ClaimBatch {
  request: ClaimRequest;
  now: number;
  leaseUntil: number;
  claims: Claim[];
  /**
   * Running tasks per job name, for the names that have a limit: counted
   * once, then kept up to date with this batch.
   */
  running: Map<string, number>;
  windows: RateWindows;
}

/** Claims up to `request.max` due tasks of `request.queues`, in order. */
export function claimTasks(ctx: StoreContext, request: ClaimRequest): Claim[] {
  if (request.max <= 0) return [];
  const now = ctx.now();
  // A read without the write lock first: most claims of an idle worker
  // find nothing, and must not queue behind busy writers.
  if (
    !request.queues.some((queue) =>
      anyDue(ctx.sql, queue, now) || groupDue(ctx.sql, queue, now)
    )
  ) {
    return [];
  }
  return ctx.transaction(() => claimDue(ctx, request, now));
}

/** True when a task of the queue is due (and the queue not paused). */
function anyDue(sql: Statements, queue: string, now: number): boolean {
  let due = false;
  byPriority(sql, queue, (priority) => {
    due = sql.anyDue.get(queue, now, priority) !== undefined;
    return due;
  });
  return due;
}

/** True when a task of a group of the queue is due (neither paused). */
function groupDue(sql: Statements, queue: string, now: number): boolean {
  const row = sql.groupNextDue.get(queue) as { due: number } | undefined;
  return row !== undefined && row.due <= now;
}

/** The claim, in its transaction. */
function claimDue(
  ctx: StoreContext,
  request: ClaimRequest,
  now: number,
): Claim[] {
  const { sql } = ctx;
  const batch: ClaimBatch = {
    request,
    now,
    leaseUntil: now + request.leaseSeconds,
    claims: [],
    running: new Map(),
    windows: new RateWindows(sql, now),
  };
  for (const queue of request.queues) {
    const wanted = request.max - batch.claims.length;
    if (wanted <= 0) break;
    if (sql.groupAny.get(queue) !== undefined) {
      claimInTurns(ctx, batch, queue);
      continue;
    }
    // The oldest `wanted` due tasks, highest priority first, with their
    // records: each is taken unless its job's limit holds it back.
    const first = candidates(sql, sql.candidates, queue, now, wanted);
    let held = 0;
    for (const row of first) {
      if (batch.claims.length >= request.max) break;
      if (!take(ctx, batch, queue, row, row.payload)) held++;
    }
    if (held === 0 || first.length < wanted) continue;
    // Some were held back: a window past them, the records read only for
    // the tasks taken.
    const seen = new Set(first.map((row) => row.rowid));
    const more = candidates(
      sql,
      sql.moreCandidates,
      queue,
      now,
      wanted * 4 + 100,
    );
    for (const row of more) {
      if (batch.claims.length >= request.max) break;
      if (seen.has(row.rowid)) continue;
      take(ctx, batch, queue, row);
    }
  }
  return batch.claims;
}

/**
 * Claims the due tasks of a queue with groups, a turn at a time (see the
 * module's invariants): '' is the turn of the tasks without a group, read
 * once a claim as one window; a group's turn reads its first due tasks.
 * A round of turns that takes nothing ends it.
 */
function claimInTurns(
  ctx: StoreContext,
  batch: ClaimBatch,
  queue: string,
): void {
  const { sql } = ctx;
  const { request, now } = batch;
  const paused = new Set(
    (sql.pausedGroupsOf.all(queue) as { grp: string }[]).map((row) => row.grp),
  );
  const running = new Map<string, number>();
  const passed = new Set<string>();
  let plain: Candidate[] | undefined;
  let plainAt = 0;
  // The turn after the last one taken; the first claim starts with ''.
  const start = sql.groupTurn.get(queue) as { last: string } | undefined;
  let turn = start?.last;
  while (batch.claims.length < request.max) {
    if (turn === undefined) turn = "";
    else {
      const next = sql.nextGroup.get(queue, turn) as { grp: string | null };
      turn = next.grp ?? "";
    }
    // Every turn since the last task taken took nothing: none left.
    if (passed.has(turn)) break;
    let took = false;
    if (turn === "") {
      plain ??= candidates(
        sql,
        sql.candidates,
        queue,
        now,
        request.max - batch.claims.length,
      );
      while (!took && plainAt < plain.length) {
        const row = plain[plainAt++];
        took = take(ctx, batch, queue, row, row.payload);
      }
    } else if (!paused.has(turn)) {
      took = takeOfGroup(ctx, batch, queue, turn, running);
      // Held back (its limit): passed over until the next claim.
      if (!took) paused.add(turn);
    }
    if (took) passed.clear();
    else passed.add(turn);
  }
  if (turn !== undefined && turn !== start?.last) {
    sql.setGroupTurn.run(queue, turn);
  }
}

/**
 * Takes the first due task of a group that its limits let start: its
 * group's `groupConcurrency`, then its job's limits (`take`).
 */
function takeOfGroup(
  ctx: StoreContext,
  batch: ClaimBatch,
  queue: string,
  group: string,
  running: Map<string, number>,
): boolean {
  const { sql } = ctx;
  const rows = sql.groupCandidates.all(
    queue,
    group,
    batch.now,
    4,
  ) as unknown[] as Candidate[];
  for (const row of rows) {
    const limit = row.group_concurrency ?? null;
    if (limit !== null) {
      let count = running.get(group);
      if (count === undefined) {
        count = (sql.groupRunning.get(queue, group, batch.now) as { n: number })
          .n;
        running.set(group, count);
      }
      if (count >= limit) return false;
    }
    // Its payload is read when it is taken (the others' never).
    if (take(ctx, batch, queue, row)) {
      const count = running.get(group);
      if (count !== undefined) running.set(group, count + 1);
      return true;
    }
  }
  return false;
}

/**
 * Up to `window` due tasks of the queue by `statement`, highest priority
 * first, then the oldest due.
 */
function candidates(
  sql: Statements,
  statement: StatementSync,
  queue: string,
  now: number,
  window: number,
): Candidate[] {
  const rows: Candidate[] = [];
  byPriority(sql, queue, (priority) => {
    const more = statement.all(
      queue,
      now,
      window - rows.length,
      priority,
    ) as unknown[] as Candidate[];
    for (const row of more) rows.push(row);
    return rows.length >= window;
  });
  return rows;
}

/**
 * Starts the task of `row` under a new lease, unless its job's
 * concurrency limit or rate limit holds it back (then false; a task over
 * its rate limit waits, as a delayed task, for its slot).
 */
function take(
  ctx: StoreContext,
  batch: ClaimBatch,
  queue: string,
  row: Candidate,
  payload?: Uint8Array,
): boolean {
  const { sql, codec } = ctx;
  const { request, now, running } = batch;
  if (row.max_concurrency !== null) {
    let count = running.get(row.name);
    if (count === undefined) {
      count = (sql.runningOf.get(row.name, now) as { n: number }).n;
      running.set(row.name, count);
    }
    if (count >= row.max_concurrency) return false;
  }
  if (row.rate_limit !== null) {
    const slot = batch.windows.take(queue, row.rate_limit);
    if (slot !== undefined) {
      sql.park.run(slot, row.rowid);
      return false;
    }
  }
  const count = running.get(row.name);
  if (count !== undefined) running.set(row.name, count + 1);
  payload ??= (sql.payload.get(row.rowid) as { payload: Uint8Array }).payload;
  // The worker's name first: its leases can be found when it dies.
  const token = `${request.worker}\t${crypto.randomUUID()}`;
  const claim: Claim = {
    id: row.id,
    token,
    redeliveries: row.redeliveries,
    name: row.name,
    queue,
  };
  const decoded = decodeTask(codec, payload);
  let stored = payload;
  let status: number = TaskStatus.STARTED;
  if (decoded.ok) {
    const task: TaskRecord = {
      ...decoded.record,
      status: TaskStatus.STARTED,
      timeStarted: now,
      worker: request.worker,
      node: request.node,
    };
    claim.task = task;
    claim.name = task.name;
    stored = codec.encode(task);
    ctx.taskEvent("started", stored);
  } else {
    claim.malformed = decoded.reason;
    status = row.status;
  }
  sql.start.run(token, batch.leaseUntil, status, stored, row.rowid);
  batch.claims.push(claim);
  return true;
}

/**
 * The rate limit windows of one claim: the starts of each bucket in the
 * last `per` seconds, read once a claim. A start is taken while a bucket
 * has fewer than `tasks`; past that, the n-th task held back in the claim
 * is given the time its slot opens: the (n mod tasks)-th oldest start plus
 * `per` (plus `per` for each full round of held tasks), so the tasks held
 * back wait in order and come back one a slot, not all at once.
 */
class RateWindows {
  readonly #buckets = new Map<string, { count: number; held: number }>();
  constructor(
    readonly sql: Statements,
    readonly now: number,
  ) {}

  /**
   * Takes a start (undefined), or says when the task's slot opens.
   *
   * @param column The task's `rate_limit` column: `<tasks>\t<per>\t<bucket>`.
   */
  take(queue: string, column: string): number | undefined {
    const [tasks, per, bucket] = column.split("\t", 3);
    const limit = Number(tasks), window = Number(per);
    const name = `${queue}\n${bucket}`;
    let state = this.#buckets.get(name);
    if (!state) {
      this.sql.rateForget.run(queue, bucket, this.now - window);
      const { n } = this.sql.rateCount.get(queue, bucket) as { n: number };
      state = { count: n, held: 0 };
      this.#buckets.set(name, state);
    }
    if (state.count < limit) {
      state.count++;
      this.sql.rateStart.run(queue, bucket, this.now);
      return undefined;
    }
    const held = state.held++;
    const { at } = this.sql.rateNth.get(queue, bucket, held % limit) as {
      at: number;
    };
    return at + window * (Math.floor(held / limit) + 1);
  }
}
