// The import page: sign in, upload a DKT file straight to S3, follow the job, history.
// Plain ES modules, no framework and no build step, each served as static/<name>.js:
//   auth.js         dev token or Cognito (code flow + PKCE) sign-in; a session's start and end
//   api.js          requests with the bearer header, timeouts, ApiError, the backoff
//   follow.js       the polling loop and the jobs in progress: progress, Cancelar, Reintentar
//   import-form.js  the new-import form and the upload to S3
//   history.js      the history table and the error report
//   notices.js      one notice per finished job, across reloads and tabs
//   jobs.js, format.js, dom.js, state.js   what a job means, es-AR texts, DOM helpers, state
// This one wires them together and starts the page.

import { configureApi, loadConfig, resetConnection } from "./api.js";
import {
  completeCognitoSignIn,
  configureAuth,
  onSignOutClick,
  onTokenSubmit,
  showSignIn,
  startCognitoSignIn,
  startSession,
  storedToken,
} from "./auth.js";
import { $ } from "./dom.js";
import {
  downloadExport,
  followStarted,
  onOtherTabMessage,
  pollNow,
  resumeAfterReconnect,
  retryJob,
  startErrorsExport,
  startExport,
  stopFollowing,
} from "./follow.js";
import {
  clearHistory,
  clearHistoryFilter,
  closeErrors,
  configureHistory,
  exportErrors,
  filterHistory,
  loadErrors,
  loadMoreHistory,
} from "./history.js";
import {
  clearLinesFilter,
  clearLotes,
  clearLotesFilter,
  closeLines,
  configureLotes,
  filterLotes,
  loadLines,
  loadMoreLotes,
  searchLines,
} from "./lotes.js";
import {
  importAnyway,
  onCodigoInput,
  onImportSubmit,
  prepareReplace,
  resetImportForm,
  restoreCodigo,
  showChosenFile,
  showDuplicateLote,
  showFormLimits,
} from "./import-form.js";
import { clearMetrics, loadMetrics } from "./metrics.js";
import { listenToOtherTabs } from "./notices.js";
import {
  addAction,
  addCondition,
  clearRules,
  closeEditor,
  closeLookup,
  deleteLookup,
  loadRules,
  loadVersions,
  openEditor,
  openLookup,
  saveLookup,
  saveRule,
  tryRule,
} from "./rules.js";
import { state } from "./state.js";

function onSessionStart() {
  resetConnection();
  restoreCodigo();
  state.needDiscover = true;
  state.needHistory = true;
  pollNow();
  loadRules().catch(() => {});
  loadMetrics();
}

function onSessionEnd() {
  stopFollowing();
  clearHistory();
  clearLotes();
  closeLines();
  clearRules();
  clearMetrics();
  closeEditor();
  closeLookup();
  $("banner").hidden = true;
  resetImportForm();
  closeErrors();
}

function bindUi() {
  configureAuth({ onSessionStart, onSessionEnd });
  configureApi({ onReconnect: resumeAfterReconnect });
  configureLotes({ onExport: startExport, onDeleted: followStarted, onReplace: prepareReplace });
  configureHistory({
    onRetry: retryJob,
    onExport: startExport,
    onExportErrors: startErrorsExport,
    onDownload: downloadExport,
  });
  listenToOtherTabs(onOtherTabMessage);
  $("token-form").addEventListener("submit", onTokenSubmit);
  $("cognito-button").addEventListener("click", startCognitoSignIn);
  $("sign-out").addEventListener("click", onSignOutClick);
  $("import-form").addEventListener("submit", (event) => onImportSubmit(event));
  $("import-anyway").addEventListener("click", importAnyway);
  $("duplicate-lote").addEventListener("click", showDuplicateLote);
  $("file").addEventListener("change", showChosenFile);
  $("codigo").addEventListener("input", onCodigoInput);
  $("history-refresh").addEventListener("click", () => {
    state.needHistory = true;
    pollNow();
  });
  $("history-more").addEventListener("click", loadMoreHistory);
  $("metrics-days").addEventListener("change", loadMetrics);
  $("metrics-refresh").addEventListener("click", loadMetrics);
  $("errors-close").addEventListener("click", closeErrors);
  $("errors-more").addEventListener("click", loadErrors);
  $("lotes-more").addEventListener("click", loadMoreLotes);
  $("lines-more").addEventListener("click", loadLines);
  $("rule-new").addEventListener("click", () => openEditor());
  $("rule-close").addEventListener("click", closeEditor);
  $("rule-form").addEventListener("submit", saveRule);
  $("condition-add").addEventListener("click", () => addCondition());
  $("action-add").addEventListener("click", () => addAction());
  $("rule-test").addEventListener("click", tryRule);
  $("lookup-new").addEventListener("click", () => openLookup());
  $("lookup-close").addEventListener("click", closeLookup);
  $("lookup-form").addEventListener("submit", saveLookup);
  $("lookup-delete").addEventListener("click", deleteLookup);
  $("rules-versions").addEventListener("toggle", (event) => {
    if (event.target.open) loadVersions();
  });
  $("history-filter").addEventListener("submit", filterHistory);
  $("history-filter-clear").addEventListener("click", clearHistoryFilter);
  $("lotes-filter").addEventListener("submit", filterLotes);
  $("lotes-filter-clear").addEventListener("click", clearLotesFilter);
  $("lines-filter").addEventListener("submit", searchLines);
  $("lines-filter-clear").addEventListener("click", clearLinesFilter);
  $("lines-close").addEventListener("click", closeLines);
  $("errors-export-csv").addEventListener("click", () => exportErrors("csv"));
  $("errors-export-xlsx").addEventListener("click", () => exportErrors("xlsx"));
}

async function main() {
  bindUi();
  state.config = await loadConfig();
  showFormLimits();
  let signInError = null;
  if (state.config.authMode === "cognito") signInError = await completeCognitoSignIn();
  const token = storedToken();
  if (token) startSession(token);
  else showSignIn(signInError);
}

main();
