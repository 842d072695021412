// switchboard lab: one request at a time on each model, the last `switchboard bench`
// results, and a small comparison run live against this server. The charts are drawn by the
// server (POST /api/v1/lab/chart: the code that draws the bench's SVG file) and inserted
// here; every server-provided string goes through textContent or an SVG document parsed as
// such (the page runs under a strict Content-Security-Policy: no inline scripts or styles).

import {
  $,
  el,
  errorText,
  formatBytes,
  formatCount,
  formatDateTime,
  formatMs,
  formatRate,
  isNum,
  plural,
  request,
  clearFieldErrors,
  setFieldError,
  ApiError,
} from '/static/session.js';

const MODELS = ['sync', 'blocking', 'async'];

/** A lab API call's JSON answer (never from the browser's cache: these are measurements). */
async function api(url, init = {}) {
  return (await request(url, { ...init, cache: 'no-store' })).json();
}

// ---------------------------------------------------------------- form helpers

/** An integer from `raw` within [min, max], or null. */
function intIn(raw, min, max) {
  const s = String(raw).trim();
  if (!/^\d+$/.test(s)) return null;
  const v = Number(s);
  return v >= min && v <= max ? v : null;
}

function showError(box, message) {
  box.textContent = message || '';
  box.hidden = !message;
}

// ---------------------------------------------------------------- try one request

const TIMING_PARTS = [
  ['before_handler', 'reaching the handler', 't-before'],
  ['waiting_for_pool', 'waiting for a pool thread', 't-wait'],
  ['working', 'simulated I/O', 't-work'],
  ['database', 'database read', 't-db'],
];

const seen = { workers: new Set() };
const history = [];

/** Is this the name of an actix HTTP worker (as opposed to a blocking-pool thread)? */
function isWorkerThread(name, report) {
  return name === report.handler_thread;
}

function threadLabel(name, report) {
  return isWorkerThread(name, report) ? 'HTTP worker' : 'blocking pool';
}

function renderReport(report, roundTripMs) {
  $('try-empty').hidden = true;
  $('try-result').hidden = false;
  const model = String(report.model || '?');
  const badge = $('r-model');
  badge.textContent = model;
  badge.className = `model-badge m-${MODELS.includes(model) ? model : 'other'}`;
  $('r-work').textContent = report.work || '';
  $('r-roundtrip').textContent = isNum(roundTripMs) ? `browser round trip ${formatMs(roundTripMs)} ms` : '';

  const thread = String(report.thread ?? '?');
  const handler = String(report.handler_thread ?? '?');
  const threadBox = $('r-thread');
  threadBox.replaceChildren(el('span', 'thread-name', thread), el('span', `thread-kind ${isWorkerThread(thread, report) ? 'k-worker' : 'k-pool'}`, threadLabel(thread, report)));
  $('r-handler-thread').replaceChildren(el('span', 'thread-name', handler), el('span', 'thread-kind k-worker', 'HTTP worker'));

  const cpu = typeof report.digest === 'string';
  $('r-product-row').hidden = cpu;
  $('r-digest-row').hidden = !cpu;
  if (cpu) $('r-digest').textContent = report.digest;
  else $('r-product').textContent = report.product ? `#${report.product.id} ${report.product.name}` : 'none (the database has no product 1)';

  const t = report.timings_ms || {};
  const total = isNum(t.total) ? t.total : 0;
  $('r-total').textContent = `handler total ${formatMs(total)} ms`;
  const parts = TIMING_PARTS.map(([key, label, cls]) => [key, key === 'working' && cpu ? 'computing' : label, cls, isNum(t[key]) ? t[key] : 0]);
  const span = Math.max(total + (isNum(t.before_handler) ? t.before_handler : 0), parts.reduce((s, p) => s + p[3], 0), 0.001);
  const bar = $('r-bar');
  bar.replaceChildren();
  const legend = $('r-legend');
  legend.replaceChildren();
  const summary = [];
  for (const [key, label, cls, v] of parts) {
    if (v > 0) {
      const seg = el('span', `seg ${cls}`);
      seg.style.width = `${Math.max(0.6, (v / span) * 100)}%`;
      bar.append(seg);
    }
    const li = el('li', cls);
    li.dataset.part = key;
    li.append(document.createTextNode(`${label} `), el('b', '', `${formatMs(v)} ms`));
    legend.append(li);
    summary.push(`${label} ${formatMs(v)} ms`);
  }
  bar.setAttribute('aria-label', `Timings: ${summary.join(', ')}`);
  $('r-json').textContent = JSON.stringify(report, null, 2);

  seen.workers.add(handler);
  history.unshift({ model, work: report.work || '', thread, kind: threadLabel(thread, report), t });
  history.length = Math.min(history.length, 8);
  renderHistory();
}

