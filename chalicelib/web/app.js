// The import page: sign in, upload a DKT file straight to S3, follow the job, history.
// Plain ES module, no framework and no build step; every call to /api carries the
// bearer token in a header and never in a URL.

const TOKEN_KEY = "dkt.token"; // sessionStorage: this tab only, gone with it
const PKCE_KEY = "dkt.pkce"; // sessionStorage: the Cognito sign-in in flight
const NOTIFIED_KEY = "dkt.notifiedJobs"; // localStorage: job ids already announced
const PENDING_PREFIX = "dkt.pendingJobs."; // localStorage, per user: followed, not yet announced
const CODIGO_KEY = "dkt.lastCodigo"; // localStorage: convenience only
const MAX_NOTIFIED = 200;
const MAX_KEPT_ERRORS = 1000; // the API keeps the first 1,000 line errors of a job
const MAX_BACKOFF_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;
const FINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
const STATUS_LABELS = {
  QUEUED: "En cola",
  PROCESSING: "Procesando",
  COMPLETED: "Completada",
  FAILED: "Con error",
  CANCELLED: "Cancelada",
};
const NUMBER = new Intl.NumberFormat("es-AR");
const DECIMAL = new Intl.NumberFormat("es-AR", { maximumFractionDigits: 1 });
const DATE_TIME = new Intl.DateTimeFormat("es-AR", { dateStyle: "short", timeStyle: "short" });

const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  token: null,
  session: 0, // bumped on sign-out: answers that arrive later for an old session are dropped
  followed: new Map(), // job id -> { job, el, finalSeen }
  timer: null,
  cycleRunning: false,
  cycleAgain: false,
  failures: 0,
  offline: false,
  needDiscover: false,
  needHistory: false,
  historyCursor: null,
  errorsJob: null,
  errorsCursor: null,
};

const channel = "BroadcastChannel" in window ? new BroadcastChannel("dkt-jobs") : null;

// --- HTTP ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Errors the user needs no message for: signed out (401) or a late answer for an old session. */
function isSignedOut(error) {
  return error.status === 401 || error.status === -1;
}

function isTransient(error) {
  return error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500;
}

/** Calls the API with the bearer token; throws ApiError with the server's Spanish message. */
async function api(path, { method = "GET", body, headers = {} } = {}) {
  const session = state.session;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  const allHeaders = { Authorization: `Bearer ${state.token}`, ...headers };
  if (body !== undefined) allHeaders["Content-Type"] = "application/json";
  let response;
  let data = null;
  try {
    response = await fetch(path, {
      method,
      headers: allHeaders,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
      credentials: "omit",
    });
    data = await response.json().catch(() => null);
  } catch {
    const message = controller.signal.aborted
      ? "El servidor no responde."
      : "No se pudo contactar al servidor.";
    throw new ApiError(0, "NETWORK", message);
  } finally {
    clearTimeout(timer);
  }
  // Signed out (or in as someone else) meanwhile: this answer is not for the page any more.
  if (session !== state.session) throw new ApiError(-1, "STALE", "Sesión cerrada.");
  if (response.status === 401) {
    signOut("Su sesión venció o el token no es válido: vuelva a ingresar.");
    throw new ApiError(401, "UNAUTHENTICATED", "Sesión vencida.");
  }
  // A 4xx is an answer too; a 5xx or 429 leaves the loop backing off.
  if (response.status < 500 && response.status !== 429) markOnline();
  if (!response.ok) {
    throw new ApiError(
      response.status,
      data?.code ?? `HTTP_${response.status}`,
      data?.message ?? `El servidor respondió con un error (${response.status}).`,
    );
  }
  return data;
}

function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
  return [...parts, hex.slice(20)].join("-");
}

/** A presigned S3 POST: every policy field first, the file last (S3 ignores fields after it). */
function uploadToS3(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", upload.url);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText || "")?.[1];
      const reason =
        code === "EntityTooLarge" ? "el archivo es demasiado grande" : code || xhr.status;
      reject(new Error(`El almacenamiento rechazó el archivo (${reason}).`));
    });
    xhr.addEventListener("error", () =>
      reject(new Error("No se pudo subir el archivo: revise su conexión e intente nuevamente.")),
    );
    xhr.send(form);
  });
}

// --- formatting ------------------------------------------------------------------------------

function formatNumber(value) {
  return value == null ? "—" : NUMBER.format(value);
}

