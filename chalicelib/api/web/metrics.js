// The dashboard: how the company's imports went over the last days (GET /api/metrics), as
// figures and a bar chart of the imports per day, completed and failed.

import { api, isSignedOut } from "./api.js";
import { $ } from "./dom.js";
import { formatDay, formatDuration, formatNumber } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const DECIMAL = new Intl.NumberFormat("es-AR", { maximumFractionDigits: 1 });
const PERCENT = new Intl.NumberFormat("es-AR", { style: "percent", maximumFractionDigits: 1 });
const DAY_MS = 86_400_000;
const BAR_WIDTH = 10; // of the chart's viewBox; the chart is scaled to the card's width
const CHART_HEIGHT = 60;

/** "1 completada", "2 completadas". */
function count(n, one, many) {
  return `${formatNumber(n)} ${n === 1 ? one : many}`;
}

/** The last `days` days, today included, in this browser's time zone. */
function period(days) {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  start.setTime(start.getTime() - (days - 1) * DAY_MS);
  const params = new URLSearchParams({
    from: start.toISOString(),
    to: new Date().toISOString(),
    utcOffsetMinutes: String(-new Date().getTimezoneOffset()),
  });
  return params.toString();
}

export async function loadMetrics() {
  const status = $("metrics-status");
  try {
    const metrics = await api(`api/metrics?${period(Number($("metrics-days").value))}`);
    status.textContent = "";
    showFigures(metrics);
    drawChart(metrics.byDay);
  } catch (error) {
    if (!isSignedOut(error)) status.textContent = error.message;
  }
}

function seconds(value) {
  if (value == null) return "—";
  return value < 60 ? `${DECIMAL.format(value)} s` : formatDuration(value * 1000);
}

function showFigures(metrics) {
  const imports = metrics.byType.find((entry) => entry.type === "DKT_IMPORT");
  $("metric-imports").textContent = formatNumber(imports?.jobs ?? 0);
  const rate = imports?.successRate;
  $("metric-success").textContent = rate == null ? "—" : PERCENT.format(rate);
  $("metric-average").textContent = seconds(imports?.averageSeconds);
  $("metric-p95").textContent = seconds(imports?.p95Seconds);
  $("metric-lines").textContent = formatNumber(metrics.linesImported);
  const perSecond = metrics.linesPerSecond;
  $("metric-rate").textContent = perSecond == null ? "—" : formatNumber(Math.round(perSecond));
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/** One bar a day: completed at the bottom, failed above, cancelled on top; each day's
 * figures in its title (a tooltip, and what a screen reader reads of the bar). */
function drawChart(days) {
  const chart = $("metrics-chart");
  chart.replaceChildren();
  chart.setAttribute("viewBox", `0 0 ${days.length * BAR_WIDTH} ${CHART_HEIGHT}`);
  const highest = Math.max(1, ...days.map((d) => d.completed + d.failed + d.cancelled));
  const scale = (CHART_HEIGHT - 2) / highest;
  days.forEach((day, index) => {
    const group = svg("g", { class: "chart-day", "data-date": day.date });
    const title = svg("title", {});
    title.textContent =
      `${formatDay(day.date)}: ${count(day.completed, "completada", "completadas")}, ` +
      `${formatNumber(day.failed)} con error, ` +
      `${count(day.cancelled, "cancelada", "canceladas")}, ` +
      `${count(day.linesImported, "línea", "líneas")}`;
    group.append(title);
    let top = CHART_HEIGHT;
    for (const [count, kind] of [
      [day.completed, "bar-ok"],
      [day.failed, "bar-failed"],
      [day.cancelled, "bar-cancelled"],
    ]) {
      if (!count) continue;
      const height = count * scale;
      top -= height;
      const x = index * BAR_WIDTH + 1;
      group.append(svg("rect", { class: kind, x, y: top, width: BAR_WIDTH - 2, height }));
    }
    chart.append(group);
  });
  $("metrics-from").textContent = formatDay(days[0]?.date);
  $("metrics-to").textContent = formatDay(days.at(-1)?.date);
  const completed = days.reduce((sum, d) => sum + d.completed, 0);
  const failed = days.reduce((sum, d) => sum + d.failed, 0);
  chart.setAttribute(
    "aria-label",
    `Importaciones por día del ${formatDay(days[0]?.date)} al ${formatDay(days.at(-1)?.date)}: ` +
      `${count(completed, "completada", "completadas")} y ${formatNumber(failed)} con error.`,
  );
}

export function clearMetrics() {
  $("metrics-chart").replaceChildren();
  $("metrics-status").textContent = "";
  for (const id of ["imports", "success", "average", "p95", "lines", "rate"]) {
    $(`metric-${id}`).textContent = "—";
  }
}