function renderHistory() {
  $('history-wrap').hidden = history.length === 0;
  const body = $('history');
  body.replaceChildren();
  for (const h of history) {
    const tr = el('tr');
    const modelCell = el('td');
    modelCell.append(el('span', `model-badge small m-${MODELS.includes(h.model) ? h.model : 'other'}`, h.model));
    const threadCell = el('td', 'mono wrap');
    threadCell.append(el('span', 'thread-name', h.thread), el('span', 'thread-note', h.kind));
    tr.append(
      modelCell,
      el('td', 'wrap hide-narrow', h.work),
      threadCell,
      el('td', 'num', formatMs(h.t.waiting_for_pool)),
      el('td', 'num hide-narrow', formatMs(h.t.working)),
      el('td', 'num', formatMs(h.t.total)),
    );
    body.append(tr);
  }
  const workers = [...seen.workers].sort();
  $('threads-seen').textContent =
    `HTTP worker threads seen so far: ${workers.length} (${workers.join(', ')}). ` +
    'Pool threads are interchangeable and may share a name.';
}

let trying = false;

async function tryOne(model) {
  if (trying) return;
  const form = $('try-form');
  clearFieldErrors(form);
  showError($('try-error'), '');
  let url;
  if (model === 'cpu') {
    const n = intIn($('try-rounds').value, 1, 2_000_000);
    if (n === null) {
      setFieldError(form, 'try-rounds', 'Enter a whole number from 1 to 2,000,000.');
      $('try-rounds').focus();
      return;
    }
    url = `/api/v1/lab/cpu?n=${n}&model=${encodeURIComponent($('try-cpu-model').value)}`;
  } else {
    const ms = intIn($('try-ms').value, 0, 1000);
    if (ms === null) {
      setFieldError(form, 'try-ms', 'Enter a whole number from 0 to 1000.');
      $('try-ms').focus();
      return;
    }
    url = `/api/v1/lab/${model}?ms=${ms}`;
  }
  trying = true;
  const buttons = form.querySelectorAll('.model-btn');
  const clicked = form.querySelector(`.model-btn[data-model="${model}"]`);
  for (const b of buttons) b.disabled = true;
  clicked.classList.add('busy');
  clicked.setAttribute('aria-busy', 'true');
  $('try-result').setAttribute('aria-busy', 'true');
  const started = performance.now();
  try {
    const report = await api(url);
    renderReport(report, performance.now() - started);
  } catch (e) {
    if (e instanceof ApiError) {
      for (const fe of e.fieldErrors) setFieldError(form, fe.field === 'n' ? 'try-rounds' : 'try-ms', fe.message);
    }
    showError($('try-error'), e instanceof ApiError && e.status === 429 ? `Rate limited by the server: ${e.message}` : errorText(e));
  } finally {
    trying = false;
    for (const b of buttons) b.disabled = false;
    clicked.classList.remove('busy');
    clicked.removeAttribute('aria-busy');
    $('try-result').removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------- chart (drawn by the server)

const METRICS = [
  ['rps', 'Throughput'],
  ['p99', 'p99 latency'],
];
const MIN_WIDTH = 280; // what POST /lab/chart draws
const MAX_WIDTH = 2000;

const tip = () => $('tooltip');

/** A point's hover text (its level, then a line per model at that level) in the page's tooltip. */
function showTip(point) {
  const [title, ...rows] = (point.dataset.tip || '').split('\n');
  const box = tip();
  box.replaceChildren(el('strong', '', title));
  for (const row of rows) {
    const at = row.indexOf(': ');
    const model = row.slice(0, at);
    const series = point.ownerSVGElement.querySelector(`.series[data-model="${CSS.escape(model)}"]`);
    const colour = series ? [...series.classList].find((c) => /^s\d$/.test(c)) || '' : '';
    const line = el('span', `tip-row ${colour}${model === point.dataset.model ? ' current' : ''}`);
    line.append(el('b', '', model), el('span', 'tip-text', row.slice(at + 2)));
    box.append(line);
  }
  box.hidden = false;
  const r = point.querySelector('.dot').getBoundingClientRect();
  const w = box.offsetWidth;
  const h = box.offsetHeight;
  let left = r.left + r.width / 2 - w / 2;
  left = Math.max(8, Math.min(left, document.documentElement.clientWidth - w - 8));
  let top = r.top - h - 10;
  if (top < 8) top = r.bottom + 10;
  box.style.left = `${Math.round(left + window.scrollX)}px`;
  box.style.top = `${Math.round(top + window.scrollY)}px`;
}

function hideTip() {
  tip().hidden = true;
}

/**
 * The chart of `runs` (throughput or p99 against concurrency, a line per model), as the server
 * draws it at this box's width: drawn again when the width changes, so text keeps its size on
 * a phone. The caption, legend and tooltip are taken from the SVG.
 */
class LabChart {
  constructor(parent, runs, { idPrefix }) {
    this.runs = runs;
    this.metric = 'rps';
    this.card = el('figure', 'lab-chart');
    this.card.dataset.testid = `${idPrefix}-figure`;

    const head = el('div', 'lab-chart-head');
    this.caption = el('figcaption', 'lab-chart-title');
    const toggle = el('div', 'segmented');
    toggle.setAttribute('role', 'group');
    toggle.setAttribute('aria-label', 'What to plot');
    this.buttons = {};
    for (const [key, label] of METRICS) {
      const b = el('button', 'seg-btn', label);
      b.type = 'button';
      b.dataset.metric = key;
      b.dataset.testid = `${idPrefix}-metric-${key}`;
      b.addEventListener('click', () => {
        this.metric = key;
        this.draw();
      });
      toggle.append(b);
      this.buttons[key] = b;
    }
    head.append(this.caption, toggle);

    this.legend = el('ul', 'legend lab-legend');
    this.box = el('div', 'lab-chart-box');
    this.card.append(head, this.legend, this.box);
    parent.append(this.card);

    this.width = 0;
    this.drawing = 0; // the latest drawing asked for: older answers are dropped
    this.observer = new ResizeObserver(() => {
      const w = Math.floor(this.box.clientWidth);
      if (w > 0 && w !== this.width) this.draw();
    });
    this.observer.observe(this.box);
  }

  destroy() {
    this.observer.disconnect();
    this.drawing += 1;
  }

  /** Asks the server for the chart and shows it; resolves once it is shown (or has failed). */
  async draw() {
    for (const [key, b] of Object.entries(this.buttons)) b.setAttribute('aria-pressed', String(key === this.metric));
    this.width = Math.floor(this.box.clientWidth);
    const width = Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, this.width || 640));
    const drawing = ++this.drawing;
    let root;
    try {
      const resp = await request('/api/v1/lab/chart', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'image/svg+xml' },
        body: JSON.stringify({ metric: this.metric, width, runs: this.runs }),
      });
      const doc = new DOMParser().parseFromString(await resp.text(), 'image/svg+xml');
      root = doc.documentElement.localName === 'svg' ? document.importNode(doc.documentElement, true) : null;
      if (!root) throw new Error('The server sent no chart.');
    } catch (e) {
      if (drawing !== this.drawing) return;
      this.box.replaceChildren(el('p', 'form-error', `The chart cannot be drawn: ${e instanceof ApiError || !(e instanceof Error) ? errorText(e) : e.message}`));
      return;
    }
    if (drawing !== this.drawing) return;
    this.caption.textContent = root.querySelector(':scope > title')?.textContent || '';
    for (const point of root.querySelectorAll('.point')) {
      // The tooltip below shows the point's <title>; kept there, the browser would show its own too.
      const title = point.querySelector(':scope > title');
      point.dataset.tip = title ? title.textContent : '';
      title?.remove();
      const show = () => showTip(point);
      point.addEventListener('pointerenter', show);
      point.addEventListener('focus', show);
      point.addEventListener('click', show);
      point.addEventListener('pointerleave', hideTip);
      point.addEventListener('blur', hideTip);
    }
    this.legend.replaceChildren();
    for (const item of root.querySelectorAll('[data-label]')) {
      const model = item.dataset.model || 'ideal';
      const colour = model === 'ideal' ? 'ideal' : [...item.classList].find((c) => /^s\d$/.test(c)) || '';
      const li = el('li', colour, item.dataset.label);
      li.dataset.model = model;
      this.legend.append(li);
    }
    this.box.replaceChildren(root);
  }
}

