// switchboard pages' shared module (ES module, no side effects on import): small DOM helpers,
// toasts, and the signed-in REST session. /chat, /dashboard and /graphiql share one session
// (one sessionStorage key, one token format, the same refresh rules), so it is kept here.
// Server and user text only ever goes through textContent.

// ---------------------------------------------------------------- small helpers

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** A short notice in the page's #toasts box (at most four at a time). */
export function toast(text, { kind = 'warn', code = '', ms = 5000 } = {}) {
  const box = $('toasts');
  const t = el('div', `toast ${kind}`);
  t.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (code) t.append(el('span', 'code', code));
  t.append(document.createTextNode(text));
  box.append(t);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => t.remove(), ms);
}

/** The ws:/wss: URL of a path on this server. */
export function wsUrl(path) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}

// ---------------------------------------------------------------- REST session (tokens)

const TOKEN_URL = '/api/v1/auth/token';
export const AUTH_KEY = 'switchboard.auth';

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem));
    this.status = status;
    this.problem = problem || {};
  }
}

function problemText(status, p) {
  if (!p) return `Request failed (HTTP ${status})`;
  if (p.error === 'invalid_grant') return 'Wrong email or password.';
  return p.detail || p.error_description || p.title || `Request failed (HTTP ${status})`;
}

async function readProblem(resp) {
  try {
    return await resp.json();
  } catch {
    return null;
  }
}

/** Creates an account (POST /api/v1/users); throws ApiError when it is refused. */
export async function registerUser(email, name, password) {
  const resp = await fetch('/api/v1/users', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, name, password }),
  });
  if (resp.status === 409) throw new ApiError(409, { detail: 'That email is already registered: sign in instead.' });
  if (!resp.ok) throw new ApiError(resp.status, await readProblem(resp));
}

/** Access + refresh token pair kept in sessionStorage, refreshed before expiry and on 401. */
export class Session {
  constructor() {
    this.tokens = null;
    this.refreshing = null;
    this.timer = null;
    this.onExpired = () => {};
    this.load();
  }

  /** (Re)reads the tokens from sessionStorage. */
  load() {
    this.tokens = null;
    try {
      const saved = JSON.parse(sessionStorage.getItem(AUTH_KEY));
      if (saved && saved.access && saved.refresh) this.tokens = saved;
    } catch {
      /* nothing stored */
    }
    this.schedule();
  }

  get signedIn() {
    return this.tokens !== null;
  }

  store(answer) {
    this.tokens = {
      access: answer.access_token,
      refresh: answer.refresh_token,
      expiresAt: Date.now() + Number(answer.expires_in || 900) * 1000,
    };
    sessionStorage.setItem(AUTH_KEY, JSON.stringify(this.tokens));
    this.schedule();
  }

  clear() {
    clearTimeout(this.timer);
    this.tokens = null;
    sessionStorage.removeItem(AUTH_KEY);
  }

  /** Refresh a minute before the access token expires (never sooner than in 5 s). */
  schedule(delay) {
    clearTimeout(this.timer);
    if (!this.tokens) return;
    const ms = delay ?? Math.max(5000, this.tokens.expiresAt - Date.now() - 60_000);
    this.timer = setTimeout(() => {
      this.refresh().catch((e) => {
        if (!(e instanceof AuthError)) this.schedule(10_000); // offline or 5xx: try again soon
      });
    }, ms);
  }

