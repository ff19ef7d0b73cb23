// Following jobs: the polling loop (every pollIntervalMs, never two requests in flight, backing
// off while the API is unreachable, stopping when no job is active) and the "En curso" panel:
// progress bar, message, lines, rows/s, time left, Cancelar and Reintentar.

import { api, isSignedOut, markOffline } from "./api.js";
import { $ } from "./dom.js";
import { formatDate, formatDuration, formatNumber } from "./format.js";
import { loadHistory, openErrors, refreshHistoryRow } from "./history.js";
import { loadLotes } from "./lotes.js";
import {
  confirmReplace,
  isDuplicate,
  isWaitingForItsTime,
  FINAL,
  hasErrorReport,
  isDownloadable,
  isReplaceable,
  isRetryable,
  jobTitle,
  linesText,
  messageText,
  statusLabel,
} from "./jobs.js";
import {
  addPending,
  announceFinal,
  broadcast,
  readPending,
  removePending,
  showNotice,
} from "./notices.js";
import { state } from "./state.js";

// --- the polling loop ------------------------------------------------------------------------

function schedule(delayMs) {
  clearTimeout(state.timer);
  state.timer = setTimeout(cycle, delayMs);
}

/** Runs the loop now, or right after the cycle in flight: never two polls at once. */
export function pollNow() {
  if (!state.token) return;
  if (state.cycleRunning) state.cycleAgain = true;
  else schedule(0);
}

/** The API answered again after failures. */
export function resumeAfterReconnect() {
  // A request outside the loop got through: do not sit out the rest of a long backoff.
  if (state.timer !== null && !state.cycleRunning) schedule(0);
}

/** Signed out: no more rounds, and nothing followed. */
export function stopFollowing() {
  clearTimeout(state.timer);
  state.timer = null;
  state.cycleAgain = false;
  state.followed.clear();
  $("follow-list").replaceChildren();
  $("done-list").replaceChildren();
  refreshFollowEmpty();
}

/** Another tab saw a job end or start: look now instead of at the next tick. */
export function onOtherTabMessage(data) {
  if (!state.token) return;
  if (data?.type === "final" && state.followed.has(data.jobId)) pollNow();
  if (data?.type === "started") {
    state.needDiscover = true;
    state.needHistory = true;
    pollNow();
  }
}

function hasActiveJobs() {
  return [...state.followed.values()].some((entry) => !FINAL.has(entry.job.status));
}

/** One round: find active jobs (once), poll each followed job, refresh the history if asked.
 * The next round is scheduled only when this one has settled. */
async function cycle() {
  state.timer = null;
  if (!state.token) return;
  const session = state.session;
  state.cycleRunning = true;
  let delay = null;
  try {
    if (state.needDiscover) {
      await discoverJobs();
      state.needDiscover = false;
    }
    for (const entry of [...state.followed.values()]) {
      if (!FINAL.has(entry.job.status)) await pollJob(entry);
    }
    if (state.needHistory) {
      state.needHistory = false;
      try {
        await loadHistory();
        await loadLotes();
      } catch (error) {
        state.needHistory = true;
        throw error;
      }
    }
    if (hasActiveJobs()) delay = state.config.pollIntervalMs;
  } catch (error) {
    // A 401 signed the user out; a stale answer belongs to a session that is gone.
    if (session === state.session && !isSignedOut(error)) {
      delay = markOffline(error, state.config.pollIntervalMs);
    }
  } finally {
    state.cycleRunning = false;
  }
  // A new session may have asked for a round (cycleAgain) while this stale one ran.
  if (session !== state.session) delay = null;
  if (state.cycleAgain) {
    state.cycleAgain = false;
    delay = 0;
  }
  if (delay !== null && state.token) schedule(delay);
}

