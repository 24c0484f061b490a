/**
 * The documents made from the settings table are up to date: the table of
 * docs/settings.md and the field docs of src/model/settings_types.ts.
 */
import assert from "node:assert/strict";
import { typesWithDocs } from "../scripts/_settings_docs.ts";
import { settingsMarkdownTable } from "../src/model/settings_table.ts";

Deno.test("docs/settings.md shows the settings table of src/model/settings_table.ts", async () => {
  const page = await Deno.readTextFile(
    new URL("../docs/settings.md", import.meta.url),
  );
  const table = page.match(
    /<!-- settings-table -->\n([\s\S]*?)\n<!-- \/settings-table -->/,
  );
  assert.ok(table, "docs/settings.md has the settings-table markers");
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
