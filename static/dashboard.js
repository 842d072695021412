// switchboard admin dashboard: REST sign-in, then /ws/events (docs/PROTOCOL.md), kept
// signed in by LiveSocket (static/session.js): in-band token renewal, 4001/4003 handling.
// Metrics frames (one a second) feed hand-drawn SVG line charts; event frames a live list.
// No dependencies beyond the shared static/session.js (the binary embeds a fixed set of
// files: src/http/assets.rs); user text goes through textContent only.

import {
  $,
  el,
  svg,
  toast,
  formatAxis,
  formatClock,
  formatDuration,
  formatNumber as fmt,
  isNum,
  plural,
  sessionEndedText,
  setConnStatus,
  AuthForm,
  LiveSocket,
  Session,
} from '/static/session.js';

const moneyFmt = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

const num = (v) => (isNum(v) ? v : 0);

// ---------------------------------------------------------------- REST session (tokens)
// Shared with /chat and /graphiql, as is the sign-in form: static/session.js.

const session = new Session();
const authForm = new AuthForm(session, { onSignedIn: () => startDashboard() });

// ---------------------------------------------------------------- line charts (SVG)

const POINTS = 120; // two minutes at one frame a second

function niceCeil(x) {
  if (!(x > 0)) return 0;
  const e = 10 ** Math.floor(Math.log10(x));
  const f = x / e;
  const n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return n * e;
}

class LineChart {
  /**
   * @param {{title:string, unit?:string, minMax?:number, series:{label:string, cls:string}[]}} spec
   */
  constructor(parent, spec) {
    this.spec = spec;
    this.data = spec.series.map(() => []);
    this.fixedMax = null;

    const card = el('article', 'card chart-card');
    card.dataset.testid = `chart-${spec.id}`;
    card.append(el('h2', '', spec.title));
    this.legend = el('ul', 'legend');
    this.values = spec.series.map((s) => {
      const li = el('li', s.cls, `${s.label} `);
      const b = el('b', '', '–');
      li.append(b);
      this.legend.append(li);
      return b;
    });
    card.append(this.legend);

    const box = el('div', 'chart');
    this.axisTop = el('span', 'axis top', '');
    this.axisMid = el('span', 'axis mid', '');
    box.append(this.axisTop, this.axisMid, el('span', 'axis bottom', '0'));
    const root = svg('svg', { viewBox: '0 0 100 100', preserveAspectRatio: 'none', role: 'img', 'aria-label': spec.title });
    for (const y of [0, 50, 100]) {
      root.append(svg('line', { class: 'grid', x1: 0, x2: 100, y1: y, y2: y, 'vector-effect': 'non-scaling-stroke' }));
    }
    this.lines = spec.series.map((s) => {
      const line = svg('path', { class: `line ${s.cls}`, d: '', 'vector-effect': 'non-scaling-stroke' });
      root.append(line);
      return line;
    });
    box.append(root);
    card.append(box);

    const foot = el('div', 'chart-foot');
    foot.append(el('span', '', '2 min ago'), el('span', '', 'now'));
    card.append(foot);
    parent.append(card);
  }

  /** One value per series; null (e.g. no latency in a second without requests) leaves a gap. */
  push(values) {
    values.forEach((v, i) => {
      const d = this.data[i];
      const ok = typeof v === 'number' && Number.isFinite(v);
      d.push(ok ? v : null);
      if (d.length > POINTS) d.shift();
      this.values[i].textContent = ok ? `${fmt(v)}${this.spec.unit ? ` ${this.spec.unit}` : ''}` : '–';
    });
  }

