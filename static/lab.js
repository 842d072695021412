// switchboard lab: one request at a time on each model, the last `switchboard bench`
// results, and a small comparison run live against this server. Charts are SVG built with
// DOM calls; every server-provided string goes through textContent (the page runs under a
// strict Content-Security-Policy: no inline scripts or styles).

import { $, el, svg } from '/static/session.js';

const MODELS = ['sync', 'blocking', 'async'];
const MODEL_SERIES = { sync: 's3', blocking: 's2', async: 's1' };

const intFmt = new Intl.NumberFormat('en-US');
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** Requests per second: whole numbers once they are large. */
function fmtRate(v) {
  if (!isNum(v)) return '–';
  if (Math.abs(v) >= 100) return intFmt.format(Math.round(v));
  return v.toFixed(1);
}

/** Milliseconds with as many decimals as are meaningful. */
function fmtMs(v) {
  if (!isNum(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1000) return intFmt.format(Math.round(v));
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function fmtCount(v) {
  return isNum(v) ? intFmt.format(v) : '–';
}

function fmtAxis(v) {
  if (v >= 1_000_000) return `${+(v / 1_000_000).toFixed(1)}M`;
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return String(+v.toFixed(2));
}

function fmtBytes(v) {
  if (!isNum(v)) return String(v);
  if (v >= 1024 * 1024) return `${(v / 1024 / 1024).toFixed(1)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${Math.round(v)} B`;
}

/** A round step near `x`: 1, 2, 2.5 or 5 times a power of ten. */
function niceStep(x) {
  if (!(x > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(x));
  const f = x / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * e;
}

/** Linear ticks from 0 past `max`: about four round steps. */
function linearTicks(max) {
  const step = niceStep((max > 0 ? max : 1) / 4);
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(v);
  if (ticks.length < 2) ticks.push(step);
  return ticks;
}

// ---------------------------------------------------------------- HTTP

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `Request failed (HTTP ${status})`);
    this.status = status;
    this.problem = problem || {};
  }
}

class NetworkError extends Error {}

