// switchboard pages' shared module (ES module, no side effects on import): what /chat,
// /dashboard, /graphiql and /lab share comes from here. This file holds the signed-in REST
// session (one sessionStorage key, one token format, the same refresh rules on every page)
// and its sockets; it re-exports the DOM helpers (dom.js), number and time formatting
// (format.js), fetch with problem+json errors (http.js) and the sign-in form
// (auth-form.js), so a page imports this one module.

import { wsUrl } from '/static/dom.js';
import { okOrThrow, readProblem, request, send, ApiError, AuthError } from '/static/http.js';

export * from '/static/dom.js';
export * from '/static/format.js';
export * from '/static/http.js';
export { AuthForm } from '/static/auth-form.js';

// ---------------------------------------------------------------- REST session (tokens)

const TOKEN_URL = '/api/v1/auth/token';
export const AUTH_KEY = 'switchboard.auth';

/** What the pages say when the session is over: `reason` as Session.onExpired gives it. */
export function sessionEndedText(reason) {
  return reason === 'ended'
    ? 'Your session has ended (signed out elsewhere, password changed or account disabled): sign in again.'
    : 'Your session has ended: sign in again.';
}

/** How far into an access token's lifetime it is renewed: at 80 % (3 min early for 15 min). */
export const RENEW_AT = 0.8;
const DEFAULT_LIFETIME_MS = 900_000;

/**
 * Access + refresh token pair kept in sessionStorage, renewed at 80 % of the access token's
 * lifetime and on 401. Each renewal is announced to `onRenew` listeners (the pages' open
 * sockets pass the new token on in-band). `onExpired(reason)` runs when the session is
 * over: 'expired' (the refresh token was refused) or 'ended' (a socket was closed 4003).
 */
