// Talking to our server: every call to /api carries the bearer token in a header and never in
// a URL, gives up after a timeout, and throws ApiError with the server's Spanish message. Paths
// stay relative: deployed, the page is served under an API Gateway stage path. The connection
// state (failures, offline, the banner) and the backoff while the server is unreachable live
// here too.

import { signOut } from "./auth.js";
import { $, showBanner } from "./dom.js";
import { state } from "./state.js";

const MAX_BACKOFF_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;

const hooks = { onReconnect: () => {} };

/** What to do when a request gets through after failures (app.js wires the polling loop). */
export function configureApi({ onReconnect }) {
  hooks.onReconnect = onReconnect;
}

export class ApiError extends Error {
  constructor(status, code, message, location = null, loteId = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.location = location; // where in the request, when the API says (a rule's field)
    this.loteId = loteId; // the lote the error is about (LOTE_EXISTS, DUPLICATE_FILE)
  }
}

/** Errors the user needs no message for: signed out (401) or a late answer for an old session. */
export function isSignedOut(error) {
  return error.status === 401 || error.status === -1;
}

function isTransient(error) {
  return error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500;
}

/** Calls the API with the bearer token; throws ApiError with the server's Spanish message. */
export async function api(path, { method = "GET", body, headers = {} } = {}) {
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
      data?.location ?? null,
      data?.loteId ?? null,
    );
  }
  return data;
}

/** /ui-config, retried with backoff while the API is down. */
export async function loadConfig() {
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
    const delay = backoff(1000, failures);
    showBanner(`No se puede contactar al servidor. Reintentando en ${Math.round(delay / 1000)} s.`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function backoff(baseMs, doublings) {
  return Math.min(baseMs * 2 ** doublings, MAX_BACKOFF_MS);
}

/** A new session starts with a clean connection state. */
export function resetConnection() {
  state.failures = 0;
  state.offline = false;
}

/** A round of the polling loop failed: shows the banner; returns how long to wait. */
export function markOffline(error, baseMs) {
  state.failures += 1;
  state.offline = true;
  const delay = backoff(baseMs, state.failures - 1);
  const what = isTransient(error)
    ? "No se puede contactar al servidor."
    : `Error del servidor: ${error.message}`;
  showBanner(`${what} Reintentando en ${Math.round(delay / 1000)} s.`);
  return delay;
}

function markOnline() {
  if (!state.offline) return;
  state.offline = false;
  state.failures = 0;
  $("banner").hidden = true;
  hooks.onReconnect();
}
