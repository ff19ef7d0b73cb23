// The state the page's modules share: one object, so that all of them see the same session.

export const state = {
  config: null, // /ui-config, loaded once by app.js
  token: null, // auth.js
  session: 0, // bumped on sign-out: answers that arrive later for an old session are dropped
  followed: new Map(), // job id -> { job, el, finalSeen }; follow.js
  timer: null, // the polling loop's next round; follow.js
  cycleRunning: false,
  cycleAgain: false,
  failures: 0, // the connection, for the backoff; api.js
  offline: false,
  needDiscover: false,
  needHistory: false,
  historyCursor: null, // history.js
  errorsJob: null,
  errorsCursor: null,
  lotesCursor: null, // lotes.js
  linesLote: null,
  linesCursor: null,
  linesFilter: null, // the search the dialog shows, as the API reads it
  linesFound: 0,
  ruleFields: [], // the columns of the fields the lote's rules set
};
