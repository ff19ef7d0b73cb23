// es-AR texts for numbers, sizes, durations and dates; "—" where there is no value.

const NUMBER = new Intl.NumberFormat("es-AR");
const DECIMAL = new Intl.NumberFormat("es-AR", { maximumFractionDigits: 1 });
const DATE_TIME = new Intl.DateTimeFormat("es-AR", { dateStyle: "short", timeStyle: "short" });

export function formatNumber(value) {
  return value == null ? "—" : NUMBER.format(value);
}

export function formatDuration(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatDate(iso) {
  return iso ? DATE_TIME.format(new Date(iso)) : "—";
}

export function formatSize(bytes) {
  if (bytes < 1024 * 1024) return `${NUMBER.format(Math.max(1, Math.round(bytes / 1024)))} KB`;
  return `${DECIMAL.format(bytes / (1024 * 1024))} MB`;
}

export function formatMegabytes(bytes) {
  return `${NUMBER.format(Math.round(bytes / (1024 * 1024)))} MB`;
}
