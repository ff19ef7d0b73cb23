// The tenant's lotes: totals per currency, their lines page by page, export and delete.

import { api, isSignedOut } from "./api.js";
import { $, el, filledValues, tableRow } from "./dom.js";
import { formatAmount, formatDate, formatDay, formatNumber, formatTotals } from "./format.js";
import { applyFilter } from "./filters.js";
import { showNotice } from "./notices.js";
import { state } from "./state.js";

const hooks = { onExport: async () => {}, onDeleted: () => {}, onReplace: () => {} };

/** What Exportar does (follow.js starts the export), what follows a deletion, and what
 * Reemplazar does (the import form takes the lote's card and asks for the file). */
export function configureLotes({ onExport, onDeleted, onReplace }) {
  Object.assign(hooks, { onExport, onDeleted, onReplace });
}

export async function loadLotes(cursor = null) {
  const query = new URLSearchParams({ limit: "50", ...lotesFilter() });
  if (cursor) query.set("cursor", cursor);
  const page = await api(`api/lotes?${query}`);
  const body = $("lotes-body");
  if (!cursor) body.replaceChildren();
  for (const lote of page.lotes) body.append(loteRow(lote)); // the API's: newest first
  state.lotesCursor = page.nextCursor ?? null;
  $("lotes-more").hidden = !state.lotesCursor;
  const empty = body.children.length === 0;
  const filtered = Object.keys(lotesFilter()).length > 0;
  $("lotes").hidden = empty;
  $("lotes-empty").hidden = !empty;
  $("lotes-empty").textContent = filtered
    ? "Ningún lote coincide con el filtro."
    : "Todavía no hay lotes importados.";
  $("lotes-filter").hidden = empty && !filtered;
}

/** The Lotes filter as the API reads it: only what the user filled in. */
function lotesFilter() {
  return filledValues([
    ["codigoTarjeta", "lotes-codigo", (value) => value.toUpperCase()],
    ["periodo", "lotes-periodo"],
  ]);
}

/** Filtrar / Limpiar of the Lotes section. */
export function filterLotes(event) {
  return applyFilter(event, "lotes-filter", loadLotes, "No se pudieron filtrar los lotes");
}

export function clearLotesFilter() {
  $("lotes-filter").reset();
  filterLotes();
}

export function loadMoreLotes() {
  if (state.lotesCursor) loadLotes(state.lotesCursor).catch(() => {});
}

export function clearLotes() {
  $("lotes-body").replaceChildren();
  $("lotes").hidden = true;
  $("lotes-more").hidden = true;
}

function button(text, label, className = "secondary small") {
  const node = el("button", { type: "button", className, textContent: text });
  node.setAttribute("aria-label", label);
  return node;
}

function loteRow(lote) {
  const actions = el("div", { className: "row-actions" });
  const lines = button("Ver líneas", `Ver las líneas del lote ${lote.loteId}`);
  lines.addEventListener("click", () => openLines(lote));
  actions.append(lines);
  for (const [format, name] of [["csv", "CSV"], ["xlsx", "Excel"]]) {
    const exporter = button(`Exportar ${name}`, `Exportar el lote ${lote.loteId} a ${name}`);
    exporter.addEventListener("click", () => {
      exporter.disabled = true;
      hooks.onExport(lote.loteId, format).finally(() => (exporter.disabled = false));
    });
    actions.append(exporter);
  }
  if (lote.undoReplaceUntil) {
    const undo = button("Deshacer reemplazo", `Deshacer el último reemplazo del lote ${lote.loteId}`);
    undo.addEventListener("click", () => undoReplace(lote, undo));
    actions.append(undo);
  }
  const replace = button("Reemplazar", `Reemplazar el lote ${lote.loteId} con otro archivo`);
  replace.addEventListener("click", () => hooks.onReplace(lote));
  actions.append(replace);
  const remove = button("Eliminar", `Eliminar el lote ${lote.loteId}`, "danger small");
  remove.addEventListener("click", () => deleteLote(lote, remove));
  actions.append(remove);
  return tableRow(
    $("lotes"),
    { dataset: { loteId: lote.loteId } },
    el("td", { className: "lote", textContent: lote.loteId }),
    el("td", { textContent: lote.codigoTarjeta }),
    el("td", { textContent: lote.periodo }),
    el("td", { className: "num", textContent: formatNumber(lote.lineCount) }),
    el("td", { className: "num totals", textContent: formatTotals(lote.totals) }),
    el("td", { className: "date" }, formatDate(lote.committedAt), importedBy(lote)),
    el("td", { className: "actions" }, actions),
  );
}

