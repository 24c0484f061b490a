/**
 * Writes what the settings table of src/model/settings_table.ts makes: the
 * table of docs/settings.md and the field docs of src/model/settings_types.ts.
 */
import { docsWithTable, typesWithDocs } from "./_settings_docs.ts";

for (
  const [file, update] of [
    ["../docs/settings.md", docsWithTable],
    ["../src/model/settings_types.ts", typesWithDocs],
  ] as const
) {
  const path = new URL(file, import.meta.url);
  await Deno.writeTextFile(path, update(await Deno.readTextFile(path)));
}
