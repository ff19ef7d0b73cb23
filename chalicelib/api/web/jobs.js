// What a job of the API means for the page: whether it is over, and the texts that describe it.

import { formatDate, formatDuration, formatNumber } from "./format.js";

export const FINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
const STATUS_LABELS = {
  QUEUED: "En cola",
  PROCESSING: "Procesando",
  COMPLETED: "Completada",
  FAILED: "Con error",
  CANCELLED: "Cancelada",
};

export function statusLabel(job) {
  if (job.status === "PROCESSING" && job.cancelRequested) return "Cancelando…";
  return STATUS_LABELS[job.status] ?? job.status;
}

export function jobTitle(job) {
  if (job.type === "LOTE_DELETE") return `Eliminación de lote ${job.loteId ?? ""}`.trim();
  const p = job.parameters ?? {};
  if (job.type === "EXPORT") {
    const what = p.source === "errors" ? `errores de ${p.sourceFilename}` : `lote ${p.loteId}`;
    return `Exportación ${formatName(p.format)} · ${what}`;
  }
  const name = p.filename ?? job.id;
  return p.codigoTarjeta ? `${name} · ${p.codigoTarjeta}` : name;
}

const FORMAT_NAMES = { csv: "CSV", xlsx: "Excel" };

export function formatName(format) {
  return FORMAT_NAMES[format] ?? format;
}

/** A finished export whose file can be fetched (a fresh link is asked for at the click). */
export function isDownloadable(job) {
  return job.type === "EXPORT" && job.status === "COMPLETED";
}

/** A completed import whose lote is still there: it can be exported. */
export function isExportable(job) {
  return job.type === "DKT_IMPORT" && job.status === "COMPLETED" && job.loteId && !job.loteDeleted;
}

export function hasErrorReport(job) {
  return FINAL.has(job.status) && (job.status === "FAILED" || job.errorCount > 0);
}

/** An import that found its lote already imported: retried with replace, it replaces it. */
export function isReplaceable(job) {
  return job.type === "DKT_IMPORT" && job.status === "FAILED" && job.error?.code === "LOTE_EXISTS";
}

/** Asks before an import replaces a lote: the lote's current lines go. */
export function confirmReplace(job) {
  const loteId = job.loteId ?? job.parameters?.loteId ?? "";
  return window.confirm(
    `¿Reemplazar el lote ${loteId} con este archivo? Las líneas que tiene ahora se eliminarán.`,
  );
}

// The API says whether a retry could help (not for a file that would fail again).
export function isRetryable(job) {
  return job.retryable === true;
}

// What the user reads of a job's state: why it failed, and when it retries by itself.
export function messageText(job) {
  if (job.status !== "FAILED" || !job.error?.message) return job.message ?? "";
  if (!job.nextRetryAt) return job.error.message;
  return `${job.error.message} Se reintentará automáticamente el ${formatDate(job.nextRetryAt)}.`;
}

export function linesText(job) {
  if (job.totalItems == null) return FINAL.has(job.status) ? "—" : "Contando líneas…";
  return `${formatNumber(job.processedItems)} de ${formatNumber(job.totalItems)} líneas`;
}

export function durationText(job) {
  if (!job.startedAt) return "—";
  if (!job.completedAt) return FINAL.has(job.status) ? "—" : "en curso";
  return formatDuration(Date.parse(job.completedAt) - Date.parse(job.startedAt));
}
