// The tenant's business rules on screen: the current version's rules and lookup tables, an
// editor that offers the fields, operators and actions the API names (GET
// /api/rules/vocabulary), a try on sample lines of a lote before saving, the version history.

import { api, isSignedOut } from "./api.js";
import { $, el, tableRow } from "./dom.js";
import { formatAmount, formatDate, formatNumber } from "./format.js";
import { showNotice } from "./notices.js";

const SAMPLE_LINES = 20;

const rules = {
  vocabulary: null, // { fields, operators, actions, matches }
  current: null, // the RuleSetView shown
  editing: null, // index in current.rules, or null for a new rule
};

export async function loadRules() {
  rules.vocabulary ??= await api("api/rules/vocabulary");
  rules.current = await api("api/rules");
  renderRules();
}

export function clearRules() {
  rules.current = null;
  $("rules-body").replaceChildren();
  $("lookups-list").replaceChildren();
  $("versions-body").replaceChildren();
  $("rules-versions").open = false;
}

function fieldLabel(name) {
  return rules.vocabulary?.fields.find((field) => field.name === name)?.label ?? name;
}

function operatorTerm(op) {
  return rules.vocabulary.operators.find((term) => term.op === op);
}

function actionTerm(type) {
  return rules.vocabulary.actions.find((term) => term.type === type);
}

function renderRules() {
  const { version, updatedAt, updatedBy, lookups } = rules.current;
  const list = rules.current.rules;
  $("rules-version").textContent = version
    ? `Versión ${version}, guardada el ${formatDate(updatedAt)} por ${updatedBy}.`
    : "Todavía no hay reglas: las líneas se importan tal como vienen en el archivo.";
  const body = $("rules-body");
  body.replaceChildren(...list.map((rule, index) => ruleRow(rule, index)));
  $("rules-table").hidden = list.length === 0;
  const names = Object.keys(lookups).sort();
  $("lookups-empty").hidden = names.length > 0;
  $("lookups-list").replaceChildren(
    ...names.map((name) => {
      const edit = el("button", { type: "button", className: "secondary small", textContent: "Editar" });
      edit.setAttribute("aria-label", `Editar la tabla ${name}`);
      edit.addEventListener("click", () => openLookup(name));
      const count = Object.keys(lookups[name]).length;
      return el("li", { dataset: { table: name } }, `${name}: ${formatNumber(count)} claves `, edit);
    }),
  );
}

// --- lookup tables ---------------------------------------------------------------------------

/** A table as the user edits it: one "clave = valor" per line. */
function lookupText(entries) {
  return Object.entries(entries)
    .map(([key, value]) => `${key} = ${value}`)
    .join("\n");
}

function entriesFrom(text) {
  const entries = {};
  const problems = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const at = line.indexOf("=");
    if (at <= 0) problems.push(i + 1);
    else entries[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  });
  return { entries, problems };
}

export async function openLookup(name = null) {
  if (!rules.current) await loadRules();
  const dialog = $("lookup-dialog");
  $("lookup-title").textContent = name ? `Tabla ${name}` : "Nueva tabla de búsqueda";
  $("lookup-name").value = name ?? "";
  $("lookup-name").readOnly = Boolean(name);
  $("lookup-entries").value = name ? lookupText(rules.current.lookups[name]) : "";
  $("lookup-delete").hidden = !name;
  $("lookup-error").hidden = true;
  if (!dialog.open) dialog.showModal();
  (name ? $("lookup-entries") : $("lookup-name")).focus();
}

export function closeLookup() {
  if ($("lookup-dialog").open) $("lookup-dialog").close();
}

function lookupError(text) {
  const box = $("lookup-error");
  box.textContent = text;
  box.hidden = false;
  box.focus();
}

export async function saveLookup(event) {
  event.preventDefault();
  const name = $("lookup-name").value.trim();
  const { entries, problems } = entriesFrom($("lookup-entries").value);
  if (!name) return lookupError("Escriba el nombre de la tabla.");
  if (problems.length) {
    return lookupError(`Cada línea lleva clave = valor; revise la línea ${problems.join(", ")}.`);
  }
  await changeLookup(name, { method: "PUT", body: { entries } }, `Tabla ${name} guardada`);
}

