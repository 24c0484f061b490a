/**
 * Event callbacks by channel and event glob, as pulsar's channels. The hub
 * holds callbacks untyped: `Producer.onEvents` types them per channel.
 * @module
 */
import type { ChannelMessage } from "../model/events.ts";

/** A callback as the hub holds it. */
export type HubCallback = (
  channel: string,
  event: string,
  data: unknown,
) => void;

/**
 * A glob over event names as an anchored regular expression: `*` any run,
 * `?` one character, `[...]` a set; everything else literal.
 */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (char === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end === -1) source += "\\[";
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, "^").replaceAll(
          "\\",
          "\\\\",
        );
        source += `[${body}]`;
        i = end;
      }
    } else source += char.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

interface Registration {
  pattern: string;
  regexp: RegExp;
  callbacks: Set<HubCallback>;
}

/**
 * Callbacks per channel and event pattern. A message on channel `task` also
 * matches the task's id as an event name, so one can follow one task.
 */
export class EventHub {
  readonly #channels = new Map<string, Map<string, Registration>>();
  readonly #onError: (error: unknown, channel: string, event: string) => void;

  /** `onError` hears of callbacks that throw (they are then removed). */
  constructor(
    onError: (error: unknown, channel: string, event: string) => void,
  ) {
    this.#onError = onError;
  }

  /** Adds a callback; resolves true when it is the channel's first. */
  add(channel: string, pattern: string, callback: HubCallback): boolean {
    const key = channel.toLowerCase();
    let patterns = this.#channels.get(key);
    const first = !patterns;
    if (!patterns) this.#channels.set(key, patterns = new Map());
    let registration = patterns.get(pattern);
    if (!registration) {
      registration = {
        pattern,
        regexp: globToRegExp(pattern),
        callbacks: new Set(),
      };
      patterns.set(pattern, registration);
    }
    registration.callbacks.add(callback);
    return first;
  }

  /** Removes a callback (no error when absent); true when the channel has none left. */
  remove(channel: string, pattern: string, callback: HubCallback): boolean {
    const key = channel.toLowerCase();
    const patterns = this.#channels.get(key);
    if (!patterns) return false;
    const registration = patterns.get(pattern);
    registration?.callbacks.delete(callback);
    if (registration && registration.callbacks.size === 0) {
      patterns.delete(pattern);
    }
    if (patterns.size > 0) return false;
    this.#channels.delete(key);
    return true;
  }

  /** True when the channel has callbacks. */
  has(channel: string): boolean {
    return this.#channels.has(channel.toLowerCase());
  }

  /** Calls every callback whose pattern matches the event (or the task id). */
  dispatch(message: ChannelMessage, data: unknown, id?: string): void {
    const patterns = this.#channels.get(message.channel.toLowerCase());
    if (!patterns) return;
    for (const registration of [...patterns.values()]) {
      const event = registration.regexp.test(message.event)
        ? message.event
        : id !== undefined && registration.regexp.test(id)
        ? id
        : undefined;
      if (event === undefined) continue;
      for (const callback of [...registration.callbacks]) {
        try {
          callback(message.channel, event, data);
        } catch (error) {
          // As pulsar: a raising callback is removed, and the error logged.
          this.remove(message.channel, registration.pattern, callback);
          this.#onError(error, message.channel, event);
        }
      }
    }
  }
}
