/**
 * Writes what the settings table of src/model/settings_table.ts makes: the README's
 * table and the field docs of src/model/settings_types.ts.
 */
import { readmeWithTable, typesWithDocs } from "./_settings_docs.ts";

for (
  const [file, update] of [
    ["../README.md", readmeWithTable],
    ["../src/model/settings_types.ts", typesWithDocs],
  ] as const
) {
  const path = new URL(file, import.meta.url);
  await Deno.writeTextFile(path, update(await Deno.readTextFile(path)));
}
