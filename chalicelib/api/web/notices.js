// One notice per finished job, across reloads and tabs. localStorage keeps the outcomes already
// announced (claimed under a Web Lock, so two tabs cannot both announce one) and, per user, the
// jobs followed but not announced yet; a BroadcastChannel tells the other tabs a job started or
// ended.

import { decodeClaims, tenantOf } from "./auth.js";
import { $, el } from "./dom.js";
import { formatNumber, formatTotals } from "./format.js";
import { state } from "./state.js";

const NOTIFIED_KEY = "dkt.notifiedJobs"; // localStorage: job ids already announced
const PENDING_PREFIX = "dkt.pendingJobs."; // localStorage, per user: followed, not yet announced
const MAX_NOTIFIED = 200;
const MAX_NOTICES = 3; // on the page at once
const SUCCESS_NOTICE_MS = 30_000;

const channel = "BroadcastChannel" in window ? new BroadcastChannel("dkt-jobs") : null;

/** Tells the other tabs of this origin, e.g. { type: "started", jobId }. */
export function broadcast(message) {
  channel?.postMessage(message);
}

export function listenToOtherTabs(listener) {
  channel?.addEventListener("message", ({ data }) => listener(data));
}

function readJson(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

/** Records that job `key` is announced; true for the first caller only, whatever the tab.
 * The Web Locks API makes read-check-write atomic across this origin's tabs. */
async function claimNotice(key) {
  const claim = () => {
    const ids = readJson(NOTIFIED_KEY, []);
    if (ids.includes(key)) return false;
    ids.push(key);
    localStorage.setItem(NOTIFIED_KEY, JSON.stringify(ids.slice(-MAX_NOTIFIED)));
    return true;
  };
  if (navigator.locks) return navigator.locks.request("dkt-jobs-notices", claim);
  return claim();
}

export async function announceFinal(job) {
  removePending(job.id);
  // attempts: a retried job that finishes again is a new outcome, announced once too.
  if (!(await claimNotice(`${job.id}#${job.attempts}`))) return;
  const deletion = job.type === "LOTE_DELETE";
  const exporting = job.type === "EXPORT";
  const name = deletion
    ? `lote ${job.loteId ?? ""}`.trim()
    : exporting
      ? exportedThing(job.parameters ?? {})
      : job.parameters?.filename ?? job.id;
  const noun = deletion ? "Eliminación" : exporting ? "Exportación" : "Importación";
  const failure = job.error?.message ?? job.message;
  const done = completedDetail(job);
  const notice = {
    COMPLETED: { title: `${noun} completa: ${name}`, detail: done, kind: "success" },
    FAILED: { title: `${noun} con error: ${name}`, detail: failure, kind: "error" },
    CANCELLED: { title: `${noun} cancelada: ${name}`, detail: job.message, kind: "info" },
  }[job.status];
  showNotice({ ...notice, jobId: job.id });
  notifyInBackground(notice, job.id);
}

function exportedThing(p) {
  return p.source === "errors" ? `errores de ${p.sourceFilename}` : `lote ${p.loteId}`;
}

// While the page is a background tab, the outcome also comes as a system notification, if the
// user allowed them (asked once, when she starts an import: a click is the time to ask).
export function askToNotify() {
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

function notifyInBackground(notice, jobId) {
  if (!document.hidden || !("Notification" in window)) return;
  if (Notification.permission !== "granted") return;
  const shown = new Notification(notice.title, { body: notice.detail, tag: `dkt-job-${jobId}` });
  shown.onclick = () => {
    window.focus();
    shown.close();
  };
}

function completedDetail(job) {
  if (job.type !== "DKT_IMPORT") return job.message;
  const imported = job.result?.linesImported ?? job.processedItems;
  const skipped = job.result?.linesSkipped ?? 0;
  const lote = job.loteId ? ` en el lote ${job.loteId}` : "";
  const omitted = skipped ? `; ${formatNumber(skipped)} omitidas por errores` : "";
  return `${formatNumber(imported)} líneas importadas${lote}${omitted}.${outcomeTail(job)}`;
}

/** A completed import's totals per currency and the rules version it applied. */
export function outcomeTail(job) {
  const result = job.result ?? {};
  const totals = result.totals ? ` Totales: ${formatTotals(result.totals)}.` : "";
  const rules = result.rulesVersion ? ` Reglas: versión ${result.rulesVersion}.` : " Sin reglas.";
  return `${totals}${rules}`;
}

export function showNotice({ title, detail, kind, jobId }) {
  const close = el("button", { type: "button", className: "notice-close", textContent: "×" });
  close.setAttribute("aria-label", "Cerrar aviso");
  const notice = el(
    "div",
    { className: `notice notice-${kind}` },
    el("p", { className: "notice-title", textContent: title }),
    detail ? el("p", { className: "notice-detail", textContent: detail }) : null,
    close,
  );
  if (jobId) notice.dataset.jobId = jobId;
  close.addEventListener("click", () => notice.remove());
  const box = $("notices");
  box.append(notice);
  // A few at once, the newest: a pile of them would cover the page's controls.
  while (box.children.length > MAX_NOTICES) box.firstElementChild.remove();
  // Good news goes away by itself; errors stay until read and closed.
  if (kind === "success") setTimeout(() => notice.remove(), SUCCESS_NOTICE_MS);
}

function pendingKey() {
  // Per user, so that another user signing in on this browser does not touch the list.
  const claims = decodeClaims(state.token);
  return PENDING_PREFIX + (claims ? `${claims.sub}@${tenantOf(claims) ?? ""}` : "anon");
}

export function readPending() {
  return readJson(pendingKey(), []);
}

export function addPending(id) {
  const ids = readPending();
  if (ids.includes(id)) return;
  localStorage.setItem(pendingKey(), JSON.stringify([...ids, id].slice(-50)));
}

export function removePending(id) {
  const ids = readPending();
  if (!ids.includes(id)) return;
  localStorage.setItem(pendingKey(), JSON.stringify(ids.filter((x) => x !== id)));
}