// ---------------------------------------------------------------- tables

function table(head, rows, { label, testid }) {
  const wrap = el('div', 'table-wrap');
  const t = el('table', 'data');
  if (testid) t.dataset.testid = testid;
  if (label) t.append(el('caption', 'visually-hidden', label));
  const thead = el('thead');
  const tr = el('tr');
  for (const [text, cls, short] of head) {
    const th = el('th', cls || '');
    if (short) th.append(el('span', 'long', text), el('span', 'short', short));
    else th.textContent = text;
    th.scope = 'col';
    tr.append(th);
  }
  thead.append(tr);
  const tbody = el('tbody');
  for (const row of rows) tbody.append(row);
  t.append(thead, tbody);
  wrap.append(t);
  return wrap;
}

function cell(text, cls) {
  return el('td', cls || '', text);
}

/** A run's rate and latency percentiles (p90 only on wide screens). */
function figureCells(s) {
  return [
    cell(formatRate(s.per_second), 'num rps'),
    cell(formatMs(s.p50_ms), 'num'),
    cell(formatMs(s.p90_ms), 'num hide-narrow'),
    cell(formatMs(s.p99_ms), 'num'),
  ];
}

function errorCell(errors) {
  const td = cell(formatCount(errors), 'num');
  if (isNum(errors) && errors > 0) td.classList.add('bad');
  return td;
}