  render() {
    let peak = 0;
    for (const d of this.data) for (const v of d) if (v !== null && v > peak) peak = v;
    const max = this.fixedMax || Math.max(this.spec.minMax || 1, niceCeil(peak * 1.05));
    this.axisTop.textContent = formatAxis(max);
    this.axisMid.textContent = formatAxis(max / 2);
    const step = 100 / (POINTS - 1);
    this.data.forEach((d, i) => {
      const offset = POINTS - d.length;
      let path = '';
      let pen = false;
      d.forEach((v, j) => {
        if (v === null) {
          pen = false;
          return;
        }
        const x = ((offset + j) * step).toFixed(2);
        const y = (100 - (Math.min(v, max) / max) * 100).toFixed(2);
        path += `${pen ? 'L' : 'M'}${x},${y}`;
        // a lone point between gaps still shows, as a dot
        if (!pen && (j === d.length - 1 || d[j + 1] === null)) path += 'h0.01';
        pen = true;
      });
      this.lines[i].setAttribute('d', path);
    });
  }
}

let charts = null;

/** The charts: [id, title, series (label, colour class), options]. */
const CHARTS = [
  ['rps', 'HTTP requests per second', [['req/s', 's1']]],
  ['latency', 'HTTP latency', [['p50', 's1'], ['p90', 's2'], ['p99', 's3']], { unit: 'ms' }],
  ['ws', 'Active WebSocket sessions', [['chat', 's1'], ['events', 's2'], ['echo', 's4']], { minMax: 2 }],
  ['mps', 'Chat messages per second', [['msg/s', 's1']]],
  ['db', 'Database pool', [['in use', 's3'], ['idle', 's4']], { minMax: 2 }],
];

function buildCharts() {
  const parent = $('charts');
  parent.replaceChildren();
  charts = Object.fromEntries(
    CHARTS.map(([id, title, series, options]) => [
      id,
      new LineChart(parent, { id, title, series: series.map(([label, cls]) => ({ label, cls })), ...options }),
    ]),
  );
}

// ---------------------------------------------------------------- frames

let lastMetricsAt = 0;

function onMetrics(f) {
  const http = f.http || {};
  const lat = http.latency_ms || {};
  const ws = f.ws || {};
  const sessions = ws.sessions || {};
  const db = f.db || {};

  charts.rps.push([http.requests_per_s]);
  charts.latency.push([lat.p50, lat.p90, lat.p99]);
  charts.ws.push([sessions.chat, sessions.events, sessions.echo]);
  charts.mps.push([ws.messages_per_s]);
  charts.db.push([db.in_use, db.idle]);
  charts.db.fixedMax = num(db.pool_max) > 0 ? db.pool_max : null;
  for (const c of Object.values(charts)) c.render();

  $('t-rps').textContent = fmt(http.requests_per_s);
  $('t-req-total').textContent = `${fmt(http.requests_total)} since start`;
  $('t-p50').textContent = fmt(lat.p50);
  $('t-p50-unit').hidden = typeof lat.p50 !== 'number';
  $('t-p9x').textContent =
    typeof lat.p50 === 'number' ? `p90 ${fmt(lat.p90)} · p99 ${fmt(lat.p99)} ms` : 'no requests in the last second';
  $('t-errors').textContent = fmt(num(http.errors_4xx) + num(http.errors_5xx));
  $('t-err-split').textContent = `${fmt(http.errors_4xx)} 4xx · ${fmt(http.errors_5xx)} 5xx since start`;
  $('t-ws').textContent = fmt(num(sessions.chat) + num(sessions.events) + num(sessions.echo));
  $('t-ws-split').textContent = `chat ${fmt(sessions.chat)} · events ${fmt(sessions.events)} · echo ${fmt(sessions.echo)}`;
  $('t-mps').textContent = fmt(ws.messages_per_s);
  $('t-msg-total').textContent = `${plural(ws.messages_total, 'message')} since start`;
  $('t-db').textContent = `${fmt(db.in_use)} / ${fmt(db.pool_max)}`;
  $('t-db-split').textContent = `in use of ${fmt(db.pool_max)} · ${fmt(db.idle)} idle, ${fmt(db.connections)} open`;
  $('t-uptime').textContent = formatDuration(f.uptime_s);
  $('t-rooms').textContent = `${plural(ws.rooms, 'chat room')} active`;

  lastMetricsAt = Date.now();
  const at = new Date(f.at);
  $('updated').textContent = `updated ${formatClock(Number.isNaN(at.getTime()) ? new Date() : at)}`;
}