/** The user's active jobs, and jobs this browser followed that ended while it was away. */
async function discoverJobs() {
  const { jobs } = await api("api/jobs?status=active");
  // A replace's deletion waits out the undo window (a day): the history shows it, not a card.
  for (const job of jobs) if (!(job.type === "LOTE_DELETE" && isWaitingForItsTime(job))) follow(job);
  for (const id of readPending()) {
    if (state.followed.has(id)) continue;
    try {
      const job = await api(`api/jobs/${encodeURIComponent(id)}`);
      if (FINAL.has(job.status)) await announceFinal(job);
      else follow(job);
    } catch (error) {
      if (error.status !== 404) throw error;
      removePending(id);
    }
  }
}

async function pollJob(entry) {
  try {
    updateJob(await api(`api/jobs/${encodeURIComponent(entry.job.id)}`));
  } catch (error) {
    if (error.status !== 404) throw error;
    removePending(entry.job.id);
    entry.el.remove();
    state.followed.delete(entry.job.id);
    refreshFollowEmpty();
  }
}

// --- following jobs --------------------------------------------------------------------------

export function follow(job) {
  let entry = state.followed.get(job.id);
  if (!entry) {
    const node = $("follow-template").content.firstElementChild.cloneNode(true);
    entry = { job, el: node, finalSeen: false };
    node.dataset.jobId = job.id;
    node.querySelector(".job-cancel").addEventListener("click", () => cancelJob(entry));
    node.querySelector(".job-start-now").addEventListener("click", () => startNow(entry));
    node.querySelector(".job-retry").addEventListener("click", () => retryJob(entry.job.id));
    node.querySelector(".job-replace").addEventListener("click", () => {
      if (confirmReplace(entry.job)) retryJob(entry.job.id, { replace: true });
    });
    node.querySelector(".job-import-anyway").addEventListener("click", () => {
      retryJob(entry.job.id, { allowDuplicate: true });
    });
    node.querySelector(".job-errors").addEventListener("click", () => openErrors(entry.job));
    node.querySelector(".job-download").addEventListener("click", () => downloadExport(entry.job.id));
    node.querySelector(".job-dismiss").addEventListener("click", () => {
      state.followed.delete(entry.job.id);
      node.remove();
      refreshFollowEmpty();
    });
    state.followed.set(job.id, entry);
  }
  if (!FINAL.has(job.status)) {
    entry.finalSeen = false; // a retried job runs (and is announced) again
    addPending(job.id);
  }
  updateJob(job);
  refreshFollowEmpty();
  return entry;
}

function updateJob(job) {
  const entry = state.followed.get(job.id);
  if (!entry) return;
  entry.job = job;
  renderFollowed(entry);
  refreshFollowEmpty();
  refreshHistoryRow(job);
  if (FINAL.has(job.status) && !entry.finalSeen) {
    entry.finalSeen = true;
    state.needHistory = true;
    announceFinal(job);
    broadcast({ type: "final", jobId: job.id });
  }
}

function renderFollowed({ job, el: node }) {
  const final = FINAL.has(job.status);
  placeCard(node, final);
  const title = jobTitle(job);
  node.dataset.status = job.status;
  node.setAttribute("aria-label", title);
  node.querySelector(".job-title").textContent = title;
  const badge = node.querySelector(".job-status");
  badge.textContent = statusLabel(job);
  badge.className = `badge job-status status-${job.status.toLowerCase()}`;
  node.querySelector(".job-started").textContent = `Iniciado el ${formatDate(job.createdAt)}`;
  const bar = node.querySelector(".bar");
  bar.setAttribute("aria-valuenow", String(job.progress));
  bar.setAttribute("aria-valuetext", `${job.progress} %`);
  bar.setAttribute("aria-label", `Progreso: ${title}`);
  bar.querySelector(".bar-fill").style.width = `${job.progress}%`;
  node.querySelector(".job-message").textContent = messageText(job);
  node.querySelector(".job-lines").textContent = linesText(job);
  const rate = job.rowsPerSecond && !final ? Math.round(job.rowsPerSecond) : null;
  node.querySelector(".job-rate").textContent = rate ? `${formatNumber(rate)} líneas/s` : "—";
  node.querySelector(".job-eta").textContent =
    job.etaSeconds != null && !final ? `≈ ${formatDuration(job.etaSeconds * 1000)}` : "—";
  const cancel = node.querySelector(".job-cancel");
  cancel.hidden = final || job.type === "LOTE_DELETE";
  node.querySelector(".job-download").hidden = !isDownloadable(job);
  cancel.disabled = Boolean(job.cancelRequested);
  node.querySelector(".job-errors").hidden = !hasErrorReport(job);
  node.querySelector(".job-retry").hidden = !isRetryable(job) || isReplaceable(job);
  node.querySelector(".job-replace").hidden = !isReplaceable(job);
  node.querySelector(".job-import-anyway").hidden = !isDuplicate(job);
  node.querySelector(".job-start-now").hidden = !isWaitingForItsTime(job);
  node.querySelector(".job-dismiss").hidden = !final;
}