function labTable(runs, testid) {
  const sorted = [...runs].sort(
    (a, b) => MODELS.indexOf(a.case) - MODELS.indexOf(b.case) || a.concurrency - b.concurrency,
  );
  const rows = sorted.map((r, i) => {
    const tr = el('tr');
    tr.dataset.model = r.case;
    if (i > 0 && sorted[i - 1].case !== r.case) tr.className = 'group-start';
    const m = cell('');
    m.append(el('span', `model-badge small m-${MODELS.includes(r.case) ? r.case : 'other'}`, r.case));
    const s = r.summary || {};
    tr.append(
      m,
      cell(formatCount(r.concurrency), 'num'),
      ...figureCells(s),
      cell(formatMs(s.max_ms), 'num hide-narrow'),
      errorCell(s.errors),
    );
    return tr;
  });
  return table(
    [
      ['Model'],
      ['Conns', 'num', 'c'],
      ['req/s', 'num'],
      ['p50 ms', 'num', 'p50'],
      ['p90 ms', 'num hide-narrow'],
      ['p99 ms', 'num', 'p99'],
      ['max ms', 'num hide-narrow'],
      ['Errors', 'num', 'err'],
    ],
    rows,
    { label: 'Lab runs: throughput and latency per model and concurrency', testid },
  );
}