function formatDuration(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function formatDate(iso) {
  return iso ? DATE_TIME.format(new Date(iso)) : "—";
}

function statusLabel(job) {
  if (job.status === "PROCESSING" && job.cancelRequested) return "Cancelando…";
  return STATUS_LABELS[job.status] ?? job.status;
}

function jobTitle(job) {
  if (job.type === "LOTE_DELETE") return `Eliminación de lote ${job.loteId ?? ""}`.trim();
  const p = job.parameters ?? {};
  const name = p.filename ?? job.id;
  return p.codigoTarjeta ? `${name} · ${p.codigoTarjeta}` : name;
}

function hasErrorReport(job) {
  return FINAL.has(job.status) && (job.status === "FAILED" || job.errorCount > 0);
}

function isRetryable(job) {
  return job.status === "FAILED" || job.status === "CANCELLED";
}

function linesText(job) {
  if (job.totalItems == null) return FINAL.has(job.status) ? "—" : "Contando líneas…";
  return `${formatNumber(job.processedItems)} de ${formatNumber(job.totalItems)} líneas`;
}

function durationText(job) {
  if (!job.startedAt) return "—";
  if (!job.completedAt) return FINAL.has(job.status) ? "—" : "en curso";
  return formatDuration(Date.parse(job.completedAt) - Date.parse(job.startedAt));
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// --- the connection banner and the polling loop ----------------------------------------------

function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text;
  banner.hidden = false;
}

function markOnline() {
  if (!state.offline) return;
  state.offline = false;
  state.failures = 0;
  $("banner").hidden = true;
  // A request outside the loop got through: do not sit out the rest of a long backoff.
  if (state.timer !== null && !state.cycleRunning) schedule(0);
}

function schedule(delayMs) {
  clearTimeout(state.timer);
  state.timer = setTimeout(cycle, delayMs);
}

/** Runs the loop now, or right after the cycle in flight: never two polls at once. */
function pollNow() {
  if (!state.token) return;
  if (state.cycleRunning) state.cycleAgain = true;
  else schedule(0);
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
      } catch (error) {
        state.needHistory = true;
        throw error;
      }
    }
    if (hasActiveJobs()) delay = state.config.pollIntervalMs;
  } catch (error) {
    // A 401 signed the user out; a stale answer belongs to a session that is gone.
    if (session === state.session && !isSignedOut(error)) {
      state.failures += 1;
      state.offline = true;
      delay = Math.min(state.config.pollIntervalMs * 2 ** (state.failures - 1), MAX_BACKOFF_MS);
      const what = isTransient(error)
        ? "No se puede contactar al servidor."
        : `Error del servidor: ${error.message}`;
      showBanner(`${what} Reintentando en ${Math.round(delay / 1000)} s.`);
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
  for (const job of jobs) follow(job);
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

function follow(job) {
  let entry = state.followed.get(job.id);
  if (!entry) {
    const node = $("follow-template").content.firstElementChild.cloneNode(true);
    entry = { job, el: node, finalSeen: false };
    node.dataset.jobId = job.id;
    node.querySelector(".job-cancel").addEventListener("click", () => cancelJob(entry));
    node.querySelector(".job-retry").addEventListener("click", () => retryJob(entry.job.id));
    node.querySelector(".job-errors").addEventListener("click", () => openErrors(entry.job));
    node.querySelector(".job-dismiss").addEventListener("click", () => {
      state.followed.delete(entry.job.id);
      node.remove();
      refreshFollowEmpty();
    });
    state.followed.set(job.id, entry);
    $("follow-list").prepend(node);
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
  document
    .querySelector(`#history-body tr[data-job-id="${CSS.escape(job.id)}"]`)
    ?.replaceWith(historyRow(job));
  if (FINAL.has(job.status) && !entry.finalSeen) {
    entry.finalSeen = true;
    state.needHistory = true;
    announceFinal(job);
    channel?.postMessage({ type: "final", jobId: job.id });
  }
}

function renderFollowed({ job, el: node }) {
  const final = FINAL.has(job.status);
  const title = jobTitle(job);
  node.dataset.status = job.status;
  node.setAttribute("aria-label", title);
  node.querySelector(".job-title").textContent = title;
  const badge = node.querySelector(".job-status");
  badge.textContent = statusLabel(job);
  badge.className = `badge job-status status-${job.status.toLowerCase()}`;
  node.querySelector(".job-id").textContent = `Trabajo ${job.id}`;
  const bar = node.querySelector(".bar");
  bar.setAttribute("aria-valuenow", String(job.progress));
  bar.setAttribute("aria-valuetext", `${job.progress} %`);
  bar.setAttribute("aria-label", `Progreso: ${title}`);
  bar.querySelector(".bar-fill").style.width = `${job.progress}%`;
  node.querySelector(".job-message").textContent =
    job.status === "FAILED" && job.error?.message ? job.error.message : job.message ?? "";
  node.querySelector(".job-lines").textContent = linesText(job);
  const rate = job.rowsPerSecond && !final ? Math.round(job.rowsPerSecond) : null;
  node.querySelector(".job-rate").textContent = rate ? `${formatNumber(rate)} líneas/s` : "—";
  node.querySelector(".job-eta").textContent =
    job.etaSeconds != null && !final ? `≈ ${formatDuration(job.etaSeconds * 1000)}` : "—";
  const cancel = node.querySelector(".job-cancel");
  cancel.hidden = final || job.type === "LOTE_DELETE";
  cancel.disabled = Boolean(job.cancelRequested);
  node.querySelector(".job-errors").hidden = !hasErrorReport(job);
  node.querySelector(".job-retry").hidden = !isRetryable(job);
  node.querySelector(".job-dismiss").hidden = !final;
}

function refreshFollowEmpty() {
  $("follow-empty").hidden = state.followed.size > 0;
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

async function retryJob(jobId) {
  try {
    const { job } = await api(`api/jobs/${encodeURIComponent(jobId)}/retry`, { method: "POST" });
    follow(job);
    channel?.postMessage({ type: "started", jobId: job.id });
    state.needHistory = true;
    pollNow();
  } catch (error) {
    if (isSignedOut(error)) return;
    showNotice({ title: "No se pudo reintentar", detail: error.message, kind: "error" });
  }
}

// --- one notice per finished job, across reloads and tabs ------------------------------------

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

async function announceFinal(job) {
  removePending(job.id);
  // attempts: a retried job that finishes again is a new outcome, announced once too.
  if (!(await claimNotice(`${job.id}#${job.attempts}`))) return;
  const deletion = job.type === "LOTE_DELETE";
  const name = deletion ? `lote ${job.loteId ?? ""}`.trim() : job.parameters?.filename ?? job.id;
  const noun = deletion ? "Eliminación" : "Importación";
  const failure = job.error?.message ?? job.message;
  const done = completedDetail(job);
  const notice = {
    COMPLETED: { title: `${noun} completa: ${name}`, detail: done, kind: "success" },
    FAILED: { title: `${noun} con error: ${name}`, detail: failure, kind: "error" },
    CANCELLED: { title: `${noun} cancelada: ${name}`, detail: job.message, kind: "info" },
  }[job.status];
  showNotice({ ...notice, jobId: job.id });
}

function completedDetail(job) {
  if (job.type !== "DKT_IMPORT") return job.message;
  const imported = job.result?.linesImported ?? job.processedItems;
  const skipped = job.result?.linesSkipped ?? 0;
  const lote = job.loteId ? ` en el lote ${job.loteId}` : "";
  const omitted = skipped ? `; ${formatNumber(skipped)} omitidas por errores` : "";
  return `${formatNumber(imported)} líneas importadas${lote}${omitted}.`;
}

function showNotice({ title, detail, kind, jobId }) {
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
  $("notices").append(notice);
}

function pendingKey() {
  // Per user, so that another user signing in on this browser does not touch the list.
  const claims = decodeClaims(state.token);
  return PENDING_PREFIX + (claims ? `${claims.sub}@${tenantOf(claims) ?? ""}` : "anon");
}

function readPending() {
  return readJson(pendingKey(), []);
}

function addPending(id) {
  const ids = readPending();
  if (ids.includes(id)) return;
  localStorage.setItem(pendingKey(), JSON.stringify([...ids, id].slice(-50)));
}

function removePending(id) {
  const ids = readPending();
  if (!ids.includes(id)) return;
  localStorage.setItem(pendingKey(), JSON.stringify(ids.filter((x) => x !== id)));
}

channel?.addEventListener("message", ({ data }) => {
  if (!state.token) return;
  // Another tab saw a job end or start: look now instead of at the next tick.
  if (data?.type === "final" && state.followed.has(data.jobId)) pollNow();
  if (data?.type === "started") {
    state.needDiscover = true;
    state.needHistory = true;
    pollNow();
  }
});

// --- history ---------------------------------------------------------------------------------

async function loadHistory(cursor = null) {
  const query = new URLSearchParams({ limit: "50" });
  if (cursor) query.set("cursor", cursor);
  const page = await api(`api/jobs?${query}`);
  const body = $("history-body");
  if (!cursor) body.replaceChildren();
  for (const job of page.jobs) body.append(historyRow(job));
  state.historyCursor = page.nextCursor ?? null;
  $("history-more").hidden = !state.historyCursor;
  const empty = body.children.length === 0;
  $("history").hidden = empty;
  $("history-empty").hidden = !empty;
}

function smallButton(text) {
  return el("button", { type: "button", className: "secondary small", textContent: text });
}

function statusBadge(job) {
  const className = `badge status-${job.status.toLowerCase()}`;
  return el("span", { className, textContent: statusLabel(job) });
}

function historyRow(job) {
  const p = job.parameters ?? {};
  const fileCell = el("td", {});
  fileCell.append(
    job.type === "LOTE_DELETE"
      ? el("span", { textContent: "Eliminación de lote" })
      : el("span", { className: "filename", textContent: p.filename ?? "—" }),
  );
  if (job.status === "FAILED" && job.error?.message) {
    fileCell.append(el("span", { className: "sub", textContent: job.error.message }));
  }
  const loteCell = el("td", {}, job.loteId ?? "—");
  if (job.loteDeleted) {
    loteCell.append(" ", el("span", { className: "badge mark", textContent: "lote eliminado" }));
  }
  const actions = el("div", { className: "row-actions" });
  if (hasErrorReport(job)) {
    const show = smallButton("Ver errores");
    show.addEventListener("click", () => openErrors(job));
    actions.append(show);
  }
  if (isRetryable(job)) {
    const retry = smallButton("Reintentar");
    retry.addEventListener("click", () => {
      retry.disabled = true;
      retryJob(job.id).finally(() => (retry.disabled = false));
    });
    actions.append(retry);
  }
  const lines =
    job.totalItems == null
      ? "—"
      : `${formatNumber(job.processedItems)} de ${formatNumber(job.totalItems)}`;
  return el(
    "tr",
    { dataset: { jobId: job.id, status: job.status } },
    el("td", {}, statusBadge(job)),
    fileCell,
    el("td", { textContent: p.codigoTarjeta ?? "—" }),
    loteCell,
    el("td", { className: "num", textContent: lines }),
    el("td", { className: "num", textContent: durationText(job) }),
    el("td", { className: "date", textContent: formatDate(job.createdAt) }),
    el("td", {}, actions),
  );
}

// --- the error report ------------------------------------------------------------------------

async function openErrors(job) {
  const dialog = $("errors-dialog");
  state.errorsJob = job;
  state.errorsCursor = null;
  $("errors-title").textContent = `Errores: ${jobTitle(job)}`;
  $("errors-reason").textContent = job.error?.message ?? "";
  $("errors-summary").textContent = "Cargando errores…";
  $("errors-body").replaceChildren();
  $("errors-table").hidden = true;
  $("errors-more").hidden = true;
  if (!dialog.open) dialog.showModal();
  await loadErrors();
}

async function loadErrors() {
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
        el(
          "tr",
          {},
          el("td", { className: "num", textContent: formatNumber(e.lineNo) }),
          el("td", { textContent: e.field ?? "—" }),
          el("td", { className: "value", textContent: e.value ?? "—" }),
          el("td", { textContent: e.reason }),
        ),
      );
    }
    $("errors-table").hidden = $("errors-body").children.length === 0;
    state.errorsCursor = report.nextCursor ?? null;
    $("errors-more").hidden = !state.errorsCursor;
  } catch (error) {
    if (!isSignedOut(error)) $("errors-summary").textContent = error.message;
  }
}

// --- the import form -------------------------------------------------------------------------

function setImportError(text, field = null) {
  const box = $("import-error");
  box.textContent = text ?? "";
  box.hidden = !text;
  for (const input of [$("codigo"), $("file")]) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

function setImportStatus(text) {
  $("import-status").textContent = text ?? "";
}

async function onImportSubmit(event) {
  event.preventDefault();
  setImportError(null);
  const codigoInput = $("codigo");
  const codigo = codigoInput.value.trim().toUpperCase();
  codigoInput.value = codigo;
  const file = $("file").files[0];
  const max = state.config.maxFileSize;
  if (!/^[A-Z0-9]{2,12}$/.test(codigo)) {
    return setImportError(
      "El código de tarjeta debe tener de 2 a 12 letras o números, por ejemplo ICBCVC.",
      codigoInput,
    );
  }
  if (!file) return setImportError("Elija el archivo DKT a importar.", $("file"));
  if (file.size === 0) return setImportError("El archivo está vacío.", $("file"));
  if (max && file.size > max) {
    return setImportError(`El archivo supera el máximo de ${formatMegabytes(max)}.`, $("file"));
  }
  const submit = $("import-submit");
  submit.disabled = true;
  const session = state.session;
  try {
    setImportStatus("Creando la importación…");
    const created = await api("api/jobs/dkt-import", {
      method: "POST",
      headers: { "Idempotency-Key": newUuid() },
      body: {
        codigoTarjeta: codigo,
        filename: file.name,
        size: file.size,
        skipInvalidLines: $("skip-invalid").checked,
        replace: $("replace").checked,
      },
    });
    if (created.upload) {
      setImportStatus(`Subiendo ${file.name}…`);
      let shown = 0;
      try {
        // In steps of 10 %: the status is a live region, read out on every change.
        await uploadToS3(created.upload, file, (fraction) => {
          const step = Math.floor(fraction * 10) * 10;
          if (step > shown) setImportStatus(`Subiendo ${file.name}… ${(shown = step)} %`);
        });
      } catch (error) {
        // The job would wait for a file that will not come: cancel it now.
        const cancelPath = `api/jobs/${encodeURIComponent(created.job.id)}/cancel`;
        api(cancelPath, { method: "POST" }).catch(() => {});
        throw error;
      }
    }
    if (session !== state.session) return;
    localStorage.setItem(CODIGO_KEY, codigo);
    $("file").value = "";
    showChosenFile();
    $("skip-invalid").checked = false;
    $("replace").checked = false;
    setImportStatus(`${file.name} subido: la importación sigue en segundo plano.`);
    follow(created.job);
    channel?.postMessage({ type: "started", jobId: created.job.id });
    state.needHistory = true;
    pollNow();
  } catch (error) {
    if (isSignedOut(error) || session !== state.session) return;
    setImportStatus(null);
    setImportError(error.message);
  } finally {
    submit.disabled = false;
  }
}

function showChosenFile() {
  const file = $("file").files[0];
  const label = $("file-name");
  label.textContent = file ? `${file.name} (${formatSize(file.size)})` : "Ningún archivo elegido";
  label.classList.toggle("chosen", Boolean(file));
}

function formatSize(bytes) {
  if (bytes < 1024 * 1024) return `${NUMBER.format(Math.max(1, Math.round(bytes / 1024)))} KB`;
  return `${DECIMAL.format(bytes / (1024 * 1024))} MB`;
}

function formatMegabytes(bytes) {
  return `${NUMBER.format(Math.round(bytes / (1024 * 1024)))} MB`;
}

// --- sign-in ---------------------------------------------------------------------------------

function decodeClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

function tenantOf(claims) {
  return claims.tenant ?? claims["custom:tenant"] ?? null;
}

function showSignIn(message = null) {
  $("loading").hidden = true;
  $("app").hidden = true;
  $("session").hidden = true;
  $("sign-in").hidden = false;
  const cognito = state.config.authMode === "cognito";
  $("token-form").hidden = cognito;
  $("cognito-sign-in").hidden = !cognito;
  const error = $("sign-in-error");
  error.textContent = message ?? "";
  error.hidden = !message;
  (cognito ? $("cognito-button") : $("token-input")).focus();
}

function startSession(token) {
  state.token = token;
  state.session += 1;
  state.failures = 0;
  state.offline = false;
  const claims = decodeClaims(token);
  const tenant = claims && tenantOf(claims);
  const who = claims ? claims.email ?? claims["cognito:username"] ?? claims.sub : "";
  $("who").textContent = who ? `${who}${tenant ? ` (${tenant})` : ""}` : "";
  $("loading").hidden = true;
  $("sign-in").hidden = true;
  $("session").hidden = false;
  $("app").hidden = false;
  $("codigo").value = localStorage.getItem(CODIGO_KEY) ?? "";
  state.needDiscover = true;
  state.needHistory = true;
  pollNow();
}

function signOut(message = null) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.session += 1;
  clearTimeout(state.timer);
  state.timer = null;
  state.cycleAgain = false;
  state.followed.clear();
  $("follow-list").replaceChildren();
  refreshFollowEmpty();
  $("history-body").replaceChildren();
  $("history").hidden = true;
  $("history-more").hidden = true;
  $("banner").hidden = true;
  setImportStatus(null);
  setImportError(null);
  if ($("errors-dialog").open) $("errors-dialog").close();
  showSignIn(message);
}

function onTokenSubmit(event) {
  event.preventDefault();
  const token = $("token-input").value.trim().replace(/^Bearer\s+/i, "");
  if (token.split(".").length !== 3) {
    showSignIn("Eso no parece un token: pegue el token completo que imprimió el stack local.");
    return;
  }
  $("token-input").value = "";
  sessionStorage.setItem(TOKEN_KEY, token);
  startSession(token);
}

function cognitoBase() {
  const domain = state.config.cognitoDomain.replace(/\/+$/, "");
  return /^https?:\/\//.test(domain) ? domain : `https://${domain}`;
}

function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

function base64url(bytes) {
  const base64 = btoa(String.fromCharCode(...bytes));
  return base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The hosted UI with the authorization-code flow and PKCE (S256). */
async function startCognitoSignIn() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state: nonce }));
  const url = new URL(`${cognitoBase()}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: state.config.cognitoClientId,
    redirect_uri: redirectUri(),
    scope: "openid email",
    state: nonce,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  });
  location.assign(url);
}

/** Back from the hosted UI with ?code=...: exchange it for tokens; returns an error or null. */
async function completeCognitoSignIn() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? "null");
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", location.pathname); // the code is single-use: drop it from the URL
  if (params.has("error")) return `El ingreso fue rechazado (${params.get("error")}).`;
  if (!saved || saved.state !== params.get("state")) {
    return "La respuesta del ingreso no corresponde a esta pestaña: vuelva a ingresar.";
  }
  try {
    const response = await fetch(`${cognitoBase()}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: state.config.cognitoClientId,
        code: params.get("code"),
        redirect_uri: redirectUri(),
        code_verifier: saved.verifier,
      }),
    });
    const tokens = await response.json();
    if (!response.ok || !tokens.id_token) {
      return "No se pudo completar el ingreso: vuelva a intentarlo.";
    }
    sessionStorage.setItem(TOKEN_KEY, tokens.id_token);
    return null;
  } catch {
    return "No se pudo contactar al servicio de ingreso.";
  }
}

