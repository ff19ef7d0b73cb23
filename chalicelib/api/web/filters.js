// What every filter form of the page does on Filtrar: check the form, load again, and say
// so when the API refused the filter.

import { isSignedOut } from "./api.js";
import { $ } from "./dom.js";
import { showNotice } from "./notices.js";

export async function applyFilter(event, formId, load, failure) {
  event?.preventDefault();
  if (!$(formId).reportValidity()) return;
  try {
    await load();
  } catch (error) {
    if (!isSignedOut(error)) showNotice({ title: failure, detail: error.message, kind: "error" });
  }
}
