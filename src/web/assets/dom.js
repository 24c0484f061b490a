/**
 * Building the page: elements from data, tables, the view's content and
 * its notice.
 *
 * Invariants: data goes into the page as text only (text nodes, attribute
 * values, `textContent`), never as markup: nothing here parses HTML.
 * @module
 */

/**
 * What an element is made of: text (a string or number), an element, or
 * lists of them (nested lists: of children too); null, undefined and false
 * are left out.
 *
 * @typedef {string | number | Node | null | undefined | false | readonly unknown[]} Child
 */

/**
 * Appends children to a node, text as text nodes.
 * @param {Node & ParentNode} node
 * @param {readonly Child[]} children
 */
function appendAll(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) appendAll(node, /** @type {Child[]} */ (child));
    else node.append(child instanceof Node ? child : String(child));
  }
}

/**
 * An element with attributes and children. Attributes: `class`, `dataset`
 * (an object), `value`, `on<event>` (a listener), others as text (true:
 * present; null, undefined, false: absent).
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = String(value);
    else if (key.startsWith("on")) {
      node.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    } else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "value") {
      /** @type {HTMLInputElement} */ (node).value = String(value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  appendAll(node, children);
  return node;
}

/**
 * A link to a view of this page.
 * @param {string} hash
 * @param {Child} text
 */
export function link(hash, text) {
  return el("a", { href: hash }, text);
}

/**
 * A table: headers (`#Name`: a number column), rows, and what an empty
 * one says.
 *
 * @param {readonly string[]} headers
 * @param {readonly Child[]} rows
 * @param {string} [empty]
 */
export function table(headers, rows, empty) {
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, headers.map(headerCell))),
    el(
      "tbody",
      {},
      rows.length
        ? [...rows]
        : el("tr", {}, el("td", { colspan: headers.length }, empty ?? "None")),
    ),
  );
}

/**
 * A header cell: `#Name` is a number column, named `Name`.
 * @param {string} header
 */
export function headerCell(header) {
  return el(
    "th",
    { class: header.startsWith("#") ? "num" : "" },
    header.replace("#", ""),
  );
}

/**
 * A list of name and value pairs (null: left out).
 * @param {ReadonlyArray<readonly [string, Child] | null>} pairs
 */
export function fields(pairs) {
  return el(
    "dl",
    { class: "fields" },
    pairs.flatMap((pair) =>
      pair ? [el("dt", {}, pair[0]), el("dd", {}, pair[1])] : []
    ),
  );
}

/** The element the views are drawn in. */
function viewBox() {
  const view = document.getElementById("view");
  if (!view) throw new Error("The page has no #view");
  return view;
}

/**
 * Draws the open view. Drawn again for the same address (a live update),
 * its notice (`#notice`) keeps what it said.
 *
 * @param {...Child} nodes
 */
export function show(...nodes) {
  const view = viewBox();
  const old = view.dataset.hash === location.hash
    ? document.getElementById("notice")
    : null;
  const said = old?.textContent ? [old.className, old.textContent] : null;
  view.replaceChildren();
  appendAll(view, nodes);
  view.dataset.hash = location.hash;
  const notice = document.getElementById("notice");
  if (said && notice) [notice.className, notice.textContent] = said;
}

/**
 * Draws an error in place of the view.
 * @param {unknown} error
 */
export function showError(error) {
  show(el("p", { class: "error" }, messageOf(error)));
}

/**
 * Says something in the view's notice (`#notice`), if it has one.
 * @param {string} text
 * @param {boolean} [bad] An error.
 */
export function notify(text, bad) {
  const notice = document.getElementById("notice");
  if (notice) {
    notice.className = bad ? "error" : "notice";
    notice.textContent = text;
  }
}

/**
 * The message of an error, or the value as text.
 * @param {unknown} error
 */
export function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}