export async function deleteLookup() {
  const name = $("lookup-name").value.trim();
  if (!window.confirm(`¿Eliminar la tabla ${name}?`)) return;
  await changeLookup(name, { method: "DELETE" }, `Tabla ${name} eliminada`);
}

async function changeLookup(name, request, done) {
  try {
    rules.current = await api(`api/rules/lookups/${encodeURIComponent(name)}`, request);
    renderRules();
    closeLookup();
    showNotice({ title: done, detail: versionText(), kind: "success" });
  } catch (error) {
    if (!isSignedOut(error)) lookupError(error.message);
  }
}

function conditionText(rule) {
  if (!rule.conditions?.length) return "Siempre";
  const joiner = rule.match === "ANY" ? " o " : " y ";
  return rule.conditions
    .map(({ field, op, value }) => {
      const term = operatorTerm(op);
      const shown = Array.isArray(value) ? value.join(", ") : (value ?? "");
      return `${fieldLabel(field)} ${term?.label ?? op}${shown ? ` ${shown}` : ""}`;
    })
    .join(joiner);
}

function actionText(rule) {
  return rule.actions
    .map((action) => {
      const what = actionTerm(action.type)?.label ?? action.type;
      const detail = action.value ?? action.table ?? action.pattern ?? "";
      return `${action.field}: ${what}${detail ? ` (${detail})` : ""}`;
    })
    .join("; ");
}

function ruleRow(rule, index) {
  const edit = el("button", { type: "button", className: "secondary small", textContent: "Editar" });
  edit.setAttribute("aria-label", `Editar la regla ${rule.code}`);
  edit.addEventListener("click", () => openEditor(index));
  const remove = el("button", { type: "button", className: "danger small", textContent: "Eliminar" });
  remove.setAttribute("aria-label", `Eliminar la regla ${rule.code}`);
  remove.addEventListener("click", () => removeRule(index));
  return tableRow(
    $("rules-table"),
    { dataset: { code: rule.code } },
    el("td", { className: "lote", textContent: rule.code }),
    el("td", { textContent: rule.name }),
    el("td", { className: "num", textContent: String(rule.priority ?? 0) }),
    el("td", { textContent: rule.active === false ? "No" : "Sí" }),
    el("td", { textContent: conditionText(rule) }),
    el("td", { textContent: actionText(rule) }),
    el("td", { className: "actions" }, el("div", { className: "row-actions" }, edit, remove)),
  );
}

async function removeRule(index) {
  const rule = rules.current.rules[index];
  if (!window.confirm(`¿Eliminar la regla ${rule.code}? Las importaciones nuevas ya no la aplicarán.`)) {
    return;
  }
  const remaining = rules.current.rules.filter((_, i) => i !== index);
  try {
    rules.current = await api("api/rules", { method: "PUT", body: { rules: remaining } });
    renderRules();
    showNotice({ title: `Regla ${rule.code} eliminada`, detail: versionText(), kind: "success" });
  } catch (error) {
    if (!isSignedOut(error)) {
      showNotice({ title: "No se pudo eliminar la regla", detail: error.message, kind: "error" });
    }
  }
}

function versionText() {
  return `Reglas guardadas como versión ${rules.current.version}.`;
}

// --- the editor ------------------------------------------------------------------------------

/** The field names a rule may read or set: the record's, and those other rules set. */
function knownFields() {
  const set = rules.current.rules.flatMap((rule) => rule.actions.map((action) => action.field));
  const record = rules.vocabulary.fields.map((field) => field.name);
  return [...new Set([...record, ...set])];
}

function options(select, items, chosen) {
  select.replaceChildren(
    ...items.map(([value, label]) => el("option", { value, textContent: label, selected: value === chosen })),
  );
  if (chosen != null) select.value = chosen;
  return select;
}

function fieldOptions(chosen) {
  const names = knownFields();
  if (chosen && !names.includes(chosen)) names.push(chosen);
  return names.map((name) => [name, fieldLabel(name) === name ? name : `${fieldLabel(name)} (${name})`]);
}

function labelled(text, control) {
  const id = `rule-input-${Math.random().toString(36).slice(2, 10)}`;
  control.id = id;
  return el("div", { className: "field" }, el("label", { htmlFor: id, textContent: text }), control);
}

