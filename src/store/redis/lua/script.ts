/**
 * A Lua script read from its file: its header parsed, the prelude that
 * names its KEYS and ARGV prepended, and its calls checked against the
 * header. The scripts themselves are listed in `../script_files.ts`.
 *
 * Invariants:
 * - A script's body reads its keys and arguments by name only: `K.ready`,
 *   `A.now`, `A.leases[n].token`. The prelude made from the header is the
 *   one place where `KEYS[n]` and `ARGV[n]` are read; a body or helper that
 *   has either, or reads a `K.x`/`A.x` that its header does not name, or
 *   leaves an argument of its header unread, is refused when loaded.
 * - A call names its keys and arguments ({@linkcode scriptCall}); they are
 *   ordered from the header, and a name missing from the call or from the
 *   header throws a `TypeError` before anything is sent. A script and the
 *   code that runs it cannot disagree silently.
 *
 * The header is the file's leading `--` lines, in this fixed format:
 *
 * ```lua
 * -- What the script does, in prose (one or more lines).
 * --
 * -- KEYS   @queue
 * --        indexes...   then one key per task, to the end
 * -- ARGV   now          the store's clock
 * --        leases...    then, for each lease:
 * --          id         the task's id
 * --          token      its lease token
 * -- REPLY  what it returns (free text; may go on over indented lines)
 * -- USES   _helpers.lua
 * ```
 *
 * The sections come in that order (USES, the helper files prepended to the
 * script, is optional), one entry a line: a name (a Lua identifier, not a
 * keyword) then what it is; `(none)` for an empty section. `@queue` (first
 * in KEYS) stands for the keys of one queue, named as the loader is told
 * (`QUEUE_KEYS`). A name ending in `...` is a repeated tail, last in its
 * section: with fields indented under it, each repetition is a group of
 * values (`A.leases[n].id`); without, one value (`K.indexes[n]`). A KEYS
 * tail whose one field is `@queue` repeats the keys of a queue
 * (`K.more[n].ready`).
 * @module
 */

/** A value sent to a script (numbers are sent as their decimal text). */
export type ScriptValue = string | number | Uint8Array;

/** A repeated tail as a call gives it: values, or groups of named values. */
export type ScriptTail =
  | readonly ScriptValue[]
  | readonly Readonly<Record<string, ScriptValue>>[];

/** The keys or the arguments of a call, by the names of the header. */
export type ScriptNamed = Readonly<Record<string, ScriptValue | ScriptTail>>;

/** The keys of a call by the names of the header: keys, or lists of them. */
export type ScriptKeys = Readonly<
  Record<
    string,
    string | readonly string[] | readonly Readonly<Record<string, string>>[]
  >
>;

/** The KEYS or the ARGV section of a header. */
export interface ScriptSection {
  /** The single values, in order (`@queue` expanded). */
  readonly names: readonly string[];
  /** The repeated tail, if any: its name, and its fields (none: one value). */
  readonly tail?: { readonly name: string; readonly fields: readonly string[] };
}

/** A script file's header. */
export interface ScriptHeader {
  /** What the script does. */
  readonly summary: string;
  /** Its keys; `queue` when they start with a queue's keys (`@queue`). */
  readonly keys: ScriptSection & { readonly queue: boolean };
  /** Its arguments. */
  readonly argv: ScriptSection;
  /** What it returns. */
  readonly reply: string;
  /** The helper files prepended to it, in order. */
  readonly uses: readonly string[];
}

/** A script ready to send: its file, its header, its full source. */
export interface LuaScript {
  /** Its file name under `src/store/redis/lua/`, e.g. `claim.lua`. */
  readonly file: string;
  /** Its parsed header. */
  readonly header: ScriptHeader;
  /** The prelude, the helpers it uses, then its file: what Redis runs. */
  readonly source: string;
}

/** What scripts are loaded with. */
export interface ScriptContext {
  /** The names of a queue's keys, in KEYS order: what `@queue` stands for. */
  readonly queueKeys: readonly string[];
  /** The helper files a script may use, by file name. */
  readonly helpers: Readonly<Record<string, string>>;
}