export class Session {
  constructor() {
    this.tokens = null;
    this.refreshing = null;
    this.timer = null;
    this.onExpired = () => {};
    this.renewListeners = new Set();
    this.load();
    // Hidden tabs run timers late: catch up when the page is seen again or back online.
    const catchUp = () => {
      if (this.tokens && Date.now() >= this.renewAt()) this.refresh().catch(() => {});
    };
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) catchUp();
    });
    window.addEventListener('online', catchUp);
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

  /** The access token's lifetime in ms (as the token endpoint said: `expires_in`). */
  lifetime() {
    const ms = this.tokens && Number(this.tokens.lifetime);
    return ms > 0 ? ms : DEFAULT_LIFETIME_MS;
  }

  /** When the access token is due for renewal (epoch ms). */
  renewAt() {
    if (!this.tokens) return Infinity;
    return this.tokens.expiresAt - (1 - RENEW_AT) * this.lifetime();
  }

  store(answer) {
    const lifetime = Math.max(1, Number(answer.expires_in) || DEFAULT_LIFETIME_MS / 1000) * 1000;
    this.tokens = {
      access: answer.access_token,
      refresh: answer.refresh_token,
      expiresAt: Date.now() + lifetime,
      lifetime,
    };
    sessionStorage.setItem(AUTH_KEY, JSON.stringify(this.tokens));
    this.schedule();
  }

  clear() {
    clearTimeout(this.timer);
    this.tokens = null;
    sessionStorage.removeItem(AUTH_KEY);
  }

  /** The session is over (a socket was closed 4003: signed out, password changed…). */
  end(reason = 'ended') {
    if (!this.tokens) return;
    this.clear();
    this.onExpired(reason);
  }

  /** `fn(accessToken)` after every renewal; answers a function that unsubscribes. */
  onRenew(fn) {
    this.renewListeners.add(fn);
    return () => this.renewListeners.delete(fn);
  }

  /** Renew at 80 % of the access token's lifetime (`delay` overrides, e.g. a retry). */
  schedule(delay) {
    clearTimeout(this.timer);
    if (!this.tokens) return;
    const ms = delay ?? Math.max(1000, this.renewAt() - Date.now());
    this.timer = setTimeout(() => {
      this.refresh().catch((e) => {
        if (!(e instanceof AuthError)) this.schedule(Math.min(10_000, Math.max(1000, this.lifetime() / 10))); // offline or 5xx: try again soon
      });
    }, ms);
  }

  async signIn(email, password) {
    const resp = await request(TOKEN_URL, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: email, password }),
    });
    this.store(await resp.json());
  }

  /** One refresh at a time: refresh tokens rotate, and reusing a spent one ends the session. */
  refresh() {
    if (this.refreshing) return this.refreshing;
    if (!this.tokens) return Promise.reject(new AuthError('not signed in'));
    const spent = this.tokens.refresh;
    this.refreshing = (async () => {
      try {
        const resp = await send(TOKEN_URL, {
          method: 'POST',
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: spent }),
        });
        if (resp.ok) {
          this.store(await resp.json());
          const access = this.tokens.access;
          for (const fn of [...this.renewListeners]) {
            try {
              fn(access);
            } catch {
              /* one listener's failure is not the others' */
            }
          }
          return access;
        }
        const problem = await readProblem(resp);
        if (resp.status === 400 || resp.status === 401) {
          if (this.tokens && this.tokens.refresh === spent) {
            this.clear();
            this.onExpired('expired');
          }
          throw new AuthError(new ApiError(resp.status, problem).message);
        }
        throw new ApiError(resp.status, problem);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** A usable access token, refreshed first when it expires soon (30 s, or 10 % of a short lifetime). */
  async accessToken() {
    if (!this.tokens) throw new AuthError('not signed in');
    if (Date.now() > this.tokens.expiresAt - Math.min(30_000, this.lifetime() / 10)) return this.refresh();
    return this.tokens.access;
  }

  /**
   * fetch() with the bearer token; a 401 triggers one refresh and one retry. Any answer is
   * returned (okOrThrow turns an error answer into ApiError); no answer is NetworkError, no
   * session AuthError.
   */
  async fetch(url, init = {}, retry = true) {
    const token = await this.accessToken();
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    const resp = await send(url, { ...init, headers });
    if (resp.status === 401 && retry) {
      await this.refresh();
      return this.fetch(url, init, false);
    }
    return resp;
  }

  /** An authenticated call's JSON answer; ApiError, NetworkError or AuthError when there is none. */
  async json(url, init) {
    return (await okOrThrow(await this.fetch(url, init))).json();
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

// ---------------------------------------------------------------- token lease of a socket

/** Close codes of the signed-in sockets (/ws/chat, /ws/events, /graphql). */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_SESSION_ENDED = 4003;
export const CLOSE_FORBIDDEN = 4403;

/**
 * How long an open socket's token lasts, and its in-band renewal: the server closes a socket
 * whose token expires (4001), so each renewal of the session is passed on to it (`send`
 * writes the protocol's frame: chat/events `{"type":"auth"}`, GraphQL a `ping` payload), and
 * the server's answer (`confirm`/`refuse`) says until when it now holds. If the session
 * has not renewed by the time the socket's token is nearly spent (a late timer in a hidden
 * tab, a failed refresh), the lease asks for a refresh itself. One implementation for every
 * page: LiveSocket (chat, dashboard) and the GraphQL explorer's subscription client.
 */
export class TokenLease {
  /**
   * @param {Session} session
   * @param {{send: (token: string) => boolean, onRefused?: (why: string) => void}} io
   *   `send` answers false when the socket cannot take the frame now
   */
  constructor(session, { send, onRefused = () => {} }) {
    this.session = session;
    this.send = send;
    this.onRefused = onRefused;
    this.token = null; // the token the server holds this socket to
    this.expiresAt = 0; // epoch ms
    this.pending = null; // a token sent, not answered yet
    this.timer = null;
    this.unsubscribe = null;
  }

  /** The socket is open on `token` (from the session): follow the session's renewals. */
  start(token) {
    this.stop();
    this.token = token;
    const t = this.session.tokens;
    this.expiresAt = t && t.access === token ? t.expiresAt : Date.now() + this.session.lifetime();
    this.unsubscribe = this.session.onRenew((fresh) => this.offer(fresh));
    // The session may have renewed while this socket was connecting.
    if (t && t.access !== token) this.offer(t.access);
    this.arm();
  }

  /** Sends `fresh` unless the socket already runs on it (or it is on its way). */
  offer(fresh) {
    if (!fresh || fresh === this.token || fresh === this.pending) return;
    if (this.send(fresh)) this.pending = fresh;
  }

  /** The server accepted the pending token: the socket lasts until `expiresAtSeconds`. */
  confirm(expiresAtSeconds) {
    if (this.pending) this.token = this.pending;
    this.pending = null;
    const server = Number(expiresAtSeconds) * 1000;
    const local = this.session.tokens && this.session.tokens.access === this.token ? this.session.tokens.expiresAt : Infinity;
    // The server's clock decides; the local estimate guards against a skewed one.
    this.expiresAt = Number.isFinite(server) && server > 0 ? Math.min(server, local) : local;
    this.arm();
  }

  /** The server refused the pending token (the old one still holds until it expires). */
  refuse(why) {
    const had = this.pending;
    this.pending = null;
    if (had) this.onRefused(why || 'refused');
  }

  /** Whether a renewal answer is awaited (to tell its error frame from others). */
  get awaiting() {
    return this.pending !== null;
  }

  /** Near the end of the lease (the last 10 % of the lifetime, at most 30 s), renew now. */
  arm() {
    clearTimeout(this.timer);
    const margin = Math.min(30_000, this.session.lifetime() / 10);
    const ms = Math.max(500, this.expiresAt - margin - Date.now());
    this.timer = setTimeout(() => {
      const t = this.session.tokens;
      if (!t) return;
      if (t.access !== this.token) this.offer(t.access);
      else this.session.refresh().catch(() => {}); // its listeners (this.offer) pass it on
      // Not renewed yet (offline?): try again until the lease is over (the server then closes 4001).
      this.timer = setTimeout(() => {
        if (Date.now() < this.expiresAt) this.arm();
      }, Math.max(1000, margin / 2));
    }, ms);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.unsubscribe) this.unsubscribe();
    this.unsubscribe = null;
    this.pending = null;
  }
}

// ---------------------------------------------------------------- live WebSocket

/**
 * A signed-in WebSocket that comes back by itself, for the chat and dashboard pages. After a
 * drop it waits 0.5 s doubling to 10 s (each wait 50–100 % of that, so a restarted server is
 * not hit by every tab at once), and reconnects at once when the browser is back online.
 * Refused before the upgrade (perhaps an expired access token), it first makes one REST
 * call, which refreshes the token or ends the session.
 *
 * Its token is renewed in-band (TokenLease: `{"type":"auth"}` answered by `authenticated`);
 * closed 4001 (token expired) it refreshes and reconnects at once; closed 4003 (the
 * session ended: signed out, password changed, account disabled) it stops and ends the
 * session (`session.onExpired('ended')`).
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
    this.lease = new TokenLease(session, {
      send: (token) => this.send({ type: 'auth', token }),
      // A fresh token refused on an open socket: a new connection sorts it out (or the
      // upgrade is refused, and the REST check below ends the session).
      onRefused: () => this.reconnectNow(),
    });
    window.addEventListener('online', () => {
      if (!this.wanted) return;
      if (!this.ws) this.start();
      else this.attempt = 0; // an attempt is under way: if it fails, the next one comes soon
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
      if (this.ws === ws) this.lease.start(token);
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.type === 'authenticated') return this.lease.confirm(frame.expires_at);
      if (frame.type === 'error' && this.lease.awaiting && (frame.code === 'UNAUTHENTICATED' || frame.code === 'FORBIDDEN')) {
        return this.lease.refuse(frame.message);
      }
      this.onFrame(frame);
    });
    ws.addEventListener('close', (ev) => this.closed(ws, ev, opened, token));
  }

  async closed(ws, ev, opened, token) {
    if (this.ws !== ws) return;
    this.ws = null;
    const held = this.lease.token || token; // renewed in-band, perhaps
    this.lease.stop();
    if (ev.code === CLOSE_SESSION_ENDED) {
      this.wanted = false;
      this.onClose(ev, true);
      this.onStatus('offline', 'signed out');
      this.session.end('ended');
      return;
    }
    this.onClose(ev, this.wanted);
    if (!this.wanted) return;
    if (ev.code === CLOSE_TOKEN_EXPIRED) {
      this.onStatus('connecting', 'renewing the session…');
      try {
        // The session may already hold a newer token than the one that expired here.
        if (!this.session.tokens || this.session.tokens.access === held) await this.session.refresh();
      } catch (e) {
        if (e instanceof AuthError) return; // the session is over: onExpired says so
        return this.scheduleReconnect();
      }
      this.attempt = 0;
      return this.connect();
    }
    if (!opened) {
      try {
        await this.session.fetch('/api/v1/users/me');
      } catch (e) {
        if (e instanceof AuthError) return;
      }
    }
    this.scheduleReconnect();
  }

  /** Drops this connection and opens a new one at once (with the session's current token). */
  reconnectNow() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.lease.stop();
    ws.close(1000, 'renewing');
    this.onClose(new CloseEvent('close', { code: 1000, reason: 'renewing', wasClean: true }), this.wanted);
    this.start();
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
    this.lease.stop();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'bye');
  }
}
