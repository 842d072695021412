// Numbers and times as the pages show them (static/session.js re-exports these); the rates
// and milliseconds read as bench::chart writes them in the lab charts.

export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

const intFmt = new Intl.NumberFormat('en-US');
const clockFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** A whole number with thousands separators; '–' for none. */
export function formatCount(v) {
  return isNum(v) ? intFmt.format(v) : '–';
}

/** Any figure: whole numbers grouped, others with two, one or no decimals as they grow. */
export function formatNumber(v) {
  if (!isNum(v)) return '–';
  if (Number.isInteger(v)) return intFmt.format(v);
  const a = Math.abs(v);
  if (a >= 100) return intFmt.format(Math.round(v));
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** Requests per second: whole numbers once they are large (as bench::chart writes them). */
export function formatRate(v) {
  if (!isNum(v)) return '–';
  if (Math.abs(v) >= 100) return intFmt.format(Math.round(v));
  return v.toFixed(1);
}

/** Milliseconds with as many decimals as are meaningful (as bench::chart writes them). */
export function formatMs(v) {
  if (!isNum(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1000) return intFmt.format(Math.round(v));
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A chart axis value: 25k, 1.5M. */
export function formatAxis(v) {
  if (v >= 1_000_000) return `${+(v / 1_000_000).toFixed(1)}M`;
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return String(+v.toFixed(2));
}

export function formatBytes(v) {
  if (!isNum(v)) return String(v);
  if (v >= 1024 * 1024) return `${(v / 1024 / 1024).toFixed(1)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${Math.round(v)} B`;
}

/** Seconds as the two largest units: 3d 4h, 5m 12s. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(isNum(seconds) ? seconds : 0));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** `date` as a clock time (hh:mm:ss). */
export const formatClock = (date) => clockFmt.format(date);

/** `date` as its time today, else its date and time; '' for an invalid date. */
export function formatShortTime(date) {
  if (Number.isNaN(date.getTime())) return '';
  return date.toDateString() === new Date().toDateString() ? timeFmt.format(date) : dateTimeFmt.format(date);
}

export const formatDateTime = (date) => dateTimeFmt.format(date);
export const formatFullTime = (date) => fullFmt.format(date);

/** `n` and the noun, plural unless one: "1 error", "3 errors". */
export const plural = (n, one) => `${formatCount(n)} ${one}${n === 1 ? '' : 's'}`;