const LUA_KEYWORDS = new Set(
  ("and break do else elseif end false for function if in local nil not " +
    "or repeat return then true until while").split(" "),
);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECTIONS = ["KEYS", "ARGV", "REPLY", "USES"] as const;
type SectionName = typeof SECTIONS[number];

/** The leading `--` lines of a file. */
function headerLines(text: string): string[] {
  const lines = text.split("\n");
  let end = 0;
  while (end < lines.length && lines[end].startsWith("--")) end++;
  return lines.slice(0, end);
}

/** Lua code without its `--` comments (none of ours is inside a string). */
function withoutComments(lua: string): string {
  return lua.split("\n").map((line) => line.replace(/--.*$/, "")).join("\n");
}

/**
 * Parses a script file's header; throws a `SyntaxError` naming the file,
 * the line and what is wrong.
 */
export function parseHeader(
  file: string,
  text: string,
  queueKeys: readonly string[] = [],
): ScriptHeader {
  const fail = (line: number, why: string): never => {
    throw new SyntaxError(`Bad header in ${file}, line ${line + 1}: ${why}`);
  };
  const header = headerLines(text);
  const summary: string[] = [];
  // Each section's lines, the text shifted to its entry column.
  const found = new Map<SectionName, Array<{ line: number; text: string }>>();
  let current: SectionName | undefined;
  let column = 0;
  header.forEach((raw, line) => {
    const start = raw.match(/^-- (KEYS|ARGV|REPLY|USES)( +)(\S.*)$/);
    if (start) {
      const name = start[1] as SectionName;
      if (name !== SECTIONS[found.size]) {
        fail(line, `${name} out of place (the order: ${SECTIONS.join(", ")})`);
      }
      current = name;
      column = 3 + name.length + start[2].length;
      found.set(name, [{ line, text: start[3] }]);
      return;
    }
    if (!current) {
      summary.push(raw.replace(/^-- ?/, ""));
      return;
    }
    const indent = raw.match(/^--( *)(\S.*)$/);
    if (!indent) return fail(line, `a blank comment line inside ${current}`);
    const width = 2 + indent[1].length;
    if (width < column) {
      fail(line, `not indented under ${current} (column ${column + 1})`);
    }
    found.get(current)!.push({
      line,
      text: " ".repeat(width - column) + indent[2],
    });
  });
  for (const name of SECTIONS.slice(0, 3)) {
    if (!found.has(name)) fail(header.length, `no ${name} section`);
  }
  const section = (what: "KEYS" | "ARGV") => {
    const names: string[] = [];
    let tail: { name: string; fields: string[] } | undefined;
    let queue = false;
    const seen = new Set<string>();
    const add = (line: number, name: string) => {
      if (!NAME.test(name) || LUA_KEYWORDS.has(name)) {
        fail(line, `'${name}' is not a name (a Lua identifier, no keyword)`);
      }
      if (seen.has(name)) fail(line, `${what} names '${name}' twice`);
      seen.add(name);
    };
    const entries = found.get(what)!;
    entries.forEach(({ line, text }, i) => {
      const word = text.trim().split(/ +/)[0];
      if (text.startsWith(" ")) {
        // A field of the repeated tail above it.
        if (!tail) return fail(line, `'${word}' is indented under no tail`);
        if (word === "@queue" && what === "KEYS" && tail.fields.length === 0) {
          // Each repetition is the keys of one more queue.
          tail.fields.push(...queueKeys);
          return;
        }
        if (!NAME.test(word) || LUA_KEYWORDS.has(word)) {
          fail(line, `'${word}' is not a name (a Lua identifier, no keyword)`);
        }
        if (tail.fields.includes(word)) {
          fail(line, `${tail.name}... names '${word}' twice`);
        }
        tail.fields.push(word);
        return;
      }
      if (tail) fail(line, `'${word}' comes after the repeated tail`);
      if (word === "(none)") {
        if (entries.length > 1) fail(line, "(none) with other entries");
      } else if (word === "@queue") {
        if (what !== "KEYS" || i > 0) fail(line, "@queue only first in KEYS");
        queue = true;
        for (const key of queueKeys) add(line, key);
        names.push(...queueKeys);
      } else if (word.endsWith("...")) {
        add(line, word.slice(0, -3));
        tail = { name: word.slice(0, -3), fields: [] };
      } else {
        add(line, word);
        names.push(word);
      }
    });
    return { names, tail, queue };
  };
  const keys = section("KEYS");
  const { names, tail } = section("ARGV");
  return {
    summary: summary.join("\n").trim(),
    keys,
    argv: { names, tail },
    reply: found.get("REPLY")!.map(({ text }) => text.trim()).join(" "),
    uses:
      found.get("USES")?.flatMap(({ text }) =>
        text.split(",").map((name) => name.trim()).filter(Boolean)
      ) ?? [],
  };
}

