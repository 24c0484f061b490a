/**
 * Retry delays: seconds, or an exponential backoff (capped, with optional
 * jitter from the upper half), checked where they are set: a job's option
 * and a task's `metaParams`.
 */
import assert from "node:assert/strict";
import { job } from "../mod.ts";
import {
  retryDelayProblem,
  retryDelaySeconds,
} from "../src/model/retry_delay.ts";
import { checkQueueOptions } from "../src/model/queue_options.ts";

Deno.test("a backoff doubles from its base up to its max", () => {
  const backoff = { type: "exponential", base: 1, max: 300 } as const;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 9, 10, 50, 5000].map((n) => retryDelaySeconds(backoff, n)),
    [1, 2, 4, 8, 16, 256, 300, 300, 300],
  );
  assert.equal(retryDelaySeconds(7.5, 3), 7.5);
  // Without a max, one day at most.
  assert.equal(
    retryDelaySeconds({ type: "exponential", base: 2 }, 100),
    86_400,
  );
});

Deno.test("jitter draws each delay from its upper half", () => {
  const backoff = { type: "exponential", base: 1, jitter: true } as const;
  assert.equal(retryDelaySeconds(backoff, 4, () => 0), 4);
  assert.equal(retryDelaySeconds(backoff, 4, () => 0.5), 6);
  for (let i = 0; i < 100; i++) {
    const d = retryDelaySeconds(backoff, 3);
    assert.ok(d >= 2 && d <= 4, `${d} in [2, 4]`);
  }
});

Deno.test("a bad retryDelay is refused, naming the field and the value", () => {
  const bad: [unknown, RegExp][] = [
    [-1, /seconds >= 0.*-1/],
    [NaN, /NaN/],
    ["5", /"5"|'5'/],
    [{ type: "linear", base: 1 }, /'type'.*linear/],
    [{ type: "exponential" }, /'base'/],
    [{ type: "exponential", base: 0 }, /'base'.*0/],
    [{ type: "exponential", base: 2, max: 1 }, /'max'.*>= its base \(2\).*1/],
    [{ type: "exponential", base: 1, jitter: "yes" }, /'jitter'.*yes/],
    [{ type: "exponential", base: 1, factor: 3 }, /unknown key 'factor'/],
  ];
  for (const [value, message] of bad) {
    assert.match(retryDelayProblem(value) ?? "(accepted)", message);
  }
  assert.equal(retryDelayProblem(0), undefined);
  assert.equal(
    retryDelayProblem({
      type: "exponential",
      base: 0.5,
      max: 60,
      jitter: true,
    }),
    undefined,
  );
  assert.throws(
    () =>
      job(
        { name: "x", retryDelay: { type: "exponential", base: -1 } },
        () => 1,
      ),
    /Invalid option 'retryDelay' of job 'x': expected a backoff 'base' in seconds > 0, not -1/,
  );
  assert.throws(
    () =>
      checkQueueOptions({}, {
        metaParams: { retryDelay: { type: "exponential", base: 1, max: 0.5 } },
      }),
    /'metaParams.retryDelay' must be a backoff 'max'.*0.5/,
  );
});
