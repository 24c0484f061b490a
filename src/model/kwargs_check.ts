/**
 * What a task's kwargs and meta may hold: the values both codecs carry
 * unchanged (see `codec.ts`: msgpack carries what a JSON round trip
 * gives). Anything JSON would change or drop, or cannot encode, is found
 * here, at queue time, with its key path and what to send instead, so a
 * job never gets `{}` for a Map or null for NaN.
 *
 * Invariants: one walk of the value, no encoding, no allocation but the
 * ancestor stack on the common path (the message and path are made only
 * for the value refused); shared (not circular) references are allowed, as
 * JSON copies them; an object key whose value is undefined is allowed, as
 * JSON leaves it out and the job reads undefined either way.
 * @module
 */

/**
 * What is wrong with `value` as data a codec carries unchanged, as
 * "`<path>` is ...: send ..." naming the first bad value found, or
 * undefined when every value inside is JSON's (plain objects, arrays,
 * strings, finite numbers, booleans, null).
 *
 * @param value The value to walk (kwargs, or metaParams).
 * @param root Its name at the start of the path (`kwargs`).
 */
export function unsendableProblem(
  value: unknown,
  root: string,
): string | undefined {
  const keys: (string | number)[] = [];
  const problem = walk(value, { root, keys, ancestors: [] });
  if (problem === undefined) return undefined;
  return `${pathOf(root, keys)} ${problem}`;
}

/**
 * Where the walk is: the keys from the root to the value walked, and the
 * objects and arrays that hold it (`ancestors[i]` is at `keys[0, i)`).
 */
interface Walk {
  readonly root: string;
  readonly keys: (string | number)[];
  readonly ancestors: object[];
}

/** The problem of `value` (undefined when none); `keys` ends at the bad one. */
function walk(value: unknown, at: Walk): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : nonFinite(value);
    case "bigint":
      return "is a BigInt, which JSON cannot encode: send a string (String(n)) or, when it fits, a number (Number(n))";
    case "function":
      return "is a function, which JSON drops: send the data it would give";
    case "symbol":
      return "is a symbol, which JSON drops: send a string";
    case "undefined":
      // Only reached in an array (object keys are skipped): JSON gives null.
      return "is undefined in an array, which JSON sends as null: send null";
  }
  if (value === null) return undefined;
  const object = value as object;
  const { keys, ancestors } = at;
  const loop = ancestors.indexOf(object);
  if (loop !== -1) {
    return `refers back to ${
      pathOf(at.root, keys.slice(0, loop))
    } (a circular reference), which JSON cannot encode: send a copy without the cycle`;
  }
  if (Array.isArray(object)) return walkArray(object, at);
  if (!isPlainObject(object)) return instanceProblem(object);
  if (Object.getOwnPropertySymbols(object).length > 0) {
    return "has a symbol key, which JSON drops: use a string key";
  }
  ancestors.push(object);
  const names = Object.keys(object);
  for (let i = 0; i < names.length; i++) {
    const key = names[i];
    const item = (object as Record<string, unknown>)[key];
    if (item === undefined) continue;
    keys.push(key);
    const problem = walk(item, at);
    if (problem !== undefined) return problem;
    keys.pop();
  }
  ancestors.pop();
  return undefined;
}

/** {@linkcode walk} for an array: holes and undefined become null in JSON. */
function walkArray(array: unknown[], at: Walk): string | undefined {
  const { keys, ancestors } = at;
  ancestors.push(array);
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    keys.push(i);
    if (item === undefined && !(i in array)) {
      return "is a hole of a sparse array, which JSON sends as null: send null, or an array without holes";
    }
    const problem = walk(item, at);
    if (problem !== undefined) return problem;
    keys.pop();
  }
  ancestors.pop();
  return undefined;
}

/** True for `{}`, `Object.create(null)`, and a plain object of another realm. */
function isPlainObject(object: object): boolean {
  const proto = Object.getPrototypeOf(object);
  if (proto === Object.prototype || proto === null) return true;
  // Another realm's Object.prototype (a vm context, an iframe).
  return Object.getPrototypeOf(proto) === null &&
    typeof proto.constructor === "function" &&
    proto.constructor.name === "Object";
}

function nonFinite(value: number): string {
  return `is ${value}, which JSON sends as null: send null or a finite number`;
}

/** What is wrong with an object that is not a plain one, and what to send. */
function instanceProblem(object: object): string {
  const type = typeName(object);
  if (object instanceof Date) {
    return "is a Date, which JSON sends as a string: send date.toISOString() (and new Date(text) in the job)";
  }
  if (object instanceof Map) {
    return "is a Map, which JSON sends as {}: send Object.fromEntries(map) (string keys) or [...map] (its entries)";
  }
  if (object instanceof Set) {
    return "is a Set, which JSON sends as {}: send [...set]";
  }
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) {
    return `is a ${type}, which JSON sends as an object of its indexes: send Array.from(bytes) or a base64 string`;
  }
  if (object instanceof RegExp) {
    return "is a RegExp, which JSON sends as {}: send regexp.source (and its flags)";
  }
  if (object instanceof Error) {
    return `is ${
      article(type)
    } ${type}, which JSON sends as {}: send error.message`;
  }
  if (object instanceof Promise) {
    return "is a Promise: await it, and send its value";
  }
  if (
    object instanceof String || object instanceof Number ||
    object instanceof Boolean
  ) {
    return `is a ${type} object: send the primitive (value.valueOf())`;
  }
  if (typeof (object as { toJSON?: unknown }).toJSON === "function") {
    return `is ${
      article(type)
    } ${type}, which JSON sends as its toJSON(): send that (value.toJSON()), or a plain object`;
  }
  return `is ${
    article(type)
  } ${type}, which JSON sends as a plain object without its class: send a plain object ({ ...value }) and make the ${type} in the job`;
}

/** The constructor's name of an object, or "object of another kind". */
function typeName(object: object): string {
  const name = (object as { constructor?: { name?: unknown } }).constructor
    ?.name;
  return typeof name === "string" && name !== "" ? name : "Object";
}

function article(word: string): string {
  return /^[aeio]/i.test(word) ? "an" : "a";
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `kwargs.user.tags[2]`, `kwargs["first name"]`: keys as JS would read them. */
function pathOf(root: string, keys: readonly (string | number)[]): string {
  let path = root;
  for (const key of keys) {
    if (typeof key === "number") path += `[${key}]`;
    else if (IDENTIFIER.test(key)) path += path === "" ? key : `.${key}`;
    else path += `[${JSON.stringify(key)}]`;
  }
  return path;
}
