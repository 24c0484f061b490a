/**
 * The documents made from the settings table of src/model/settings_table.ts,
 * so that each setting's words are written once, in its row: the table of
 * docs/settings.md, and the JSDoc of each field of `Settings` in
 * src/model/settings_types.ts.
 * `deno task readme` writes both; tests/readme_test.ts checks they are
 * up to date.
 * @module
 */
import {
  SETTINGS,
  settingsMarkdownTable,
} from "../src/model/settings_table.ts";

/** A page (docs/settings.md) with the settings table between its markers. */
export function docsWithTable(page: string): string {
  return page.replace(
    /<!-- settings-table -->\n[\s\S]*?<!-- \/settings-table -->/,
    `<!-- settings-table -->\n${settingsMarkdownTable()}\n<!-- /settings-table -->`,
  );
}

/**
 * settings_types.ts with the doc comment of each `Settings` field set to its
 * row's help (wrapped to 80 columns).
 */
export function typesWithDocs(source: string): string {
  let out = source;
  for (const spec of SETTINGS) {
    const field = new RegExp(
      `\\n  /\\*\\*(?:(?!\\*/)[\\s\\S])*\\*/\\n  ${spec.name}: `,
    );
    if (!field.test(out)) {
      throw new Error(`settings_types.ts has no documented field ${spec.name}`);
    }
    out = out.replace(field, `\n${docComment(spec.help)}\n  ${spec.name}: `);
  }
  return out;
}

function docComment(text: string): string {
  const oneLine = `  /** ${text} */`;
  if (oneLine.length <= 80) return oneLine;
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && `   * ${line} ${word}`.length > 80) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return ["  /**", ...lines.map((l) => `   * ${l}`), "   */"].join("\n");
}
