/**
 * Workflows: task signatures (`sig`) and the plans made of them (`chain`,
 * `group`, `chord`), their checks, and the error of a workflow that failed.
 * A queued plan, and what its members carry, is `workflow_meta.ts`.
 *
 * Invariants:
 * - A plan is checked where it is built, and again where it is queued (it
 *   may be plain data made by hand): a bad one throws a `TypeError` naming
 *   the option and the value, before anything is queued.
 * - A plan is a chain of steps; a step is a signature or a group of at least
 *   one signature; a chord is the chain `[group, callback]`. A top-level
 *   signature or group is a chain of one step.
 * @module
 */
import { checkKnownKeys } from "./_did_you_mean.ts";
import { describeValue, TaskError } from "./errors.ts";
import {
  checkQueueOptions,
  QUEUE_OPTION_KEYS,
  type QueueOptions,
} from "./queue_options.ts";
import { TaskStatus, type TaskStatusCode } from "./status.ts";
import { type Dict, isDict } from "./task.ts";

/**
 * The options of a signature: those of `tasks.queue` but `id`, `dedupe` and
 * `callback` (a member's id comes from its place in the plan, and it is
 * always queued), plus `ignoreFailure`.
 *
 * @example
 * ```ts
 * import { sig, type SignatureOptions } from "@pq/queue";
 * const options: SignatureOptions = { queue: "fast", ignoreFailure: true };
 * const step = sig("addition", { a: 1 }, options);
 * ```
 */
export interface SignatureOptions
  extends Omit<QueueOptions, "id" | "dedupe" | "callback"> {
  /**
   * True: when this member fails (or is revoked), the workflow goes on as
   * if it had succeeded, with its error text as its result.
   */
  ignoreFailure?: boolean;
}

/**
 * A task to be: a job name, its kwargs and its options
 * (see {@linkcode sig}).
 *
 * @example
 * ```ts
 * import { sig, type Signature } from "@pq/queue";
 * const step: Signature = sig("addition", { a: 1, b: 2 });
 * ```
 */
export interface Signature {
  /** What it is. */
  readonly kind: "signature";
  /** The job's name. */
  readonly job: string;
  /** The job's arguments (a member after a step also gets `previous`). */
  readonly kwargs: Dict;
  /** How its task is queued. */
  readonly options: SignatureOptions;
}

/**
 * Signatures run in parallel; the group's result is the list of their
 * results, in member order (see {@linkcode group}).
 *
 * @example
 * ```ts
 * import { group, type Group, sig } from "@pq/queue";
 * const both: Group = group(sig("addition", { a: 1 }), sig("addition", { a: 2 }));
 * ```
 */
export interface Group {
  /** What it is. */
  readonly kind: "group";
  /** The members: at least one. */
  readonly members: readonly Signature[];
}

/**
 * Steps run one after the other, each getting the result of the one before
 * in kwarg `previous` (see {@linkcode chain}).
 *
 * @example
 * ```ts
 * import { chain, type Chain, sig } from "@pq/queue";
 * const plan: Chain = chain(sig("addition", { a: 1 }), sig("addition", { b: 2 }));
 * ```
 */
export interface Chain {
  /** What it is. */
  readonly kind: "chain";
  /** The steps: at least one. */
  readonly steps: readonly (Signature | Group)[];
}

/**
 * A group, then a callback that runs once, after all its members ended, with
 * the list of their results (see {@linkcode chord}).
 *
 * @example
 * ```ts
 * import { chord, type Chord, sig } from "@pq/queue";
 * const plan: Chord = chord([sig("addition", { a: 1 })], sig("sum"));
 * ```
 */
export interface Chord {
  /** What it is. */
  readonly kind: "chord";
  /** The members, run in parallel. */
  readonly group: Group;
  /** Runs once all members ended. */
  readonly callback: Signature;
}

/**
 * Anything `api.workflows.queue` takes: a signature or a group (a chain of
 * one step), a chain or a chord.
 *
 * @example
 * ```ts
 * import { chain, sig, type WorkflowPlan } from "@pq/queue";
 * const plan: WorkflowPlan = chain(sig("addition", { a: 1 }), sig("addition"));
 * ```
 */
export type WorkflowPlan = Signature | Group | Chain | Chord;

/** Every option a signature may have. */
const SIGNATURE_OPTION_KEYS: readonly string[] = [
  ...QUEUE_OPTION_KEYS.filter((key) =>
    key !== "id" && key !== "dedupe" && key !== "callback"
  ),
  "ignoreFailure",
];

