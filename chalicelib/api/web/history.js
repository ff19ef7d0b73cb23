// The history (the user's jobs, newest first, with Ver errores and Reintentar) and the dialog
// with a job's error report.

import { api, isSignedOut } from "./api.js";
import { $, el, filledValues, tableRow } from "./dom.js";
import { formatDate, formatNumber, formatTotals } from "./format.js";
import {
  confirmReplace,
  isDuplicate,
  isWaitingForItsTime,
  durationText,
  formatName,
  hasErrorReport,
  isDownloadable,
  isExportable,
  isReplaceable,
  isRetryable,
  jobTitle,
  messageText,
  statusLabel,
} from "./jobs.js";
import { applyFilter } from "./filters.js";
import { showNotice } from "./notices.js";
import { state } from "./state.js";

const MAX_KEPT_ERRORS = 1000; // the API keeps the first 1,000 line errors of a job

const hooks = {
  onRetry: async () => {},
  onExport: async () => {},
  onExportErrors: async () => {},
  onDownload: async () => {},
};

/** What Reintentar, Exportar and Descargar do: follow.js starts the job and follows it, or
 * fetches the file (app.js wires them). */
export function configureHistory({ onRetry, onExport, onExportErrors, onDownload }) {
  Object.assign(hooks, { onRetry, onExport, onExportErrors, onDownload });
}

/** The error report's "Exportar": an export of the report, followed like any job. */
export async function exportErrors(format) {
  const job = state.errorsJob;
  if (!job) return;
  closeErrors();
  await hooks.onExportErrors(job.id, format);
}

// A filtered history page may hold few jobs (the API looks at 500 per request): ask again,
// up to this often, until a page's worth is shown.
const REQUESTS_PER_FILTERED_PAGE = 10;

export async function loadHistory(cursor = null) {
  const filter = historyFilter();
  const filtered = Object.keys(filter).length > 0;
  const jobs = [];
  let next = cursor;
  for (let request = 0; request < (filtered ? REQUESTS_PER_FILTERED_PAGE : 1); request++) {
    const query = new URLSearchParams({ limit: "50", ...filter });
    if (next) query.set("cursor", next);
    const page = await api(`api/jobs?${query}`);
    jobs.push(...page.jobs);
    next = page.nextCursor ?? null;
    if (!next || jobs.length >= 50) break;
  }
  const body = $("history-body");
  if (!cursor) body.replaceChildren();
  for (const job of jobs) body.append(historyRow(job));
  state.historyCursor = next;
  $("history-more").hidden = !state.historyCursor;
  const empty = body.children.length === 0;
  $("history").hidden = empty;
  $("history-empty").hidden = !empty;
  $("history-empty").textContent = filtered
    ? "Ningún proceso coincide con el filtro."
    : "Todavía no hay importaciones.";
  $("history-filter").hidden = empty && !filtered;
}

/** The history filter as the API reads it: only what the user chose. */
function historyFilter() {
  return filledValues([
    ["status", "history-status"],
    ["codigoTarjeta", "history-codigo", (value) => value.toUpperCase()],
    ["periodo", "history-periodo"],
  ]);
}

/** Filtrar / Limpiar of the history. */
export function filterHistory(event) {
  return applyFilter(event, "history-filter", loadHistory, "No se pudo filtrar el historial");
}

export function clearHistoryFilter() {
  $("history-filter").reset();
  filterHistory();
}

/** Ver más: the next page of the history. */
export async function loadMoreHistory() {
  const button = $("history-more");
  button.disabled = true;
  try {
    await loadHistory(state.historyCursor);
  } catch (error) {
    if (isSignedOut(error)) return;
    showNotice({ title: "No se pudo cargar el historial", detail: error.message, kind: "error" });
  } finally {
    button.disabled = false;
  }
}

export function clearHistory() {
  $("history-body").replaceChildren();
  $("history").hidden = true;
  $("history-more").hidden = true;
}

/** Shows a followed job's news in its history row, if the row is on the page. */
export function refreshHistoryRow(job) {
  document
    .querySelector(`#history-body tr[data-job-id="${CSS.escape(job.id)}"]`)
    ?.replaceWith(historyRow(job));
}

function smallButton(text) {
  return el("button", { type: "button", className: "secondary small", textContent: text });
}

function jobKindText(job) {
  if (job.type === "LOTE_DELETE") return "Eliminación de lote";
  return `Exportación ${formatName(job.parameters?.format)}`;
}

function statusBadge(job) {
  const className = `badge status-${job.status.toLowerCase()}`;
  return el("span", { className, textContent: statusLabel(job) });
}