const MAX_EVENTS = 50;

function describe(f) {
  const o = f.order || {};
  const money = (c) => (typeof c === 'number' ? moneyFmt.format(c / 100) : '?');
  switch (f.type) {
    case 'order_created':
      return `Order #${o.id} by user #${o.user_id}: ${o.status}, total ${money(o.total_cents)}`;
    case 'order_status_changed':
      return `Order #${o.id} (user #${o.user_id}): ${f.from ?? '?'} → ${o.status}, total ${money(o.total_cents)}`;
    case 'user_registered':
      return `${f.user?.name ?? 'someone'} signed up (user #${f.user?.id ?? '?'})`;
    case 'chat_message': {
      const m = f.message || {};
      return `#${f.room} · ${m.user?.name ?? 'someone'}: ${m.body ?? ''}`;
    }
    default:
      return JSON.stringify(f);
  }
}

const KNOWN_EVENTS = new Set(['order_created', 'order_status_changed', 'user_registered', 'chat_message']);

function onEvent(f) {
  const list = $('events');
  list.querySelector('.empty')?.remove();
  const li = el('li');
  li.dataset.type = f.type;
  const when = el('time', 'when', formatClock(new Date()));
  const kind = el('span', 'kind', f.type);
  if (KNOWN_EVENTS.has(f.type)) kind.classList.add(f.type);
  li.append(when, kind, el('span', 'what', describe(f)));
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

function handleFrame(f) {
  switch (f.type) {
    case 'ready':
      live.ready();
      setConnStatus('online', 'live');
      if (f.user) showWhoami(f.user);
      $('forbidden').hidden = f.dashboard !== false;
      $('metrics-area').hidden = f.dashboard === false;
      $('updated').hidden = f.dashboard === false;
      $('events-title').textContent = f.dashboard === false ? 'Your notifications' : 'Events';
      return;
    case 'metrics':
      return onMetrics(f);
    case 'error':
      return toast(f.message || 'The server refused a frame.', { code: f.code || 'ERROR' });
    default:
      if (typeof f.type === 'string') onEvent(f);
      return undefined;
  }
}

// ---------------------------------------------------------------- connection

const live = new LiveSocket(session, '/ws/events', {
  onFrame: handleFrame,
  onStatus: setConnStatus,
  onClose: (ev, wanted) => {
    if (wanted && ev.code === 1008) toast('The server closed the connection.', { code: '1008' });
  },
});

// ---------------------------------------------------------------- views

function showWhoami(user) {
  const w = $('whoami');
  w.textContent = user ? user.name : '';
  w.hidden = !user;
}

function showAuth(message) {
  live.stop();
  $('dash-view').hidden = true;
  $('auth-view').hidden = false;
  $('signout').hidden = true;
  $('whoami').hidden = true;
  $('conn-status').hidden = true;
  authForm.reset(message);
}

function startDashboard() {
  $('auth-view').hidden = true;
  $('dash-view').hidden = false;
  $('signout').hidden = false;
  $('forbidden').hidden = true;
  $('metrics-area').hidden = false;
  $('events').replaceChildren(el('li', 'empty', 'No events yet. Register a user, place an order or chat to see some.'));
  buildCharts();
  live.start();
}

async function signOut() {
  live.stop();
  await session.signOut();
  showAuth();
}

function init() {
  $('signout').addEventListener('click', signOut);
  $('switch-account').addEventListener('click', signOut);
  // LiveSocket renews the token in-band, reconnects after 4001 and ends the session on 4003.
  session.onExpired = (reason) => showAuth(sessionEndedText(reason));
  setInterval(() => {
    if (!live.ws || !lastMetricsAt || $('metrics-area').hidden) return;
    const silent = Math.round((Date.now() - lastMetricsAt) / 1000);
    if (silent >= 3) $('updated').textContent = `no metrics for ${silent} s`;
  }, 1000);
  if (session.signedIn) startDashboard();
  else showAuth();
}

init();