/** The names a section gives a script: its values, then its tail. */
function sectionNames(section: ScriptSection): string[] {
  return [...section.names, ...section.tail ? [section.tail.name] : []];
}

/**
 * The Lua lines that name a section's values, `local K = {ready =
 * KEYS[1], ...}`, then read its tail to the end, a group at a time.
 */
function namedTable(
  table: "K" | "A",
  array: "KEYS" | "ARGV",
  section: ScriptSection,
): string[] {
  const fields = section.names.map((name, i) => `${name} = ${array}[${i + 1}]`);
  const lines = [`local ${table} = {${fields.join(", ")}}`];
  const tail = section.tail;
  if (!tail) return lines;
  const list = `${table}.${tail.name}`;
  const entry = tail.fields.length === 0
    ? `${array}[i]`
    : `{${
      tail.fields.map((field, j) =>
        `${field} = ${array}[i${j === 0 ? "" : ` + ${j}`}]`
      ).join(", ")
    }}`;
  lines.push(
    `${list} = {}`,
    `for i = ${section.names.length + 1}, #${array}, ${
      Math.max(1, tail.fields.length)
    } do ${list}[#${list} + 1] = ${entry} end`,
  );
  return lines;
}

/** The names `K.x` or `A.x` that Lua code reads. */
function namesRead(table: "K" | "A", code: string): Set<string> {
  const read = new Set<string>();
  for (const match of code.matchAll(new RegExp(`\\b${table}\\.(\\w+)`, "g"))) {
    read.add(match[1]);
  }
  return read;
}

/**
 * Loads a script file: parses its header, checks that its body (and the
 * helpers it uses) read keys and arguments by the header's names only, and
 * builds the source Redis runs: the prelude, the helpers, the file. Throws
 * a `SyntaxError` naming what is wrong.
 */