/** Which import made the lote: its file and who ran it. */
function importedBy(lote) {
  if (!lote.filename) return null;
  const who = lote.importedBy ? ` (${lote.importedBy})` : "";
  return el("span", { className: "outcome", textContent: `${lote.filename}${who}` });
}

/** Puts back what the lote's last replace made invisible (within the API's window). */
async function undoReplace(lote, control) {
  const question =
    `¿Deshacer el último reemplazo del lote ${lote.loteId}? Volverán las líneas que tenía ` +
    `antes, y se eliminarán las ${formatNumber(lote.lineCount)} del reemplazo.`;
  if (!window.confirm(question)) return;
  control.disabled = true;
  try {
    const path = `api/lotes/${encodeURIComponent(lote.loteId)}/undo-replace`;
    const { message } = await api(path, { method: "POST" });
    showNotice({ title: "Reemplazo deshecho", detail: message, kind: "success" });
    await loadLotes();
  } catch (error) {
    control.disabled = false;
    if (!isSignedOut(error)) {
      showNotice({ title: "No se pudo deshacer", detail: error.message, kind: "error" });
    }
  }
}

async function deleteLote(lote, control) {
  const question =
    `¿Eliminar el lote ${lote.loteId} con sus ${formatNumber(lote.lineCount)} líneas? ` +
    "No se puede deshacer.";
  if (!window.confirm(question)) return;
  control.disabled = true;
  try {
    const { job } = await api(`api/lotes/${encodeURIComponent(lote.loteId)}`, {
      method: "DELETE",
    });
    document.querySelector(`#lotes-body tr[data-lote-id="${CSS.escape(lote.loteId)}"]`)?.remove();
    hooks.onDeleted(job);
  } catch (error) {
    control.disabled = false;
    if (!isSignedOut(error)) {
      showNotice({ title: "No se pudo eliminar", detail: error.message, kind: "error" });
    }
  }
}

// --- a lote's lines ---------------------------------------------------------------------------

// The columns the dialog always shows; a field the import's rules set gets one of its own.
const SHOWN_FIELDS = new Set([
  "fechaTransaccion",
  "apellidoNombreUsuario",
  "tarjeta",
  "descripcionCupon",
  "cuota",
  "cuotasTotal",
  "moneda",
  "importe",
]);
// A search fetches pages until it shows this many more lines, or has asked this often.
const LINES_PER_SEARCH = 100;
const REQUESTS_PER_SEARCH = 10;

export async function openLines(lote) {
  state.linesLote = lote;
  state.ruleFields = [];
  $("lines-title").textContent = `Lote ${lote.loteId}`;
  $("lines-filter").reset();
  const dialog = $("lines-dialog");
  if (!dialog.open) dialog.showModal();
  await searchLines();
}

/** Buscar (or opening the dialog): the lote's lines that match the filter, from the top. */
export async function searchLines(event) {
  event?.preventDefault();
  if (!$("lines-filter").reportValidity()) return;
  state.linesCursor = null;
  state.linesFound = 0;
  state.linesFilter = linesFilter();
  $("lines-body").replaceChildren();
  $("lines-more").hidden = true;
  await loadLines();
}

export function clearLinesFilter() {
  $("lines-filter").reset();
  searchLines();
}

function linesFilter() {
  // Amounts as the user types them (1.234,56 or 1234.56) go as the API reads them.
  return filledValues([
    ["titular", "lines-titular"],
    ["tarjeta", "lines-tarjeta"],
    ["comercio", "lines-comercio"],
    ["regla", "lines-regla"],
    ["importeMin", "lines-importe-min", apiAmount],
    ["importeMax", "lines-importe-max", apiAmount],
  ]);
}

