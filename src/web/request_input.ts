/**
 * The checks of the dashboard's inputs: a path's parameters, a query, a
 * JSON body. Every handler reads its input through these, so a bad one is
 * always a {@linkcode BadRequest} that says what is wrong (400 unless
 * said), never a failure deeper in.
 *
 * Invariants: a body is read up to {@linkcode MAX_BODY_BYTES} and no
 * further (413); a value is checked by a schema before it is used.
 * @module
 */
import { z } from "zod";
import { TASK_ID_PATTERN, TASK_ID_RULE } from "../model/task.ts";

/** The most bytes of an action's body. */
export const MAX_BODY_BYTES = 1 << 20;

/** A task's (or workflow's) id. */
export const TASK_ID = z.string().regex(
  TASK_ID_PATTERN,
  `must be ${TASK_ID_RULE}`,
);
/** A job's or queue's name. */
export const NAME = z.string().min(1).max(500);

/** A refusal of bad input: its HTTP status (400 unless said) and why. */
export class BadRequest extends Error {
  /** @param status The HTTP status (400 unless said). */
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = "BadRequest";
  }
}

/**
 * A value checked with a schema; a {@linkcode BadRequest} naming `what`
 * and what is wrong.
 */
export function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new BadRequest(`Bad ${what}: ${z.prettifyError(parsed.error)}`);
}

/** A JSON body of at most {@linkcode MAX_BODY_BYTES} (an empty one: `{}`). */
export async function readJson(request: Request): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new BadRequest(`Body over ${MAX_BODY_BYTES} bytes`, 413);
    }
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new BadRequest(`The body is not JSON: ${(error as Error).message}`);
  }
}

/** A path segment decoded; a {@linkcode BadRequest} when it is not valid. */
export function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadRequest(`Bad path segment '${segment}'`);
  }
}