function extraNotes(extra) {
  if (!extra) return '';
  const notes = [];
  for (const [k, v] of Object.entries(extra)) {
    if (k === 'ms' || k === 'ideal_per_second') continue;
    const name = k.replace(/_bytes$/, '').replace(/_/g, ' ');
    const value = k.endsWith('bytes') || k === 'bytes_per_connection' ? formatBytes(v) : isNum(v) ? formatCount(v) : String(v);
    notes.push(`${name} ${value}`);
  }
  return notes.join(' · ');
}

function otherTable(runs) {
  const rows = runs.map((r) => {
    const tr = el('tr');
    tr.dataset.scenario = r.scenario;
    const s = r.summary || {};
    tr.append(
      cell(r.scenario, 'strong'),
      cell(r.case),
      cell(formatCount(r.concurrency), 'num'),
      ...figureCells(s),
      errorCell(s.errors),
      cell(extraNotes(r.extra), 'notes'),
    );
    return tr;
  });
  return table(
    [['Scenario'], ['Case'], ['Conns', 'num', 'c'], ['per s', 'num'], ['p50 ms', 'num', 'p50'], ['p90 ms', 'num hide-narrow'], ['p99 ms', 'num', 'p99'], ['Errors', 'num', 'err'], ['Notes']],
    rows,
    { label: 'Other scenarios', testid: 'other-runs' },
  );
}

/** A warning when requests failed during a run: req/s then counts the successes only. */
function errorNote(runs) {
  const failed = runs.reduce((n, r) => n + (isNum(r.summary.errors) ? r.summary.errors : 0), 0);
  if (!failed) return null;
  const ok = runs.reduce((n, r) => n + (isNum(r.summary.count) ? r.summary.count : 0), 0);
  const note = el(
    'p',
    'run-warning',
    `${formatCount(failed)} of ${formatCount(failed + ok)} requests failed (an HTTP error such as 429 from the server's rate limit, ` +
      'or a dropped connection): req/s counts the successful ones only, so these numbers understate what the models can do.',
  );
  note.setAttribute('role', 'note');
  note.dataset.testid = 'run-errors';
  return note;
}

function validRun(r) {
  return r && typeof r === 'object' && typeof r.scenario === 'string' && r.summary && typeof r.summary === 'object';
}


// ---------------------------------------------------------------- last bench results

let resultsChart = null;

function benchCommand() {
  // Without --url the bench starts a server of its own (on a seeded temporary database) and
  // writes bench-results/latest.json, which this server reads when run from the same directory.
  return 'switchboard bench lab rest --duration 2';
}