  async signIn(email, password) {
    const resp = await fetch(TOKEN_URL, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'password', username: email, password }),
    });
    if (!resp.ok) throw new ApiError(resp.status, await readProblem(resp));
    this.store(await resp.json());
  }

  /** One refresh at a time: refresh tokens rotate, and reusing a spent one ends the session. */
  refresh() {
    if (this.refreshing) return this.refreshing;
    if (!this.tokens) return Promise.reject(new AuthError('not signed in'));
    const spent = this.tokens.refresh;
    this.refreshing = (async () => {
      try {
        const resp = await fetch(TOKEN_URL, {
          method: 'POST',
          headers: { accept: 'application/json' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: spent }),
        });
        if (resp.ok) {
          this.store(await resp.json());
          return this.tokens.access;
        }
        const problem = await readProblem(resp);
        if (resp.status === 400 || resp.status === 401) {
          this.clear();
          this.onExpired();
          throw new AuthError(problemText(resp.status, problem));
        }
        throw new ApiError(resp.status, problem);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** A usable access token, refreshed first when it expires within 30 s. */
  async accessToken() {
    if (!this.tokens) throw new AuthError('not signed in');
    if (Date.now() > this.tokens.expiresAt - 30_000) return this.refresh();
    return this.tokens.access;
  }

  /** fetch() with the bearer token; a 401 triggers one refresh and one retry. */
  async fetch(url, init = {}, retry = true) {
    const token = await this.accessToken();
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    if (!headers.has('accept')) headers.set('accept', 'application/json');
    const resp = await fetch(url, { ...init, headers });
    if (resp.status === 401 && retry) {
      await this.refresh();
      return this.fetch(url, init, false);
    }
    return resp;
  }

  async json(url, init) {
    const resp = await this.fetch(url, init);
    if (!resp.ok) throw new ApiError(resp.status, await readProblem(resp));
    return resp.json();
  }

  /** RFC 7009 revocation of the refresh token (ends the session server-side). */
  async signOut() {
    const tokens = this.tokens;
    this.clear();
    if (!tokens) return;
    try {
      await fetch('/api/v1/auth/revoke', {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access}`, accept: 'application/json' },
        body: new URLSearchParams({ token: tokens.refresh, token_type_hint: 'refresh_token' }),
      });
    } catch {
      /* offline: the refresh token simply expires */
    }
  }
}

// ---------------------------------------------------------------- live WebSocket

/**
 * A signed-in WebSocket that comes back by itself, for the chat and dashboard pages. After a
 * drop it waits 0.5 s doubling to 10 s (each wait 50–100 % of that, so a restarted server is
 * not hit by every tab at once), and reconnects at once when the browser is back online.
 * Refused before the upgrade (perhaps an expired access token), it first makes one REST
 * call, which refreshes the token or ends the session.
 */
export class LiveSocket {
  /**
   * @param {Session} session
   * @param {string} path e.g. '/ws/chat'
   * @param {{onFrame: (frame: object) => void, onStatus: (state: string, text: string) => void,
   *          onClose?: (event: CloseEvent, wanted: boolean) => void}} handlers
   */
  constructor(session, path, { onFrame, onStatus, onClose = () => {} }) {
    this.session = session;
    this.path = path;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.onClose = onClose;
    this.ws = null;
    this.wanted = false;
    this.attempt = 0;
    this.timer = null;
    window.addEventListener('online', () => {
      if (this.wanted && !this.ws) this.start();
    });
  }

  /** Connects now, forgetting earlier failures. */
  start() {
    this.attempt = 0;
    this.connect();
  }

  /** The server has accepted this connection: the next drop starts the backoff afresh. */
  ready() {
    this.attempt = 0;
  }

  /** Sends a JSON frame; false when not connected. */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  async connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.session.signedIn) return;
    this.wanted = true;
    this.onStatus('connecting', this.attempt ? 'reconnecting…' : 'connecting…');
    let token;
    try {
      token = await this.session.accessToken();
    } catch (e) {
      if (!(e instanceof AuthError)) this.scheduleReconnect();
      return;
    }
    if (!this.wanted || this.ws) return;
    let opened = false;
    // Browsers cannot set Authorization on a WebSocket: the token goes as a sub-protocol.
    const ws = new WebSocket(wsUrl(this.path), ['bearer', token]);
    this.ws = ws;
    ws.addEventListener('open', () => {
      opened = true;
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener('close', async (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClose(ev, this.wanted);
      if (!this.wanted) return;
      if (!opened) {
        try {
          await this.session.fetch('/api/v1/users/me');
        } catch (e) {
          if (e instanceof AuthError) return;
        }
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    if (!this.wanted || this.timer) return;
    const base = Math.min(10_000, 500 * 2 ** this.attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt += 1;
    this.onStatus('reconnecting', `offline · retry in ${Math.max(1, Math.round(delay / 1000))} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Closes the connection (1000) and stays closed until `start`. */
  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'bye');
  }
}
