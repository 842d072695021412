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
