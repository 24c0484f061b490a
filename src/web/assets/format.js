/**
 * How the page writes times, durations and values as text.
 * @module
 */

/** Now, in Unix seconds. */
export function now() {
  return Date.now() / 1000;
}

/**
 * A time (Unix seconds) in the browser's locale, or "-".
 * @param {unknown} seconds
 */
export function time(seconds) {
  if (typeof seconds !== "number") return "-";
  return new Date(seconds * 1000).toLocaleString();
}

/**
 * A duration in ms, s, min or h, or "-".
 * @param {unknown} seconds
 */
export function duration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "-";
  if (seconds < 1) return `${(seconds * 1000).toFixed(0)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/**
 * An uptime (or any long span) in whole units, the two largest: `45 s`,
 * `1 m 57 s`, `3 h 2 m`, `2 d 5 h`; "-" for no number.
 * @param {unknown} seconds
 */
export function uptime(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "-";
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} m`;
  if (m) return `${m} m ${s % 60} s`;
  return `${s} s`;
}

/**
 * A count with thousands separators (`12,345`).
 * @param {number} n
 */
export function count(n) {
  return n.toLocaleString("en-US");
}

/**
 * A count and its noun, singular or plural: `1 task`, `12 tasks`.
 * @param {number} n
 * @param {string} noun
 */
export function plural(n, noun) {
  return `${count(n)} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * A value as indented JSON.
 * @param {unknown} value
 */
export function json(value) {
  return JSON.stringify(value, null, 2) ?? "null";
}

/**
 * A `datetime-local` input's value as Unix seconds (text), or undefined.
 * @param {string} value
 */
export function toSeconds(value) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? String(ms / 1000) : undefined;
}

/**
 * Unix seconds (text) as a `datetime-local` input's value, or "".
 * @param {string | undefined} value
 */
export function fromSeconds(value) {
  if (!value) return "";
  const d = new Date(Number(value) * 1000);
  /** @param {number} n */
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${
    pad(d.getHours())
  }:${pad(d.getMinutes())}`;
}