/** A plain object: `{...}` or `Object.create(null)`, not a class instance. */
function isPlainObject(value: unknown): value is Dict {
  if (!isDict(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short description of a value that is not the plan part expected. */
function describePart(value: unknown): string {
  if (isDict(value) && typeof value.kind === "string") {
    return `a ${value.kind}`;
  }
  const text = describeValue(value);
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

/**
 * A task signature: the job `job` with `kwargs`, queued with `options` when
 * its turn in the workflow comes. Checked at once: a bad job name, kwargs
 * that are not a plain object, or an unknown or bad option throws a
 * `TypeError` naming it and its value.
 *
 * @param job The job's name.
 * @param kwargs The job's arguments; a member after a step also gets the
 * result of that step in `previous`.
 * @param options How its task is queued (see {@linkcode SignatureOptions}).
 * @returns The signature (plain data).
 *
 * @example
 * ```ts
 * import { sig } from "@pq/queue";
 * const add = sig("addition", { a: 4, b: 6 }, { queue: "fast", timeout: 30 });
 * ```
 */
export function sig(
  job: string,
  kwargs: Dict = {},
  options: SignatureOptions = {},
): Signature {
  return checkSignature({ kind: "signature", job, kwargs, options });
}

/**
 * Checks a signature (made by {@linkcode sig} or by hand) and returns a copy
 * of it; throws a `TypeError` naming what is wrong.
 */
export function checkSignature(value: unknown): Signature {
  if (!isDict(value) || value.kind !== "signature") {
    throw new TypeError(
      `Invalid sig: expected a signature made by sig(), got ${
        describePart(value)
      }`,
    );
  }
  const { job, kwargs, options } = value;
  if (typeof job !== "string" || job.length === 0) {
    throw new TypeError(
      `Invalid sig: 'job' must be a job name (a non-empty string): got ${
        describeValue(job)
      }`,
    );
  }
  const where = `sig(${JSON.stringify(job)})`;
  const fail = (what: string, must: string, got: unknown): never => {
    throw new TypeError(
      `Invalid ${where}: '${what}' must be ${must}: got ${describeValue(got)}`,
    );
  };
  if (!isPlainObject(kwargs)) fail("kwargs", "a plain object", kwargs);
  if (!isPlainObject(options)) fail("options", "a plain object", options);
  const checked = options as SignatureOptions;
  checkKnownKeys(checked, SIGNATURE_OPTION_KEYS, where);
  const { ignoreFailure, ...queueOptions } = checked;
  if (ignoreFailure !== undefined && typeof ignoreFailure !== "boolean") {
    fail("ignoreFailure", "a boolean", ignoreFailure);
  }
  if (queueOptions.queue === false) {
    fail(
      "queue",
      "a queue name or true (a workflow's members are queued)",
      false,
    );
  }
  try {
    checkQueueOptions(kwargs, queueOptions);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    throw new TypeError(
      error.message.replace(/^Cannot queue task as /, `Invalid ${where}: `),
    );
  }
  return Object.freeze({
    kind: "signature",
    job,
    kwargs: { ...kwargs as Dict },
    options: { ...checked },
  });
}

/**
 * Signatures that run in parallel, each as its own task; the group's result
 * is the list of their results, in member order. A group with no member, or
 * a member that is not a signature, throws a `TypeError`.
 *
 * @param members The signatures: at least one.
 * @returns The group (plain data).
 *
 * @example
 * ```ts
 * import { group, PulsarQueue, sig } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * const wf = await api.workflows.queue(
 *   group(sig("addition", { a: 1 }), sig("addition", { a: 2 })),
 * );
 * console.log(await wf.result); // [1, 2]
 * ```
 */
export function group(...members: Signature[]): Group {
  return checkGroup({ kind: "group", members }, "group");
}

/** Checks a group; `what` names it in messages (`group`, `chord`). */
function checkGroup(value: unknown, what: string): Group {
  if (!isDict(value) || value.kind !== "group") {
    throw new TypeError(
      `Invalid ${what}: expected a group, got ${describePart(value)}`,
    );
  }
  const members = value.members;
  if (!Array.isArray(members)) {
    throw new TypeError(
      `Invalid ${what}: 'members' must be a list of signatures: got ${
        describePart(members)
      }`,
    );
  }
  if (members.length === 0) {
    throw new TypeError(
      `Invalid ${what}: expected at least one member, got 0 members`,
    );
  }
  return Object.freeze({
    kind: "group",
    members: Object.freeze(members.map((member, index) => {
      if (!isDict(member) || member.kind !== "signature") {
        throw new TypeError(
          `Invalid ${what}: member ${index} must be a sig(): got ${
            describePart(member)
          }`,
        );
      }
      return checkSignature(member);
    })),
  });
}

/**
 * Steps that run one after the other: each step's members get the result of
 * the step before in kwarg `previous` (`{ ...kwargs, previous }`): a
 * signature's result, or a group's list of results. Chains and chords given
 * as steps are spliced in. No step, or a step that is not a plan, throws a
 * `TypeError`.
 *
 * @param steps Signatures, groups, chains, chords: at least one.
 * @returns The chain (plain data).
 *
 * @example
 * ```ts
 * import { chain, PulsarQueue, sig } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * // The second task gets { b: 5, previous: <the first one's result> }.
 * const wf = await api.workflows.queue(
 *   chain(sig("add", { a: 4, b: 6 }), sig("add", { b: 5 })),
 * );
 * console.log(await wf.result);
 * ```
 */
export function chain(...steps: WorkflowPlan[]): Chain {
  return checkChain({ kind: "chain", steps }, "chain");
}

/** Checks a chain, splicing chains and chords in. */
function checkChain(value: Dict, what: string): Chain {
  const steps = value.steps;
  if (!Array.isArray(steps)) {
    throw new TypeError(
      `Invalid ${what}: 'steps' must be a list: got ${describePart(steps)}`,
    );
  }
  if (steps.length === 0) {
    throw new TypeError(
      `Invalid ${what}: expected at least one step, got 0 steps`,
    );
  }
  const flat: (Signature | Group)[] = [];
  steps.forEach((step, index) => {
    const kind = isDict(step) ? step.kind : undefined;
    if (kind === "signature") flat.push(checkSignature(step));
    else if (kind === "group") flat.push(checkGroup(step, "group"));
    else if (kind === "chain" || kind === "chord") {
      flat.push(...toChain(step as unknown as WorkflowPlan).steps);
    } else {
      throw new TypeError(
        `Invalid ${what}: step ${index} must be a sig, group, chain or chord: got ${
          describePart(step)
        }`,
      );
    }
  });
  return Object.freeze({ kind: "chain", steps: Object.freeze(flat) });
}

/**
 * A group whose callback runs once, after every member ended, with the list
 * of their results in kwarg `previous` (member order). When a member fails
 * (and its signature has no `ignoreFailure`), the callback fails instead,
 * with that member's error. No member, or a callback that is not a
 * signature, throws a `TypeError`.
 *
 * @param header The group, or its signatures.
 * @param callback Runs once, with the list.
 * @returns The chord (plain data): the chain `[header, callback]`.
 *
 * @example
 * ```ts
 * import { chord, PulsarQueue, sig } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * const wf = await api.workflows.queue(
 *   chord([sig("addition", { a: 1 }), sig("addition", { a: 2 })], sig("total")),
 * );
 * console.log(await wf.result); // total's result of { previous: [1, 2] }
 * ```
 */
export function chord(
  header: Group | readonly Signature[],
  callback: Signature,
): Chord {
  return checkChord({ kind: "chord", group: header, callback });
}

function checkChord(value: Dict): Chord {
  const header = Array.isArray(value.group)
    ? { kind: "group", members: value.group }
    : value.group;
  const checked = checkGroup(header, "chord");
  const callback = value.callback;
  if (!isDict(callback) || callback.kind !== "signature") {
    throw new TypeError(
      `Invalid chord: 'callback' must be a sig(): got ${
        describePart(callback)
      }`,
    );
  }
  return Object.freeze({
    kind: "chord",
    group: checked,
    callback: checkSignature(callback),
  });
}

/**
 * Any plan as the chain it is (checked again: it may be data made by hand);
 * throws a `TypeError` naming what is wrong.
 */
export function toChain(plan: WorkflowPlan): Chain {
  const value = plan as unknown;
  const kind = isDict(value) ? value.kind : undefined;
  switch (kind) {
    case "signature":
      return { kind: "chain", steps: [checkSignature(value)] };
    case "group":
      return { kind: "chain", steps: [checkGroup(value, "group")] };
    case "chain":
      return checkChain(value as Dict, "chain");
    case "chord": {
      const chord = checkChord(value as Dict);
      return { kind: "chain", steps: [chord.group, chord.callback] };
    }
    default:
      throw new TypeError(
        `Invalid workflow: expected a sig, group, chain or chord, got ${
          describePart(value)
        }`,
      );
  }
}

/**
 * A workflow did not end well: a member failed (without `ignoreFailure`) or
 * was revoked. `member` names it, and the message says how it ended.
 *
 * @example
 * ```ts
 * import { chain, PulsarQueue, sig, WorkflowError } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * const wf = await api.workflows.queue(chain(sig("fails"), sig("addition")));
 * try {
 *   await wf.result;
 * } catch (error) {
 *   if (error instanceof WorkflowError) console.log(error.member); // `${wf.id}.0`
 * }
 * ```
 */
export class WorkflowError extends TaskError {
  /** The workflow's id. */
  readonly workflow: string;
  /** The id of the member that ended the workflow. */
  readonly member: string;

  /** Makes the error; `status` is how the member ended. */
  constructor(
    message: string,
    details: { workflow: string; member: string; status?: TaskStatusCode },
    options?: ErrorOptions,
  ) {
    super(message, {
      ...options,
      status: details.status ?? TaskStatus.FAILURE,
    });
    this.name = "WorkflowError";
    this.workflow = details.workflow;
    this.member = details.member;
  }
}
