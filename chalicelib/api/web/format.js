// es-AR texts for numbers, sizes, durations and dates; "—" where there is no value.

const NUMBER = new Intl.NumberFormat("es-AR");
const DECIMAL = new Intl.NumberFormat("es-AR", { maximumFractionDigits: 1 });
// dd/mm/aaaa hh:mm, 24 h, as finance teams write it (es-AR's "short" is "3/12/26, 3:05 p. m.").
const DATE_TIME = new Intl.DateTimeFormat("es-AR", {
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

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
  if (!iso) return "—";
  const part = Object.fromEntries(
    DATE_TIME.formatToParts(new Date(iso)).map(({ type, value }) => [type, value]),
  );
  return `${part.day}/${part.month}/${part.year} ${part.hour}:${part.minute}`;
}

export function formatSize(bytes) {
  if (bytes < 1024 * 1024) return `${NUMBER.format(Math.max(1, Math.round(bytes / 1024)))} KB`;
  return `${DECIMAL.format(bytes / (1024 * 1024))} MB`;
}

export function formatMegabytes(bytes) {
  return `${NUMBER.format(Math.round(bytes / (1024 * 1024)))} MB`;
}

const CURRENCY_SIGNS = { ARP: "$", ARS: "$", USD: "US$" };

/** An exact decimal amount as finance users read it: "163690207.21" -> "$ 163.690.207,21". */
export function formatAmount(currency, amount) {
  if (amount == null || amount === "") return "—";
  const text = String(amount);
  const negative = text.startsWith("-");
  const [whole, cents = ""] = text.replace(/^[-+]/, "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  const decimals = `${cents}00`.slice(0, Math.max(2, cents.length));
  const sign = CURRENCY_SIGNS[currency] ?? currency;
  return `${negative ? "-" : ""}${sign} ${grouped},${decimals}`;
}

/** An ISO date (aaaa-mm-dd) as dd/mm/aaaa. */
export function formatDay(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso ?? "");
  return match ? `${match[3]}/${match[2]}/${match[1]}` : "—";
}

/** A lote's or import's totals per currency: "$ 163.690.207,21 · US$ 1.234,56". */
export function formatTotals(totals) {
  const parts = Object.entries(totals ?? {}).map(([currency, amount]) => formatAmount(currency, amount));
  return parts.length ? parts.join(" · ") : "—";
}
