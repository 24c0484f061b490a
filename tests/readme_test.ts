/** The README's settings table is the one the settings table makes. */
import assert from "node:assert/strict";
import { settingsMarkdownTable } from "../src/settings.ts";

Deno.test("the README shows the settings table of src/settings.ts", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const table = readme.match(
    /<!-- settings-table -->\n([\s\S]*?)\n<!-- \/settings-table -->/,
  );
  assert.ok(table, "the README has the settings-table markers");
  assert.equal(
    table[1].trim(),
    settingsMarkdownTable().trim(),
    "regenerate it: deno task readme",
  );
});
