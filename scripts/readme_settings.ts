/** Writes the settings table of src/settings.ts into README.md. */
import { settingsMarkdownTable } from "../src/settings.ts";

const path = new URL("../README.md", import.meta.url);
const readme = await Deno.readTextFile(path);
const updated = readme.replace(
  /<!-- settings-table -->\n[\s\S]*?<!-- \/settings-table -->/,
  `<!-- settings-table -->\n${settingsMarkdownTable()}\n<!-- /settings-table -->`,
);
await Deno.writeTextFile(path, updated);