/** A running job's card is under "En curso", a finished one's under "Terminados" (a retry
 * brings it back). */
function placeCard(node, final) {
  const list = $(final ? "done-list" : "follow-list");
  if (node.parentElement !== list) list.prepend(node);
}

function refreshFollowEmpty() {
  const running = $("follow-list").children.length;
  $("follow-empty").hidden = running > 0;
  $("done").hidden = $("done-list").children.length === 0;
}

function setNote(entry, text) {
  const note = entry.el.querySelector(".job-note");
  note.textContent = text ?? "";
  note.hidden = !text;
}

async function cancelJob(entry) {
  const button = entry.el.querySelector(".job-cancel");
  button.disabled = true;
  setNote(entry, null);
  try {
    const { job } = await api(`api/jobs/${encodeURIComponent(entry.job.id)}/cancel`, {
      method: "POST",
    });
    updateJob(job);
    pollNow();
  } catch (error) {
    if (isSignedOut(error)) return;
    button.disabled = false;
    setNote(entry, error.message);
  }
}

/** Follows a job the user just started (an import, retry, export or deletion), tells the
 * other tabs, and polls now, the history included. */
/** A scheduled import started at once instead (its runAt dropped). */
async function startNow(entry) {
  try {
    const path = `api/jobs/${encodeURIComponent(entry.job.id)}`;
    updateJob(await api(path, { method: "PATCH", body: { runAt: null } }));
  } catch (error) {
    if (!isSignedOut(error)) setNote(entry, error.message);
  }
}

export function followStarted(job) {
  follow(job);
  broadcast({ type: "started", jobId: job.id });
  state.needHistory = true;
  pollNow();
}

/** Retries a job; `{ replace: true }`: an import that found its lote replaces it. */
export async function retryJob(jobId, options = {}) {
  try {
    const path = `api/jobs/${encodeURIComponent(jobId)}/retry`;
    const { job } = await api(path, { method: "POST", body: options });
    followStarted(job);
  } catch (error) {
    if (isSignedOut(error)) return;
    showNotice({ title: "No se pudo reintentar", detail: error.message, kind: "error" });
  }
}

/** Starts an export of a lote (format "csv" or "xlsx") and follows it like an import. */
export function startExport(loteId, format) {
  return followExport(`api/lotes/${encodeURIComponent(loteId)}/export`, format);
}

/** Starts an export of an import's error report and follows it. */
export function startErrorsExport(jobId, format) {
  return followExport(`api/jobs/${encodeURIComponent(jobId)}/errors/export`, format);
}

async function followExport(path, format) {
  try {
    const { job } = await api(path, { method: "POST", body: { format } });
    followStarted(job);
  } catch (error) {
    if (isSignedOut(error)) return;
    showNotice({ title: "No se pudo exportar", detail: error.message, kind: "error" });
  }
}

/** Downloads a finished export: its link lasts minutes, so a fresh one is asked for now. */
export async function downloadExport(jobId) {
  try {
    const job = await api(`api/jobs/${encodeURIComponent(jobId)}`);
    const url = job.result?.downloadUrl;
    if (!url) throw new Error("El archivo de esta exportación ya no está disponible.");
    window.location.assign(url);
  } catch (error) {
    if (isSignedOut(error)) return;
    showNotice({ title: "No se pudo descargar", detail: error.message, kind: "error" });
  }
}