function onSignOutClick() {
  const cognito = state.config.authMode === "cognito";
  signOut();
  if (cognito) {
    const url = new URL(`${cognitoBase()}/logout`);
    url.search = new URLSearchParams({
      client_id: state.config.cognitoClientId,
      logout_uri: redirectUri(),
    });
    location.assign(url);
  }
}

// --- start -----------------------------------------------------------------------------------

/** /ui-config, retried with backoff while the API is down. */
async function loadConfig() {
  for (let failures = 1; ; failures += 1) {
    try {
      const response = await fetch("ui-config", { cache: "no-store", credentials: "omit" });
      if (response.ok) {
        $("banner").hidden = true;
        return await response.json();
      }
    } catch {
      // retried below
    }
    const delay = Math.min(1000 * 2 ** failures, MAX_BACKOFF_MS);
    showBanner(`No se puede contactar al servidor. Reintentando en ${Math.round(delay / 1000)} s.`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function bindUi() {
  $("token-form").addEventListener("submit", onTokenSubmit);
  $("cognito-button").addEventListener("click", startCognitoSignIn);
  $("sign-out").addEventListener("click", onSignOutClick);
  $("import-form").addEventListener("submit", onImportSubmit);
  $("file").addEventListener("change", showChosenFile);
  $("codigo").addEventListener("input", (event) => {
    const input = event.target;
    const at = input.selectionStart;
    input.value = input.value.toUpperCase();
    input.setSelectionRange(at, at);
  });
  $("history-refresh").addEventListener("click", () => {
    state.needHistory = true;
    pollNow();
  });
  $("history-more").addEventListener("click", async () => {
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
  });
  $("errors-close").addEventListener("click", () => $("errors-dialog").close());
  $("errors-more").addEventListener("click", loadErrors);
}

async function main() {
  bindUi();
  state.config = await loadConfig();
  if (state.config.maxFileSize) {
    $("file-hint").textContent = `Hasta ${formatMegabytes(state.config.maxFileSize)}.`;
  }
  let signInError = null;
  if (state.config.authMode === "cognito") signInError = await completeCognitoSignIn();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) startSession(token);
  else showSignIn(signInError);
}

main();