export async function openEditor(index = null) {
  if (!rules.current) await loadRules();
  rules.editing = index;
  const rule = index == null ? null : rules.current.rules[index];
  $("rule-title").textContent = rule ? `Regla ${rule.code}` : "Nueva regla";
  clearRuleError();
  $("rule-code").value = rule?.code ?? "";
  $("rule-name").value = rule?.name ?? "";
  $("rule-priority").value = String(rule?.priority ?? 10);
  $("rule-active").checked = rule?.active !== false;
  $("rule-stop").checked = Boolean(rule?.stopOnMatch);
  options($("rule-match"), rules.vocabulary.matches.map((m) => [m.name, m.label]), rule?.match ?? "ALL");
  $("rule-conditions").replaceChildren();
  $("rule-actions").replaceChildren();
  for (const condition of rule?.conditions ?? []) addCondition(condition);
  for (const action of rule?.actions ?? [{ type: "SET" }]) addAction(action);
  renumber();
  const lotes = [...document.querySelectorAll("#lotes-body tr[data-lote-id]")].map((row) => row.dataset.loteId);
  options($("rule-test-lote"), lotes.map((id) => [id, id]), lotes[0]);
  $("rule-test").disabled = lotes.length === 0;
  $("rule-test-summary").textContent = lotes.length ? "" : "Importe un lote para probar las reglas con sus líneas.";
  $("rule-test-body").replaceChildren();
  $("rule-test-table").hidden = true;
  const dialog = $("rule-dialog");
  if (!dialog.open) dialog.showModal();
  $("rule-code").focus();
}

export function closeEditor() {
  if ($("rule-dialog").open) $("rule-dialog").close();
}

function removeButton(text, node) {
  const button = el("button", { type: "button", className: "secondary small", textContent: text });
  button.addEventListener("click", () => {
    node.remove();
    renumber();
  });
  return button;
}

export function addCondition(condition = {}) {
  const node = el("div", { className: "rule-part condition" });
  const field = options(el("select", { className: "part-field" }), fieldOptions(condition.field), condition.field ?? "descripcionCupon");
  const op = options(
    el("select", { className: "part-op" }),
    rules.vocabulary.operators.map((term) => [term.op, term.label]),
    condition.op ?? "CONTAINS",
  );
  const value = el("input", { type: "text", className: "part-value", autocomplete: "off" });
  const until = el("input", { type: "text", className: "part-until", autocomplete: "off" });
  const given = condition.value;
  if (Array.isArray(given) && condition.op === "BETWEEN") [value.value, until.value] = given;
  else value.value = Array.isArray(given) ? given.join(", ") : (given ?? "");
  const valueField = labelled("Valor", value);
  const untilField = labelled("Hasta", until);
  const showValue = () => {
    const kind = operatorTerm(op.value)?.value;
    valueField.hidden = kind === "none";
    untilField.hidden = kind !== "range";
    valueField.querySelector("label").textContent =
      kind === "list" ? "Valores (separados por coma)" : kind === "range" ? "Desde" : "Valor";
  };
  op.addEventListener("change", showValue);
  node.append(labelled("Campo", field), labelled("Operador", op), valueField, untilField, removeButton("Quitar condición", node));
  $("rule-conditions").append(node);
  showValue();
  renumber();
}

const PARAM_LABELS = {
  value: "Valor",
  separator: "Separador",
  source: "Campo de origen",
  pattern: "Patrón",
  group: "Grupo",
  table: "Tabla",
  default: "Valor si no está en la tabla",
};

export function addAction(action = {}) {
  const node = el("div", { className: "rule-part action" });
  const type = options(
    el("select", { className: "part-type" }),
    rules.vocabulary.actions.map((term) => [term.type, term.label]),
    action.type ?? "SET",
  );
  const field = el("input", { type: "text", className: "part-field", autocomplete: "off", spellcheck: false });
  field.setAttribute("list", "rule-field-names");
  field.value = action.field ?? "";
  const params = el("div", { className: "part-params" });
  const showParams = () => {
    const kept = Object.fromEntries(
      [...params.querySelectorAll("[data-param]")].map((input) => [input.dataset.param, input.value]),
    );
    params.replaceChildren(
      ...actionTerm(type.value).params.map((name) => {
        const initial = kept[name] ?? action[name] ?? "";
        let input;
        if (name === "source") input = options(el("select"), fieldOptions(initial), initial || "descripcionCupon");
        else if (name === "table") {
          const tables = Object.keys(rules.current.lookups).sort();
          input = options(el("select"), tables.map((t) => [t, t]), initial || tables[0]);
        } else input = el("input", { type: "text", autocomplete: "off", value: String(initial) });
        input.dataset.param = name;
        return labelled(PARAM_LABELS[name] ?? name, input);
      }),
    );
    renumber();
  };
  type.addEventListener("change", showParams);
  node.append(labelled("Acción", type), labelled("Campo que asigna", field), params, removeButton("Quitar acción", node));
  $("rule-actions").append(node);
  showParams();
}

