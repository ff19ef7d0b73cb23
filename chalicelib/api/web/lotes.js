// The tenant's lotes: totals per currency, their lines page by page, export and delete.

import { api, isSignedOut } from "./api.js";
import { $, el } from "./dom.js";
import { formatAmount, formatDate, formatDay, formatNumber } from "./format.js";
import { showNotice } from "./notices.js";
import { state } from "./state.js";

const hooks = { onExport: async () => {}, onDeleted: () => {} };

/** What Exportar does (follow.js starts the export) and what follows a deletion. */
export function configureLotes({ onExport, onDeleted }) {
  Object.assign(hooks, { onExport, onDeleted });
}

export async function loadLotes(cursor = null) {
  const query = new URLSearchParams({ limit: "50" });
  if (cursor) query.set("cursor", cursor);
  const page = await api(`api/lotes?${query}`);
  const body = $("lotes-body");
  if (!cursor) body.replaceChildren();
  // Newest first: a page is in lote-id order, the import time is what users look for.
  const lotes = [...page.lotes].sort((a, b) => (b.committedAt ?? "").localeCompare(a.committedAt ?? ""));
  for (const lote of lotes) body.append(loteRow(lote));
  state.lotesCursor = page.nextCursor ?? null;
  $("lotes-more").hidden = !state.lotesCursor;
  const empty = body.children.length === 0;
  $("lotes").hidden = empty;
  $("lotes-empty").hidden = !empty;
}

export function loadMoreLotes() {
  if (state.lotesCursor) loadLotes(state.lotesCursor).catch(() => {});
}

export function clearLotes() {
  $("lotes-body").replaceChildren();
  $("lotes").hidden = true;
  $("lotes-more").hidden = true;
}

function totalsText(totals) {
  const parts = Object.entries(totals ?? {}).map(([currency, amount]) =>
    formatAmount(currency, amount),
  );
  return parts.length ? parts.join(" · ") : "—";
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
  const remove = button("Eliminar", `Eliminar el lote ${lote.loteId}`, "danger small");
  remove.addEventListener("click", () => deleteLote(lote, remove));
  actions.append(remove);
  return el(
    "tr",
    { dataset: { loteId: lote.loteId } },
    el("td", { className: "lote", textContent: lote.loteId }),
    el("td", { textContent: lote.codigoTarjeta }),
    el("td", { textContent: lote.periodo }),
    el("td", { className: "num", textContent: formatNumber(lote.lineCount) }),
    el("td", { className: "num totals", textContent: totalsText(lote.totals) }),
    el("td", { className: "date", textContent: formatDate(lote.committedAt) }),
    el("td", {}, actions),
  );
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

export async function openLines(lote) {
  state.linesLote = lote;
  state.linesCursor = null;
  $("lines-title").textContent = `Lote ${lote.loteId}`;
  $("lines-summary").textContent =
    `${formatNumber(lote.lineCount)} líneas · ${totalsText(lote.totals)}`;
  $("lines-body").replaceChildren();
  $("lines-more").hidden = true;
  const dialog = $("lines-dialog");
  if (!dialog.open) dialog.showModal();
  await loadLines();
}

export async function loadLines() {
  const lote = state.linesLote;
  const query = new URLSearchParams({ limit: "100" });
  if (state.linesCursor) query.set("cursor", state.linesCursor);
  try {
    const page = await api(`api/lotes/${encodeURIComponent(lote.loteId)}?${query}`);
    if (state.linesLote !== lote) return;
    for (const line of page.lines) $("lines-body").append(lineRow(line));
    state.linesCursor = page.nextCursor ?? null;
    $("lines-more").hidden = !state.linesCursor;
  } catch (error) {
    if (!isSignedOut(error)) $("lines-summary").textContent = error.message;
  }
}

function lineRow({ lineNo, record, rulesFired }) {
  const cuota = record.cuota ? `${record.cuota}/${record.cuotasTotal ?? "?"}` : "—";
  return el(
    "tr",
    {},
    el("td", { className: "num", textContent: formatNumber(lineNo) }),
    el("td", { className: "date", textContent: formatDay(record.fechaTransaccion) }),
    el("td", { textContent: record.apellidoNombreUsuario ?? "—" }),
    el("td", { className: "card-number", textContent: record.tarjeta ?? "—" }),
    el("td", { textContent: record.descripcionCupon ?? "—" }),
    el("td", { className: "num", textContent: cuota }),
    el("td", { className: "num", textContent: formatAmount(record.moneda, record.importe) }),
    el("td", { textContent: rulesFired.length ? rulesFired.join(", ") : "—" }),
  );
}

export function closeLines() {
  if ($("lines-dialog").open) $("lines-dialog").close();
  state.linesLote = null;
}
