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

/** An import refused because its file is already a lote's: retried with allowDuplicate, it
 * imports the file anyway. */
export function isDuplicate(job) {
  return job.type === "DKT_IMPORT" && job.status === "FAILED" && job.error?.code === "DUPLICATE_FILE";
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

// --- uploads in flight: the tab that sends a file beats here; every tab reads it -----------

const UPLOADS_KEY = "dkt.uploading"; // localStorage: job id -> last beat (ms)
export const UPLOAD_BEAT_MS = 3000;

function readBeats() {
  try {
    return JSON.parse(localStorage.getItem(UPLOADS_KEY) ?? "{}") ?? {};
  } catch {
    return {};
  }
}

/** The tab sending `jobId`'s file says so, every UPLOAD_BEAT_MS while it does. */
export function beatUpload(jobId) {
  const beats = readBeats();
  const now = Date.now();
  for (const [id, at] of Object.entries(beats)) if (now - at > 10 * UPLOAD_BEAT_MS) delete beats[id];
  localStorage.setItem(UPLOADS_KEY, JSON.stringify({ ...beats, [jobId]: now }));
}

export function endUpload(jobId) {
  const beats = readBeats();
  delete beats[jobId];
  localStorage.setItem(UPLOADS_KEY, JSON.stringify(beats));
}

/** A job waiting for a file that no tab of this browser is sending: a reload or a closed
 * tab cut its upload, and the file will not come. */
export function isUploadLost(job) {
  if (!job.awaitingUpload) return false;
  const at = readBeats()[job.id];
  return !(at && Date.now() - at < 3 * UPLOAD_BEAT_MS);
}

export const UPLOAD_LOST_TEXT =
  "La subida del archivo se interrumpió (la página se recargó o se cerró): el archivo no " +
  "llegará. Cancele esta importación e inicie otra.";

/** A scheduled job whose file is in and whose time has not come. */
export function isWaitingForItsTime(job) {
  return job.status === "QUEUED" && Boolean(job.runAt) && !job.awaitingUpload;
}

// What the user reads of a job's state: why it failed, and when it retries by itself.
export function messageText(job) {
  if (isUploadLost(job)) return UPLOAD_LOST_TEXT;
  if (isWaitingForItsTime(job) && job.type === "LOTE_DELETE") {
    return (
      `Los registros reemplazados se eliminarán el ${formatDate(job.runAt)}; hasta entonces ` +
      "el reemplazo se puede deshacer."
    );
  }
  if (isWaitingForItsTime(job)) return `Programada: comenzará el ${formatDate(job.runAt)}.`;
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