/** Each input carries the path the API names in its errors ("conditions[0].op"). */
function renumber() {
  document.querySelectorAll("#rule-conditions .condition").forEach((node, i) => {
    node.dataset.path = `conditions[${i}]`;
    node.querySelector(".part-field").dataset.path = `conditions[${i}].field`;
    node.querySelector(".part-op").dataset.path = `conditions[${i}].op`;
    node.querySelector(".part-value").dataset.path = `conditions[${i}].value`;
  });
  document.querySelectorAll("#rule-actions .action").forEach((node, i) => {
    node.dataset.path = `actions[${i}]`;
    node.querySelector(".part-type").dataset.path = `actions[${i}].type`;
    node.querySelector(".part-field").dataset.path = `actions[${i}].field`;
    for (const input of node.querySelectorAll("[data-param]")) {
      input.dataset.path = `actions[${i}].${input.dataset.param}`;
    }
  });
  const names = $("rule-field-names");
  names.replaceChildren(...knownFields().map((name) => el("option", { value: name })));
}

/** The rule as the form has it, in the API's JSON. */
function ruleFromForm() {
  const priority = $("rule-priority").value.trim();
  const rule = {
    code: $("rule-code").value.trim(),
    name: $("rule-name").value.trim(),
    priority: /^-?[0-9]+$/.test(priority) ? Number(priority) : priority,
    active: $("rule-active").checked,
    match: $("rule-match").value,
    stopOnMatch: $("rule-stop").checked,
    conditions: [...document.querySelectorAll("#rule-conditions .condition")].map((node) => {
      const op = node.querySelector(".part-op").value;
      const kind = operatorTerm(op)?.value;
      const text = node.querySelector(".part-value").value.trim();
      const condition = { field: node.querySelector(".part-field").value, op };
      if (kind === "one") condition.value = text;
      if (kind === "list") condition.value = text.split(",").map((v) => v.trim()).filter(Boolean);
      if (kind === "range") condition.value = [text, node.querySelector(".part-until").value.trim()];
      return condition;
    }),
    actions: [...document.querySelectorAll("#rule-actions .action")].map((node) => {
      const action = {
        type: node.querySelector(".part-type").value,
        field: node.querySelector(".part-field").value.trim(),
      };
      for (const input of node.querySelectorAll("[data-param]")) {
        const value = input.value.trim();
        const name = input.dataset.param;
        if (value === "" && ["separator", "default", "group"].includes(name)) continue;
        action[name] = name === "group" && /^[0-9]+$/.test(value) ? Number(value) : value;
      }
      return action;
    }),
  };
  return rule;
}

/** The whole rule set with the edited rule in its place. */
function draftRules() {
  const list = [...rules.current.rules];
  const rule = ruleFromForm();
  if (rules.editing == null) list.push(rule);
  else list[rules.editing] = rule;
  return { list, index: rules.editing ?? list.length - 1 };
}

