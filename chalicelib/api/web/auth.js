// Signing in: a pasted dev token locally, the Cognito hosted UI (code flow with PKCE) when
// deployed. The token lives in sessionStorage, this tab only, and never in a URL.

import { $ } from "./dom.js";
import { state } from "./state.js";

const TOKEN_KEY = "dkt.token"; // sessionStorage: this tab only, gone with it
const PKCE_KEY = "dkt.pkce"; // sessionStorage: the Cognito sign-in in flight

const hooks = { onSessionStart: () => {}, onSessionEnd: () => {} };

/** What the rest of the page does when a session starts and when it ends (app.js wires it). */
export function configureAuth({ onSessionStart, onSessionEnd }) {
  hooks.onSessionStart = onSessionStart;
  hooks.onSessionEnd = onSessionEnd;
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function decodeClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

export function tenantOf(claims) {
  return claims.tenant ?? claims["custom:tenant"] ?? null;
}

export function showSignIn(message = null) {
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

export function startSession(token) {
  state.token = token;
  state.session += 1;
  const claims = decodeClaims(token);
  const tenant = claims && tenantOf(claims);
  const who = claims ? claims.email ?? claims["cognito:username"] ?? claims.sub : "";
  $("who").textContent = who ? `${who}${tenant ? ` (${tenant})` : ""}` : "";
  $("loading").hidden = true;
  $("sign-in").hidden = true;
  $("session").hidden = false;
  $("app").hidden = false;
  hooks.onSessionStart();
}

export function signOut(message = null) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.session += 1;
  hooks.onSessionEnd();
  showSignIn(message);
}

export function onTokenSubmit(event) {
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
export async function startCognitoSignIn() {
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
export async function completeCognitoSignIn() {
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

export function onSignOutClick() {
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