function historyRow(job) {
  const p = job.parameters ?? {};
  const fileCell = el("td", {});
  fileCell.append(
    job.type === "DKT_IMPORT"
      ? el("span", { className: "filename", textContent: p.filename ?? "—" })
      : el("span", { textContent: jobKindText(job) }),
  );
  // Why it failed, or when a job that waits for its time will start.
  if ((job.status === "FAILED" && job.error?.message) || isWaitingForItsTime(job)) {
    fileCell.append(el("span", { className: "sub", textContent: messageText(job) }));
  }
  // An import's lote exists once it completed; a cancelled or failed one only named it.
  const showsLote = job.type !== "DKT_IMPORT" || job.status === "COMPLETED";
  const loteId = job.loteId ?? p.loteId;
  const loteCell = el("td", { className: "lote" }, (showsLote && loteId) || "—");
  if (job.loteDeleted) {
    loteCell.append(" ", el("span", { className: "badge mark", textContent: "lote eliminado" }));
  }
  const actions = el("div", { className: "row-actions" });
  if (hasErrorReport(job)) {
    const show = smallButton("Ver errores");
    show.addEventListener("click", () => openErrors(job));
    actions.append(show);
  }
  if (isDownloadable(job)) {
    const download = smallButton("Descargar");
    download.classList.remove("secondary");
    download.addEventListener("click", () => hooks.onDownload(job.id));
    actions.append(download);
  }
  if (isExportable(job)) {
    for (const format of ["csv", "xlsx"]) {
      const exporter = smallButton(`Exportar ${formatName(format)}`);
      exporter.setAttribute("aria-label", `Exportar el lote ${job.loteId} a ${formatName(format)}`);
      exporter.addEventListener("click", () => {
        exporter.disabled = true;
        hooks.onExport(job.loteId, format).finally(() => (exporter.disabled = false));
      });
      actions.append(exporter);
    }
  }
  if (isReplaceable(job)) {
    const replace = smallButton("Reemplazar lote");
    replace.classList.remove("secondary");
    replace.setAttribute("aria-label", `Reemplazar el lote ${job.loteId ?? ""} con ${p.filename ?? "este archivo"}`);
    replace.addEventListener("click", () => {
      if (!confirmReplace(job)) return;
      replace.disabled = true;
      hooks.onRetry(job.id, { replace: true }).finally(() => (replace.disabled = false));
    });
    actions.append(replace);
  } else if (isDuplicate(job)) {
    const anyway = smallButton("Importar de todos modos");
    anyway.setAttribute("aria-label", `Importar ${p.filename ?? "el archivo"} de todos modos`);
    anyway.addEventListener("click", () => {
      anyway.disabled = true;
      hooks.onRetry(job.id, { allowDuplicate: true }).finally(() => (anyway.disabled = false));
    });
    actions.append(anyway);
  } else if (isRetryable(job)) {
    const retry = smallButton("Reintentar");
    retry.addEventListener("click", () => {
      retry.disabled = true;
      hooks.onRetry(job.id).finally(() => (retry.disabled = false));
    });
    actions.append(retry);
  }
  // What came in: a completed import that skipped invalid lines imported fewer than it read.
  const done = job.result?.linesImported ?? job.processedItems;
  const lines =
    job.totalItems == null ? "—" : `${formatNumber(done)} de ${formatNumber(job.totalItems)}`;
  return tableRow(
    $("history"),
    { dataset: { jobId: job.id, status: job.status } },
    el("td", {}, statusBadge(job)),
    fileCell,
    el("td", { textContent: p.codigoTarjeta ?? "—" }),
    loteCell,
    el("td", { className: "num" }, lines, outcomeLine(job)),
    el("td", { className: "num", textContent: durationText(job) }),
    el("td", { className: "date", textContent: formatDate(job.createdAt) }),
    el("td", { className: "actions" }, actions),
  );
}

/** Under a completed import's lines: what it skipped, its totals, the rules it applied. */
function outcomeLine(job) {
  if (job.type !== "DKT_IMPORT" || job.status !== "COMPLETED" || !job.result) return null;
  const { linesSkipped, totals, rulesVersion } = job.result;
  const parts = [
    linesSkipped ? `${formatNumber(linesSkipped)} omitidas` : null,
    totals ? formatTotals(totals) : null,
    rulesVersion ? `reglas v${rulesVersion}` : "sin reglas",
  ];
  return el("span", { className: "outcome", textContent: parts.filter(Boolean).join(" · ") });
}

// --- the error report ------------------------------------------------------------------------

export async function openErrors(job) {
  const dialog = $("errors-dialog");
  state.errorsJob = job;
  state.errorsCursor = null;
  $("errors-title").textContent = `Errores: ${jobTitle(job)}`;
  $("errors-reason").textContent = job.error?.message ?? "";
  $("errors-summary").textContent = "Cargando errores…";
  $("errors-body").replaceChildren();
  $("errors-table").hidden = true;
  $("errors-more").hidden = true;
  for (const format of ["csv", "xlsx"]) $(`errors-export-${format}`).hidden = true;
  if (!dialog.open) dialog.showModal();
  await loadErrors();
}

export async function loadErrors() {
  const job = state.errorsJob;
  const query = new URLSearchParams({ limit: "100" });
  if (state.errorsCursor) query.set("cursor", state.errorsCursor);
  try {
    const report = await api(`api/jobs/${encodeURIComponent(job.id)}/errors?${query}`);
    if (state.errorsJob !== job) return;
    const count = `${formatNumber(report.total)} ${report.total === 1 ? "línea" : "líneas"}`;
    const kept =
      report.total > MAX_KEPT_ERRORS
        ? ` (se guardan las primeras ${formatNumber(MAX_KEPT_ERRORS)})`
        : "";
    $("errors-summary").textContent =
      report.total > 0
        ? `${count} con errores${kept}:`
        : "Esta importación no tiene errores por línea.";
    for (const e of report.errors) {
      $("errors-body").append(
        tableRow(
          $("errors-table"),
          {},
          el("td", { className: "num", textContent: formatNumber(e.lineNo) }),
          el("td", { textContent: e.field ?? "—" }),
          el("td", { className: "value", textContent: e.value ?? "—" }),
          el("td", { textContent: e.reason }),
        ),
      );
    }
    $("errors-table").hidden = $("errors-body").children.length === 0;
    for (const format of ["csv", "xlsx"]) $(`errors-export-${format}`).hidden = report.total === 0;
    state.errorsCursor = report.nextCursor ?? null;
    $("errors-more").hidden = !state.errorsCursor;
  } catch (error) {
    if (!isSignedOut(error)) $("errors-summary").textContent = error.message;
  }
}

export function closeErrors() {
  if ($("errors-dialog").open) $("errors-dialog").close();
}
