/** The documents made from the settings table are up to date. */
import assert from "node:assert/strict";
import { typesWithDocs } from "../scripts/_settings_docs.ts";
import { settingsMarkdownTable } from "../src/model/settings_table.ts";

Deno.test("the README shows the settings table of src/settings.ts", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const table = readme.match(
    /<!-- settings-table -->\n([\s\S]*?)\n<!-- \/settings-table -->/,
  );
  assert.ok(table, "the README has the settings-table markers");
  assert.deepEqual(
    cells(table[1]),
    cells(settingsMarkdownTable()),
    "regenerate it: deno task readme",
  );
});

/** The cells of a Markdown table, whatever its padding (deno fmt aligns it). */
function cells(table: string): string[][] {
  return table.trim().split("\n").map((line) =>
    line.split("|").slice(1, -1).map((cell) =>
      cell.trim().replace(/^-+$/, "---")
    )
  );
}

Deno.test("the Settings fields are documented by the settings table", async () => {
  const source = await Deno.readTextFile(
    new URL("../src/model/settings_types.ts", import.meta.url),
  );
  assert.equal(
    source,
    typesWithDocs(source),
    "regenerate them: deno task readme",
  );
});