export function loadScript(
  file: string,
  text: string,
  context: ScriptContext,
): LuaScript {
  const header = parseHeader(file, text, context.queueKeys);
  const helpers = header.uses.map((helper) => {
    const helperText = context.helpers[helper];
    if (helperText === undefined) {
      throw new SyntaxError(`${file} uses ${helper}, which is not a helper`);
    }
    const needs = parseHeader(helper, helperText, context.queueKeys);
    const lacking = needs.keys.names.filter((key) =>
      !header.keys.names.includes(key)
    );
    if (lacking.length > 0) {
      throw new SyntaxError(
        `${file} uses ${helper}, which reads keys it lacks: ${lacking}`,
      );
    }
    return helperText;
  });
  const lua = [...helpers, text].join("\n");
  const code = withoutComments(lua);
  const positional = code.match(/\b(KEYS|ARGV)\s*\[/);
  if (positional) {
    throw new SyntaxError(
      `${file} reads ${
        positional[1]
      } by position: name it in the header and read K.<name> or A.<name>`,
    );
  }
  for (
    const [table, what, section] of [
      ["K", "KEYS", header.keys],
      ["A", "ARGV", header.argv],
    ] as const
  ) {
    const declared = sectionNames(section);
    const read = namesRead(table, code);
    for (const name of read) {
      if (!declared.includes(name)) {
        throw new SyntaxError(
          `${file} reads ${table}.${name}, but its ${what} has no '${name}'`,
        );
      }
    }
    // Every name of the header is read, but the queue's keys: a script
    // takes them all and uses some.
    const queueKeys = header.keys.queue ? context.queueKeys : [];
    for (const name of declared) {
      if (!read.has(name) && !(table === "K" && queueKeys.includes(name))) {
        throw new SyntaxError(
          `${file} names ${what} '${name}' but never reads ${table}.${name}`,
        );
      }
    }
  }
  const prelude = [
    `-- ${file}: its KEYS and ARGV by name, from its header (lua/script.ts).`,
    ...namedTable("K", "KEYS", header.keys),
    ...namedTable("A", "ARGV", header.argv),
  ];
  return { file, header, source: [...prelude, lua].join("\n") };
}

/** A header section on one line, for messages. */
function describe(section: ScriptSection): string {
  const tail = section.tail;
  const all = [
    ...section.names,
    ...tail
      ? [
        `then ${tail.name}${
          tail.fields.length ? `(${tail.fields.join(", ")})` : ""
        }...`,
      ]
      : [],
  ];
  return all.length ? all.join(", ") : "(none)";
}

/** The values of one section of a call, in the header's order. */
function ordered(
  script: LuaScript,
  what: "KEYS" | "ARGV",
  section: ScriptSection,
  given: ScriptNamed,
): ScriptValue[] {
  const fail = (why: string): never => {
    throw new TypeError(
      `Cannot run ${script.file}: ${why} (its ${what}: ${describe(section)})`,
    );
  };
  const expected = sectionNames(section);
  for (const name of Object.keys(given)) {
    if (!expected.includes(name)) {
      fail(`${what} '${name}' is not in its header`);
    }
  }
  const out: ScriptValue[] = [];
  for (const name of section.names) {
    const value = given[name];
    if (value === undefined) return fail(`${what} '${name}' is missing`);
    if (Array.isArray(value)) {
      fail(`${what} '${name}' is one value, not a list`);
    }
    out.push(value as ScriptValue);
  }
  const tail = section.tail;
  if (!tail) return out;
  const list = given[tail.name];
  if (!Array.isArray(list)) {
    return fail(`${what} '${tail.name}' is missing, or not a list`);
  }
  (list as ScriptTail).forEach((entry, n) => {
    const group = typeof entry === "object" && !(entry instanceof Uint8Array);
    if (tail.fields.length === 0) {
      if (group) fail(`${what} ${tail.name}[${n}] is a group, not one value`);
      out.push(entry as ScriptValue);
      return;
    }
    if (!group) fail(`${what} ${tail.name}[${n}] is not a group of values`);
    const values = entry as Readonly<Record<string, ScriptValue>>;
    for (const name of Object.keys(values)) {
      if (!tail.fields.includes(name)) {
        fail(`${what} ${tail.name}[${n}] has '${name}', not in its header`);
      }
    }
    for (const field of tail.fields) {
      const value = values[field];
      if (value === undefined) {
        fail(`${what} ${tail.name}[${n}] is missing '${field}'`);
      }
      out.push(value);
    }
  });
  return out;
}

/**
 * The KEYS and ARGV of a call of `script`, in the order of its header, from
 * keys and arguments given by name. Throws a `TypeError` when a name of the
 * header is missing, or a given name is not in the header.
 */
export function scriptCall(
  script: LuaScript,
  keys: ScriptKeys,
  args: ScriptNamed,
): { keys: string[]; argv: ScriptValue[] } {
  return {
    keys: ordered(script, "KEYS", script.header.keys, keys) as string[],
    argv: ordered(script, "ARGV", script.header.argv, args),
  };
}
