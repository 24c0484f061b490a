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