async function api(url, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('accept', 'application/json');
  let resp;
  try {
    resp = await fetch(url, { ...init, headers, cache: 'no-store' });
  } catch {
    throw new NetworkError('The server cannot be reached. Is it running?');
  }
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

// ---------------------------------------------------------------- form helpers

function setFieldError(form, field, message) {
  const span = form.querySelector(`.field-error[data-for="${field}"]`);
  const input = span && span.closest('.field') ? span.closest('.field').querySelector('.input') : null;
  if (span) {
    span.textContent = message || '';
    span.hidden = !message;
    if (span.id === '') span.id = `${form.id}-${field}-error`;
  }
  if (input) {
    input.classList.toggle('invalid', Boolean(message));
    if (message) {
      input.setAttribute('aria-invalid', 'true');
      const ids = new Set((input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean));
      ids.add(span.id);
      input.setAttribute('aria-describedby', [...ids].join(' '));
    } else {
      input.removeAttribute('aria-invalid');
    }
  }
}

function clearFieldErrors(form) {
  for (const span of form.querySelectorAll('.field-error')) setFieldError(form, span.dataset.for, '');
}

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
  $('r-roundtrip').textContent = isNum(roundTripMs) ? `browser round trip ${fmtMs(roundTripMs)} ms` : '';

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
  $('r-total').textContent = `handler total ${fmtMs(total)} ms`;
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
    li.append(document.createTextNode(`${label} `), el('b', '', `${fmtMs(v)} ms`));
    legend.append(li);
    summary.push(`${label} ${fmtMs(v)} ms`);
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
      el('td', 'num', fmtMs(h.t.waiting_for_pool)),
      el('td', 'num hide-narrow', fmtMs(h.t.working)),
      el('td', 'num', fmtMs(h.t.total)),
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
    if (e instanceof ApiError && Array.isArray(e.problem.errors)) {
      for (const fe of e.problem.errors) setFieldError(form, fe.field === 'n' ? 'try-rounds' : 'try-ms', fe.message);
    }
    showError($('try-error'), e instanceof ApiError && e.status === 429 ? `Rate limited by the server: ${e.message}` : e.message);
  } finally {
    trying = false;
    for (const b of buttons) b.disabled = false;
    clicked.classList.remove('busy');
    clicked.removeAttribute('aria-busy');
    $('try-result').removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------- chart

const tip = () => $('tooltip');

/** `title`, then one line per model at that concurrency (several can share a spot). */
function showTip(target, title, rows) {
  const box = tip();
  box.replaceChildren(el('strong', '', title));
  for (const row of rows) {
    const line = el('span', `tip-row ${row.cls}${row.current ? ' current' : ''}`);
    line.append(el('b', '', row.model), el('span', 'tip-text', row.text));
    box.append(line);
  }
  box.hidden = false;
  const r = target.getBoundingClientRect();
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

const METRICS = {
  rps: {
    label: 'Throughput',
    axis: 'requests / s',
    value: (r) => r.summary.per_second,
    fmt: (v) => `${fmtRate(v)} req/s`,
    log: false,
  },
  p99: {
    label: 'p99 latency',
    axis: 'p99 latency, ms (log scale)',
    value: (r) => r.summary.p99_ms,
    fmt: (v) => `p99 ${fmtMs(v)} ms`,
    log: true,
  },
};

/**
 * One line per lab model: `metric` against concurrency (log2 x axis).
 * Redrawn at the container's width, so text stays readable on a phone.
 */
class LabChart {
  constructor(parent, runs, { ms, idPrefix }) {
    this.runs = runs;
    this.ms = ms;
    this.metric = 'rps';
    this.card = el('figure', 'lab-chart');
    this.card.dataset.testid = `${idPrefix}-figure`;

    const head = el('div', 'lab-chart-head');
    const caption = el('figcaption', 'lab-chart-title');
    this.caption = caption;
    const toggle = el('div', 'segmented');
    toggle.setAttribute('role', 'group');
    toggle.setAttribute('aria-label', 'What to plot');
    this.buttons = {};
    for (const [key, m] of Object.entries(METRICS)) {
      const b = el('button', 'seg-btn', m.label);
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
    head.append(caption, toggle);

    this.legend = el('ul', 'legend lab-legend');
    this.box = el('div', 'lab-chart-box');
    this.card.append(head, this.legend, this.box);
    parent.append(this.card);

    this.width = 0;
    this.observer = new ResizeObserver(() => {
      const w = Math.floor(this.box.clientWidth);
      if (w > 0 && w !== this.width) this.draw();
    });
    this.observer.observe(this.box);
    this.draw();
  }

  destroy() {
    this.observer.disconnect();
  }

  /** Every model's figures at concurrency `c`, the hovered one first. */
  tipRows(c, current) {
    const order = [current, ...MODELS.filter((m) => m !== current)];
    return order
      .map((model) => this.runs.find((r) => r.case === model && r.concurrency === c))
      .filter(Boolean)
      .map((r) => {
        const s = r.summary;
        const errors = isNum(s.errors) && s.errors > 0 ? ` · ${fmtCount(s.errors)} errors` : '';
        return {
          model: r.case,
          cls: MODEL_SERIES[r.case],
          current: r.case === current,
          text: `${fmtRate(s.per_second)} req/s · p50 ${fmtMs(s.p50_ms)} · p99 ${fmtMs(s.p99_ms)} ms${errors}`,
        };
      });
  }

  draw() {
    const metric = METRICS[this.metric];
    for (const [key, b] of Object.entries(this.buttons)) b.setAttribute('aria-pressed', String(key === this.metric));
    this.caption.textContent =
      this.metric === 'rps'
        ? `Throughput vs. concurrency${isNum(this.ms) ? ` (${this.ms} ms of simulated I/O per request)` : ''}`
        : `p99 latency vs. concurrency${isNum(this.ms) ? ` (${this.ms} ms of simulated I/O per request)` : ''}`;

    const W = Math.max(280, Math.floor(this.box.clientWidth) || 640);
    this.width = Math.floor(this.box.clientWidth);
    const H = Math.round(Math.min(360, Math.max(230, W * 0.48)));
    const narrow = W < 480;
    const pad = { left: narrow ? 46 : 60, right: narrow ? 14 : 24, top: 14, bottom: 46 };
    const pw = W - pad.left - pad.right;
    const ph = H - pad.top - pad.bottom;

    const levels = [...new Set(this.runs.map((r) => r.concurrency))].filter((c) => c > 0).sort((a, b) => a - b);
    const lo = Math.log2(levels[0] || 1);
    const hi = Math.log2(levels[levels.length - 1] || 1);
    const x = (c) => (hi === lo ? pad.left + pw / 2 : pad.left + ((Math.log2(c) - lo) / (hi - lo)) * pw);

    const values = this.runs.map(metric.value).filter((v) => isNum(v) && (!metric.log || v > 0));
    let y;
    let ticks;
    if (metric.log) {
      const minV = values.length ? Math.min(...values) : 1;
      const maxV = values.length ? Math.max(...values) : 10;
      const dLo = Math.floor(Math.log10(minV));
      const dHi = Math.max(dLo + 1, Math.ceil(Math.log10(maxV)));
      y = (v) => pad.top + ph - ((Math.log10(Math.max(v, 10 ** dLo)) - dLo) / (dHi - dLo)) * ph;
      ticks = [];
      for (let d = dLo; d <= dHi; d += 1) ticks.push(10 ** d);
    } else {
      ticks = linearTicks(Math.max(...values, 1) * 1.05);
      const max = ticks[ticks.length - 1];
      y = (v) => pad.top + ph - (v / max) * ph; // the ideal line may pass the top: clipped
    }

    const root = svg('svg', {
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      class: 'lab-svg',
      'data-metric': this.metric,
    });
    root.append(svg('title', {}, `${this.caption.textContent}, one line per model; the table below has the numbers.`));

    const clipId = `clip-${Math.random().toString(36).slice(2, 9)}`;
    const defs = svg('defs');
    const clip = svg('clipPath', { id: clipId });
    clip.append(svg('rect', { x: pad.left, y: pad.top - 4, width: pw, height: ph + 4 }));
    defs.append(clip);
    root.append(defs);

    const grid = svg('g', { class: 'grid-lines' });
    for (const v of ticks) {
      const ty = y(v);
      grid.append(svg('line', { x1: pad.left, x2: pad.left + pw, y1: ty, y2: ty, class: 'gridline' }));
      grid.append(svg('text', { x: pad.left - 8, y: ty + 4, class: 'tick', 'text-anchor': 'end' }, fmtAxis(v)));
    }
    for (const c of levels) {
      const tx = x(c);
      grid.append(svg('line', { x1: tx, x2: tx, y1: pad.top + ph, y2: pad.top + ph + 5, class: 'axisline' }));
      grid.append(svg('text', { x: tx, y: pad.top + ph + 19, class: 'tick', 'text-anchor': 'middle' }, c));
    }
    grid.append(svg('line', { x1: pad.left, x2: pad.left + pw, y1: pad.top + ph, y2: pad.top + ph, class: 'axisline' }));
    grid.append(svg('line', { x1: pad.left, x2: pad.left, y1: pad.top, y2: pad.top + ph, class: 'axisline' }));
    grid.append(
      svg(
        'text',
        { x: pad.left + pw / 2, y: H - 6, class: 'axis-label', 'text-anchor': 'middle' },
        'concurrency (connections, log scale)',
      ),
    );
    const yl = svg('text', { x: 0, y: 0, class: 'axis-label', 'text-anchor': 'middle', transform: `translate(12 ${pad.top + ph / 2}) rotate(-90)` }, metric.axis);
    grid.append(yl);
    root.append(grid);

    const plot = svg('g', { 'clip-path': `url(#${clipId})` });
    root.append(plot);

    // The ceiling a perfectly concurrent server would reach: c requests in flight, each
    // taking `ms` milliseconds.
    const legendItems = [];
    if (this.metric === 'rps') {
      const ideal = levels
        .map((c) => {
          const r = this.runs.find((run) => run.concurrency === c && run.extra && isNum(run.extra.ideal_per_second));
          return r && r.extra.ideal_per_second > 0 ? [c, r.extra.ideal_per_second] : null;
        })
        .filter(Boolean);
      if (ideal.length) {
        plot.append(
          svg('polyline', {
            class: 'ideal',
            points: ideal.map(([c, v]) => `${x(c).toFixed(1)},${y(v).toFixed(1)}`).join(' '),
            'data-testid': 'ideal-line',
          }),
        );
        legendItems.push(['ideal', 'ideal: c × 1000 / ms']);
      }
    }

    const points = svg('g', { class: 'points' });
    for (const model of MODELS) {
      const mine = this.runs
        .filter((r) => r.case === model && isNum(metric.value(r)))
        .sort((a, b) => a.concurrency - b.concurrency);
      if (!mine.length) continue;
      legendItems.push([model, model]);
      plot.append(
        svg('polyline', {
          class: `series ${MODEL_SERIES[model]}`,
          'data-model': model,
          points: mine.map((r) => `${x(r.concurrency).toFixed(1)},${y(metric.value(r)).toFixed(1)}`).join(' '),
        }),
      );
      for (const r of mine) {
        const v = metric.value(r);
        const s = r.summary;
        const lines = [
          `${model} · ${r.concurrency} connection${r.concurrency === 1 ? '' : 's'}`,
          `${fmtRate(s.per_second)} req/s`,
          `p50 ${fmtMs(s.p50_ms)} · p90 ${fmtMs(s.p90_ms)} · p99 ${fmtMs(s.p99_ms)} ms`,
          `${fmtCount(s.errors)} error${s.errors === 1 ? '' : 's'} · ${fmtCount(s.count)} requests`,
        ];
        const title = `${r.concurrency} connection${r.concurrency === 1 ? '' : 's'}`;
        const g = svg('g', {
          class: `point ${MODEL_SERIES[model]}`,
          tabindex: 0,
          role: 'img',
          'data-model': model,
          'data-concurrency': r.concurrency,
          'data-value': v,
          'aria-label': lines.join(', '),
        });
        const cx = x(r.concurrency).toFixed(1);
        const cy = y(v).toFixed(1);
        g.append(svg('circle', { cx, cy, r: 13, class: 'hit' }), svg('circle', { cx, cy, r: 4.5, class: 'dot' }));
        const show = () => showTip(g.lastChild, title, this.tipRows(r.concurrency, model));
        g.addEventListener('pointerenter', show);
        g.addEventListener('focus', show);
        g.addEventListener('click', show);
        g.addEventListener('pointerleave', hideTip);
        g.addEventListener('blur', hideTip);
        points.append(g);
      }
    }
    root.append(points);
    this.box.replaceChildren(root);

    this.legend.replaceChildren();
    for (const [key, label] of legendItems) {
      const li = el('li', key === 'ideal' ? 'ideal' : MODEL_SERIES[key], label);
      li.dataset.model = key;
      this.legend.append(li);
    }
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

function errorCell(errors) {
  const td = cell(fmtCount(errors), 'num');
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
      cell(fmtCount(r.concurrency), 'num'),
      cell(fmtRate(s.per_second), 'num rps'),
      cell(fmtMs(s.p50_ms), 'num'),
      cell(fmtMs(s.p90_ms), 'num hide-narrow'),
      cell(fmtMs(s.p99_ms), 'num'),
      cell(fmtMs(s.max_ms), 'num hide-narrow'),
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
    const value = k.endsWith('bytes') || k === 'bytes_per_connection' ? fmtBytes(v) : isNum(v) ? fmtCount(v) : String(v);
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
      cell(fmtCount(r.concurrency), 'num'),
      cell(fmtRate(s.per_second), 'num rps'),
      cell(fmtMs(s.p50_ms), 'num'),
      cell(fmtMs(s.p90_ms), 'num hide-narrow'),
      cell(fmtMs(s.p99_ms), 'num'),
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
    `${fmtCount(failed)} of ${fmtCount(failed + ok)} requests failed (an HTTP error such as 429 from the server's rate limit, ` +
      'or a dropped connection): req/s counts the successful ones only, so these numbers understate what the models can do.',
  );
  note.setAttribute('role', 'note');
  note.dataset.testid = 'run-errors';
  return note;
}

function validRun(r) {
  return r && typeof r === 'object' && typeof r.scenario === 'string' && r.summary && typeof r.summary === 'object';
}

function labMs(runs) {
  const ms = runs.map((r) => r.extra && r.extra.ms).filter(isNum);
  return ms.length && ms.every((v) => v === ms[0]) ? ms[0] : null;
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
    renderResults(results);
  } catch (e) {
    $('results-body').hidden = true;
    showError($('results-error'), `Could not load the results: ${e.message}`);
  } finally {
    $('results-loading').hidden = true;
    btn.disabled = false;
  }
}

function renderResults(results) {
  const runs = Array.isArray(results && results.runs) ? results.runs.filter(validRun) : [];
  const lab = runs.filter((r) => r.scenario === 'lab');
  const other = runs.filter((r) => r.scenario !== 'lab');

  const meta = [];
  const at = new Date(results.started_at);
  if (!Number.isNaN(at.getTime())) meta.push(`Run ${dateFmt.format(at)}`);
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
    resultsChart = new LabChart(chartBox, lab, { ms: labMs(lab) ?? settings.lab_ms, idPrefix: 'results' });
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
    $('workers-note').textContent = `The last bench ran its server with ${settings.workers} HTTP worker thread${settings.workers === 1 ? '' : 's'}; a server started without --workers runs one per CPU core.`;
  }
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
    label.textContent = `Running ${MODELS.length} models × ${body.concurrency.length} level${body.concurrency.length === 1 ? '' : 's'}: ${elapsed.toFixed(1)} s of about ${estimate.toFixed(1)} s`;
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
    renderLive(runs, body, elapsed);
  } catch (e) {
    if (e instanceof ApiError && e.status === 400 && Array.isArray(e.problem.errors) && e.problem.errors.length) {
      const fields = [];
      for (const fe of e.problem.errors) {
        const field = String(fe.field || '').replace(/\[\d+\]$/, '');
        setFieldError(form, field, fe.message);
        fields.push(`${field}: ${fe.message}`);
      }
      showError($('live-error'), `The server rejected these settings (${fields.join('; ')}).`);
    } else if (e instanceof ApiError && e.status === 409) {
      showError($('live-error'), `Busy: ${e.message}`);
    } else if (e instanceof ApiError && e.status === 429) {
      showError($('live-error'), `Rate limited by the server: ${e.message}`);
    } else {
      showError($('live-error'), e.message);
    }
  } finally {
    clearInterval(timer);
    progress.hidden = true;
    setRunning(false);
  }
}

function renderLive(runs, body, elapsed) {
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
  liveChart = new LabChart($('live-chart'), lab, { ms: body.ms, idPrefix: 'live' });
  const warning = errorNote(lab);
  if (warning) $('live-table').append(warning);
  $('live-table').append(labTable(lab, 'live-runs'));
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
