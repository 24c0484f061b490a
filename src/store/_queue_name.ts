/**
 * The check of a queue name given to pause or resume, shared by the stores
 * and the producer API (`api.queues`), so both refuse it with one message.
 * @module
 */
import { describeValue } from "../model/errors.ts";

/**
 * `queue` when it is a queue name (a non-empty string); else throws a
 * `TypeError` naming the option and the value, as "Cannot pause queue as
 * 'queue' must be a non-empty string: got """.
 */
export function checkQueueName(queue: unknown, action: string): string {
  if (typeof queue === "string" && queue !== "") return queue;
  throw new TypeError(
    `Cannot ${action} as 'queue' must be a non-empty string: got ${
      describeValue(queue)
    }`,
  );
}
