/**
 * Credentials are never shown: a URL's password (and a `password` or
 * `token` query parameter) is replaced by `***` wherever pq prints, logs or
 * serves a URL.
 * @module
 */

/** The URL with its password masked; a string that is no URL, as it is. */
export function maskUrl(url: string): string {
  if (!url.includes("://")) return url;
  try {
    const parsed = new URL(url);
    let masked = false;
    if (parsed.password) {
      parsed.password = "***";
      masked = true;
    }
    for (const name of ["password", "token"]) {
      if (parsed.searchParams.has(name)) {
        parsed.searchParams.set(name, "***");
        masked = true;
      }
    }
    return masked ? parsed.href.replaceAll("%2A%2A%2A", "***") : url;
  } catch {
    // Not parsable: mask anything between "//" and "@" that has a colon.
    return url.replace(/\/\/([^/@:]*):[^/@]*@/, "//$1:***@");
  }
}