function clearRuleError() {
  const box = $("rule-error");
  box.hidden = true;
  box.textContent = "";
  for (const node of document.querySelectorAll("#rule-form [aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    node.removeAttribute("aria-describedby");
  }
}

/** Shows the API's message, at the input it names when it is about this rule. */
function showRuleError(error, index) {
  const box = $("rule-error");
  box.textContent = error.message;
  box.hidden = false;
  const location = error.location;
  if (location?.ruleIndex !== index || !location.field) {
    box.focus();
    return;
  }
  // The deepest input the path names: "conditions[0].value" or, failing that, "conditions[0]".
  let path = location.field;
  let target = null;
  while (path && !target) {
    target = document.querySelector(`#rule-form [data-path="${CSS.escape(path)}"]`);
    target ??= path === "code" ? $("rule-code") : path === "name" ? $("rule-name") : null;
    target ??= path === "priority" ? $("rule-priority") : null;
    path = path.includes(".") || path.includes("[") ? path.replace(/(\.[^.[\]]+|\[[0-9]+\])$/, "") : "";
  }
  if (!target) return box.focus();
  if (!target.matches("input, select")) target = target.querySelector("input, select") ?? target;
  target.setAttribute("aria-invalid", "true");
  target.setAttribute("aria-describedby", "rule-error");
  target.focus();
}

export async function saveRule(event) {
  event.preventDefault();
  clearRuleError();
  const { list, index } = draftRules();
  const button = $("rule-save");
  button.disabled = true;
  try {
    rules.current = await api("api/rules", { method: "PUT", body: { rules: list } });
    renderRules();
    closeEditor();
    const code = list[index].code;
    showNotice({ title: `Regla ${code} guardada`, detail: versionText(), kind: "success" });
    if ($("rules-versions").open) loadVersions();
  } catch (error) {
    if (!isSignedOut(error)) showRuleError(error, index);
  } finally {
    button.disabled = false;
  }
}

/** Probar: the draft rules on the first lines of a lote; nothing is saved. */
export async function tryRule() {
  clearRuleError();
  const loteId = $("rule-test-lote").value;
  const { list, index } = draftRules();
  const summary = $("rule-test-summary");
  summary.textContent = "Probando…";
  try {
    const page = await api(`api/lotes/${encodeURIComponent(loteId)}?limit=${SAMPLE_LINES}`);
    // The file's own fields only: what earlier rules set is set again by these.
    const own = new Set(rules.vocabulary.fields.map((field) => field.name));
    const lines = page.lines.map(({ record }) =>
      Object.fromEntries(Object.entries(record).filter(([name]) => own.has(name))),
    );
    const result = await api("api/rules/test", {
      method: "POST",
      body: { rules: list, lookups: rules.current.lookups, lines },
    });
    const code = list[index].code;
    const rows = result.results.map((tested, i) => testRow(tested, lines[i], page.lines[i].lineNo, code));
    $("rule-test-body").replaceChildren(...rows);
    $("rule-test-table").hidden = false;
    const fired = result.results.filter((tested) => tested.fired?.includes(code)).length;
    summary.textContent = `La regla ${code} se aplica a ${fired} de ${lines.length} líneas del lote ${loteId}.`;
  } catch (error) {
    if (isSignedOut(error)) return;
    summary.textContent = "";
    showRuleError(error, index);
  }
}

function testRow(tested, before, lineNo, code) {
  const after = tested.record ?? {};
  const changed = Object.keys(after)
    .filter((name) => after[name] !== before[name] && name !== "lineNo")
    .map((name) => `${name} = ${after[name]}`);
  const errors = (tested.errors ?? []).map((e) => `${e.rule}: ${e.reason}`);
  const row = tableRow(
    $("rule-test-table"),
    { className: tested.fired?.includes(code) ? "fired" : "" },
    el("td", { className: "num", textContent: formatNumber(lineNo) }),
    el("td", { textContent: before.descripcionCupon ?? "—" }),
    el("td", { className: "num", textContent: formatAmount(before.moneda, before.importe) }),
    el("td", { textContent: tested.fired?.length ? tested.fired.join(", ") : "—" }),
    el("td", { textContent: [...changed, ...errors].join("; ") || "—" }),
  );
  return row;
}

// --- versions --------------------------------------------------------------------------------

export async function loadVersions() {
  try {
    const { versions } = await api("api/rules/versions?limit=50");
    $("versions-body").replaceChildren(
      ...versions.map((v) =>
        tableRow(
          $("versions-table"),
          {},
          el("td", { className: "num", textContent: String(v.version) }),
          el("td", { className: "date", textContent: formatDate(v.updatedAt) }),
          el("td", { textContent: v.updatedBy }),
          el("td", { className: "num", textContent: formatNumber(v.ruleCount) }),
          el("td", { textContent: v.lookupNames.join(", ") || "—" }),
        ),
      ),
    );
    $("versions-empty").hidden = versions.length > 0;
  } catch (error) {
    if (!isSignedOut(error)) $("versions-empty").textContent = error.message;
  }
}
