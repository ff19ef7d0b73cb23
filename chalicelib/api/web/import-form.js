// The new-import form: checks the card code and the file, creates the job, uploads the file
// straight to S3 with the presigned POST, then follows the job.

import { api, isSignedOut } from "./api.js";
import { $ } from "./dom.js";
import { followStarted } from "./follow.js";
import { beatUpload, endUpload, UPLOAD_BEAT_MS } from "./jobs.js";
import { formatMegabytes, formatSize } from "./format.js";
import { openLines } from "./lotes.js";
import { askToNotify } from "./notices.js";
import { state } from "./state.js";

const CODIGO_KEY = "dkt.lastCodigo"; // localStorage: convenience only
const HASH_IN_PAGE_MAX_BYTES = 256 * 1024 * 1024;

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

/** The file's SHA-256 (hex): the API refuses a file already imported before any byte is
 * uploaded. Null where the browser has no Web Crypto (the service checks the upload anyway). */
async function sha256Hex(file) {
  // Web Crypto hashes a buffer whole: past this size the page leaves it to the service.
  if (!crypto.subtle || file.size > HASH_IN_PAGE_MAX_BYTES) return null;
  try {
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  } catch {
    return null; // out of memory, or a file that cannot be read: the service still checks
  }
}

function setImportError(text, field = null) {
  const box = $("import-error");
  box.textContent = text ?? "";
  box.hidden = !text;
  $("duplicate-actions").hidden = true;
  for (const input of [$("codigo"), $("file")]) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

function setImportStatus(text) {
  $("import-status").textContent = text ?? "";
}

/** Importar; `allowDuplicate` from "Importar de todos modos", after the API said the file is
 * already a lote's. */
export async function onImportSubmit(event, { allowDuplicate = false } = {}) {
  event?.preventDefault();
  askToNotify();
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
  const replacing =
    "Si el lote de este archivo ya existe, sus líneas se reemplazarán por las del archivo. " +
    "¿Continuar?";
  if ($("replace").checked && !window.confirm(replacing)) return;
  const submit = $("import-submit");
  submit.disabled = true;
  const session = state.session;
  try {
    setImportStatus("Revisando el archivo…");
    const sha256 = await sha256Hex(file);
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
        ...(sha256 ? { sha256 } : {}),
        allowDuplicate,
        ...($("run-at").value ? { runAt: new Date($("run-at").value).toISOString() } : {}),
        ...($("notify-email").checked ? { notifyEmail: true } : {}),
      },
    });
    if (created.upload) await sendFile(created, file);
    if (session !== state.session) return;
    localStorage.setItem(CODIGO_KEY, codigo);
    $("file").value = "";
    showChosenFile();
    $("skip-invalid").checked = false;
    $("replace").checked = false;
    $("run-at").value = "";
    $("notify-email").checked = false;
    setImportStatus(`${file.name} subido: la importación sigue en segundo plano.`);
    followStarted(created.job);
  } catch (error) {
    if (isSignedOut(error) || session !== state.session) return;
    setImportStatus(null);
    setImportError(error.message);
    if (error.code === "DUPLICATE_FILE" && error.loteId) showDuplicate(error.loteId);
  } finally {
    submit.disabled = false;
  }
}

// Leaving the page mid-upload loses the file: the browser asks first.
function warnBeforeLeaving(event) {
  event.preventDefault();
  event.returnValue = "";
}

/** The file to S3, with a progress bar; the job is marked as being uploaded from this
 * browser (other tabs, and this one after a reload, tell a live upload from a lost one). */
async function sendFile(created, file) {
  const jobId = created.job.id;
  const bar = $("upload-progress");
  setImportStatus(`Subiendo ${file.name}…`);
  bar.value = 0;
  bar.hidden = false;
  beatUpload(jobId);
  const beat = setInterval(() => beatUpload(jobId), UPLOAD_BEAT_MS);
  window.addEventListener("beforeunload", warnBeforeLeaving);
  let shown = 0;
  try {
    await uploadToS3(created.upload, file, (fraction) => {
      bar.value = fraction;
      // In steps of 10 %: the status is a live region, read out on every change.
      const step = Math.floor(fraction * 10) * 10;
      if (step > shown) setImportStatus(`Subiendo ${file.name}… ${(shown = step)} %`);
    });
  } catch (error) {
    // The job would wait for a file that will not come: cancel it now.
    const cancelPath = `api/jobs/${encodeURIComponent(jobId)}/cancel`;
    api(cancelPath, { method: "POST" }).catch(() => {});
    throw error;
  } finally {
    clearInterval(beat);
    window.removeEventListener("beforeunload", warnBeforeLeaving);
    endUpload(jobId);
    bar.hidden = true;
  }
}

export function showChosenFile() {
  const file = $("file").files[0];
  const label = $("file-name");
  label.textContent = file ? `${file.name} (${formatSize(file.size)})` : "Ningún archivo elegido";
  label.classList.toggle("chosen", Boolean(file));
}

export function onCodigoInput(event) {
  const input = event.target;
  const at = input.selectionStart;
  input.value = input.value.toUpperCase();
  input.setSelectionRange(at, at);
}

/** What the service allows: the maximum file size under the file field, the e-mail option. */
export function showFormLimits() {
  $("notify-email-option").hidden = !state.config.emailNotifications;
  if (state.config.maxFileSize) {
    $("file-hint").textContent = `Hasta ${formatMegabytes(state.config.maxFileSize)}.`;
  }
}

/** A new session starts with the card code used last on this browser. */
export function restoreCodigo() {
  $("codigo").value = localStorage.getItem(CODIGO_KEY) ?? "";
}

/** The file is already lote `loteId`: see that lote, or import the file anyway. */
function showDuplicate(loteId) {
  const see = $("duplicate-lote");
  see.textContent = `Ver el lote ${loteId}`;
  see.dataset.loteId = loteId;
  $("duplicate-actions").hidden = false;
}

export function importAnyway() {
  return onImportSubmit(null, { allowDuplicate: true });
}

export async function showDuplicateLote() {
  try {
    const { lote } = await api(`api/lotes/${encodeURIComponent($("duplicate-lote").dataset.loteId)}`);
    await openLines(lote);
  } catch (error) {
    if (!isSignedOut(error)) setImportError(error.message);
  }
}

export function resetImportForm() {
  setImportStatus(null);
  setImportError(null);
}

/** Reemplazar on a lote: the form takes the lote's card, asks to replace, and waits for the
 * file (the file's periodo decides the lote; the hint says which one the user meant). */
export function prepareReplace(lote) {
  $("codigo").value = lote.codigoTarjeta;
  $("replace").checked = true;
  setImportError(null);
  setImportStatus(
    `Elija el archivo del periodo ${lote.periodo} para reemplazar el lote ${lote.loteId}.`,
  );
  $("import-form").scrollIntoView({ block: "start" });
  $("file").focus();
}