function apiAmount(text) {
  // 1.234,56 is Argentine; 1234.56 is not, 1.234 is (a thousand).
  if (text.includes(",")) return text.replaceAll(".", "").replace(",", ".");
  return /^-?[0-9]+\.[0-9]{1,2}$/.test(text) ? text : text.replaceAll(".", "");
}

/** The next lines of the search: pages until LINES_PER_SEARCH more are shown (a filtered
 * page may hold few lines, or none, of the part of the lote it looked at). */
export async function loadLines() {
  const lote = state.linesLote;
  const filter = state.linesFilter ?? {};
  const filtered = Object.keys(filter).length > 0;
  const button = $("lines-more");
  button.disabled = true;
  let shown = 0;
  try {
    for (let request = 0; request < REQUESTS_PER_SEARCH && shown < LINES_PER_SEARCH; request++) {
      const query = new URLSearchParams({ limit: "100", ...filter });
      if (state.linesCursor) query.set("cursor", state.linesCursor);
      if (filtered) $("lines-summary").textContent = "Buscando…";
      const page = await api(`api/lotes/${encodeURIComponent(lote.loteId)}?${query}`);
      if (state.linesLote !== lote || state.linesFilter !== filter) return;
      if (request === 0 && !state.linesCursor) setRuleColumns(page.ruleFields ?? []);
      for (const line of page.lines) $("lines-body").append(lineRow(line));
      shown += page.lines.length;
      state.linesFound += page.lines.length;
      state.linesCursor = page.nextCursor ?? null;
      $("lines-summary").textContent = summaryText(lote, filtered, page.searchedThrough);
      if (!state.linesCursor) break;
    }
    button.hidden = !state.linesCursor;
    button.textContent = filtered ? "Seguir buscando" : "Ver más líneas";
  } catch (error) {
    if (!isSignedOut(error)) $("lines-summary").textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

function summaryText(lote, filtered, searchedThrough) {
  const whole = `${formatNumber(lote.lineCount)} líneas · ${formatTotals(lote.totals)}`;
  if (!filtered) return whole;
  const found = state.linesFound === 1 ? "1 línea coincide" : `${formatNumber(state.linesFound)} líneas coinciden`;
  const where = state.linesCursor ? ` (buscado hasta la línea ${formatNumber(searchedThrough)})` : "";
  return `${found}${where} · ${whole}`;
}

function setRuleColumns(fields) {
  state.ruleFields = fields.filter((name) => !SHOWN_FIELDS.has(name));
  const head = $("lines-table").tHead.rows[0];
  head.querySelectorAll(".rule-field").forEach((cell) => cell.remove());
  const rules = head.lastElementChild;
  for (const name of state.ruleFields) {
    rules.before(el("th", { scope: "col", className: "rule-field", textContent: name }));
  }
}

function lineRow({ lineNo, record, rulesFired }) {
  const cuota = record.cuota ? `${record.cuota}/${record.cuotasTotal ?? "?"}` : "—";
  const ruleCells = state.ruleFields.map((name) =>
    el("td", { className: "rule-field", textContent: record[name] ?? "—" }),
  );
  return tableRow(
    $("lines-table"),
    {},
    el("td", { className: "num", textContent: formatNumber(lineNo) }),
    el("td", { className: "date", textContent: formatDay(record.fechaTransaccion) }),
    el("td", { textContent: record.apellidoNombreUsuario ?? "—" }),
    el("td", { className: "card-number", textContent: record.tarjeta ?? "—" }),
    el("td", { textContent: record.descripcionCupon ?? "—" }),
    el("td", { className: "num", textContent: cuota }),
    el("td", { className: "num", textContent: formatAmount(record.moneda, record.importe) }),
    ...ruleCells,
    el("td", { textContent: rulesFired.length ? rulesFired.join(", ") : "—" }),
  );
}

export function closeLines() {
  if ($("lines-dialog").open) $("lines-dialog").close();
  state.linesLote = null;
}
