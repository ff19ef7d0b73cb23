// Small DOM helpers every module of the page uses.

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

/** The filled-in values of a filter form, by the API's parameter names: `inputs` are
 * [parameter, input id, optional conversion] (an empty input is no filter). */
export function filledValues(inputs) {
  const values = {};
  for (const [name, id, convert = (value) => value] of inputs) {
    const value = $(id).value.trim();
    if (value) values[name] = convert(value);
  }
  return values;
}

/** A row of `table` whose cells carry their column's name (data-label): a narrow screen
 * stacks a row's cells and shows the name beside each value (app.css). */
export function tableRow(table, props, ...cells) {
  const node = el("tr", props, ...cells);
  const names = [...table.tHead.rows[0].cells].map((th) => th.textContent.trim());
  [...node.cells].forEach((cell, i) => cell.setAttribute("data-label", names[i] ?? ""));
  return node;
}

/** The connection banner at the top of the page. */
export function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text;
  banner.hidden = false;
}