async function loadResults() {
  $('results-loading').hidden = false;
  $('results-missing').hidden = true;
  showError($('results-error'), '');
  const btn = $('results-reload');
  btn.disabled = true;
  try {
    const results = await api('/api/v1/lab/results');
    if (!results.started_at && !(Array.isArray(results.runs) && results.runs.length)) {
      // No bench has run here yet: the server says so with an empty result set.
      $('results-body').hidden = true;
      const detail = String(results.detail || '').replace(/^no bench results yet:\s*/i, '').replace(/`/g, '');
      $('results-missing-text').textContent = `No bench results yet: ${detail || 'run switchboard bench'}.`;
      $('results-command').textContent = benchCommand();
      $('results-missing').hidden = false;
      return;
    }
    await renderResults(results);
  } catch (e) {
    $('results-body').hidden = true;
    showError($('results-error'), `Could not load the results: ${errorText(e)}`);
  } finally {
    $('results-loading').hidden = true;
    btn.disabled = false;
  }
}

async function renderResults(results) {
  const runs = Array.isArray(results && results.runs) ? results.runs.filter(validRun) : [];
  const lab = runs.filter((r) => r.scenario === 'lab');
  const other = runs.filter((r) => r.scenario !== 'lab');

  const meta = [];
  const at = new Date(results.started_at);
  if (!Number.isNaN(at.getTime())) meta.push(`Run ${formatDateTime(at)}`);
  if (results.target) meta.push(`against ${results.target}`);
  if (results.machine && isNum(results.machine.cpus)) meta.push(`${results.machine.cpus} CPUs${results.machine.os ? ` (${results.machine.os})` : ''}`);
  const settings = results.settings || {};
  if (isNum(settings.duration_s)) meta.push(`${settings.duration_s} s per case`);
  if (isNum(settings.workers)) meta.push(`${settings.workers} HTTP workers`);
  if (isNum(settings.blocking_threads)) meta.push(`${settings.blocking_threads} pool threads per worker`);
  $('results-meta').textContent = meta.join(' · ');

  if (resultsChart) resultsChart.destroy();
  resultsChart = null;
  const chartBox = $('results-chart');
  chartBox.replaceChildren();
  $('results-table').replaceChildren();
  if (lab.length) {
    resultsChart = new LabChart(chartBox, lab, { idPrefix: 'results' });
    const warning = errorNote(lab);
    if (warning) $('results-table').append(warning);
    $('results-table').append(labTable(lab, 'results-runs'));
  } else {
    chartBox.append(el('p', 'muted', 'These results have no lab runs (run the bench with the lab scenario to compare the models).'));
  }
  $('other-wrap').hidden = other.length === 0;
  $('other-table').replaceChildren();
  if (other.length) $('other-table').append(otherTable(other));
  $('results-body').hidden = false;

  if (isNum(settings.workers)) {
    $('workers-note').textContent = `The last bench ran its server with ${plural(settings.workers, 'HTTP worker thread')}; a server started without --workers runs one per CPU core.`;
  }
  if (resultsChart) await resultsChart.draw(); // now that its box is shown, and has a width
}

// ---------------------------------------------------------------- live comparison

let liveChart = null;
let running = false;

function readLiveForm(form) {
  const errors = {};
  const ms = intIn($('live-ms').value, 0, 100);
  if (ms === null) errors.ms = 'Enter a whole number from 0 to 100.';
  const raw = $('live-concurrency').value.split(/[\s,;]+/).filter(Boolean);
  let levels = null;
  if (!raw.length) errors.concurrency = 'Enter at least one level, e.g. 1, 4, 16.';
  else if (raw.some((v) => intIn(v, 1, 64) === null)) errors.concurrency = 'Each level must be a whole number from 1 to 64.';
  else {
    levels = [...new Set(raw.map(Number))].sort((a, b) => a - b);
    if (levels.length > 4) errors.concurrency = 'At most 4 levels.';
  }
  const secondsRaw = $('live-seconds').value.trim();
  const seconds = Number(secondsRaw);
  if (!secondsRaw || !Number.isFinite(seconds) || seconds < 0.2 || seconds > 2) errors.seconds = 'Enter a number from 0.2 to 2.';
  for (const [field, message] of Object.entries(errors)) setFieldError(form, field, message);
  if (Object.keys(errors).length) return null;
  $('live-concurrency').value = levels.join(', ');
  return { ms, concurrency: levels, seconds };
}

function setRunning(on) {
  running = on;
  const form = $('live-form');
  for (const input of form.querySelectorAll('input, button')) input.disabled = on;
  $('live-run').textContent = on ? 'Running…' : 'Run comparison';
  form.closest('section').setAttribute('aria-busy', String(on));
}

async function runLive(event) {
  event.preventDefault();
  if (running) return;
  const form = $('live-form');
  clearFieldErrors(form);
  showError($('live-error'), '');
  const body = readLiveForm(form);
  if (!body) {
    form.querySelector('.input.invalid')?.focus();
    return;
  }
  setRunning(true);
  const estimate = MODELS.length * body.concurrency.length * (body.seconds + 0.05) + 0.3;
  const started = performance.now();
  const progress = $('live-progress');
  const bar = $('live-bar');
  const label = $('live-elapsed');
  progress.hidden = false;
  const tick = () => {
    const elapsed = (performance.now() - started) / 1000;
    bar.value = Math.min(97, (elapsed / estimate) * 100);
    label.textContent = `Running ${MODELS.length} models × ${plural(body.concurrency.length, 'level')}: ${elapsed.toFixed(1)} s of about ${estimate.toFixed(1)} s`;
  };
  tick();
  const timer = setInterval(tick, 100);
  try {
    const answer = await api('/api/v1/lab/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const runs = Array.isArray(answer && answer.runs) ? answer.runs.filter(validRun) : [];
    const elapsed = (performance.now() - started) / 1000;
    await renderLive(runs, body, elapsed);
  } catch (e) {
    if (e instanceof ApiError && e.status === 400 && e.fieldErrors.length) {
      const fields = [];
      for (const fe of e.fieldErrors) {
        const field = fe.field.replace(/\[\d+\]$/, '');
        setFieldError(form, field, fe.message);
        fields.push(`${field}: ${fe.message}`);
      }
      showError($('live-error'), `The server rejected these settings (${fields.join('; ')}).`);
    } else if (e instanceof ApiError && e.status === 409) {
      showError($('live-error'), `Busy: ${e.message}`);
    } else if (e instanceof ApiError && e.status === 429) {
      showError($('live-error'), `Rate limited by the server: ${e.message}`);
    } else {
      showError($('live-error'), errorText(e));
    }
  } finally {
    clearInterval(timer);
    progress.hidden = true;
    setRunning(false);
  }
}

async function renderLive(runs, body, elapsed) {
  const lab = runs.filter((r) => r.scenario === 'lab');
  $('live-meta').textContent =
    `${body.ms} ms of simulated I/O · ${body.concurrency.join(', ')} connections · ${body.seconds} s per case · finished in ${elapsed.toFixed(1)} s (${new Date().toLocaleTimeString()})`;
  if (liveChart) liveChart.destroy();
  liveChart = null;
  $('live-chart').replaceChildren();
  $('live-table').replaceChildren();
  $('live-body').hidden = false;
  if (!lab.length) {
    $('live-chart').append(el('p', 'muted', 'The server returned no runs.'));
    return;
  }
  liveChart = new LabChart($('live-chart'), lab, { idPrefix: 'live' });
  const warning = errorNote(lab);
  if (warning) $('live-table').append(warning);
  $('live-table').append(labTable(lab, 'live-runs'));
  await liveChart.draw();
}

// ---------------------------------------------------------------- start

function init() {
  for (const b of document.querySelectorAll('#try-form .model-btn')) {
    b.addEventListener('click', () => tryOne(b.dataset.model));
  }
  $('try-form').addEventListener('submit', (e) => {
    e.preventDefault();
    tryOne('async');
  });
  $('results-reload').addEventListener('click', loadResults);
  $('live-form').addEventListener('submit', runLive);
  for (const input of document.querySelectorAll('.input')) {
    input.addEventListener('input', () => {
      const form = input.form;
      const span = input.closest('.field')?.querySelector('.field-error');
      if (form && span && !span.hidden) setFieldError(form, span.dataset.for, '');
    });
  }
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') hideTip();
  });
  document.addEventListener('pointerdown', (e) => {
    if (!(e.target instanceof Element) || !e.target.closest('.point')) hideTip();
  });
  loadResults();
}

init();
