// switchboard GraphQL explorer: a small, dependency-free GraphiQL for /graphql (docs/GRAPHQL.md).
// Queries and mutations go over HTTP (POST, JSON); subscriptions over a graphql-transport-ws
// WebSocket. The schema browser is built from introspection. Works offline: nothing is
// loaded from anywhere but this server. No inline handlers or inline style attributes (the
// page's CSP forbids them); server and user text only ever goes through textContent.

import {
  $,
  el,
  toast,
  wsUrl,
  AUTH_KEY,
  AuthError,
  ApiError,
  CLOSE_FORBIDDEN,
  CLOSE_SESSION_ENDED,
  CLOSE_TOKEN_EXPIRED,
  registerUser,
  Session,
  TokenLease,
} from '/static/session.js';

// ---------------------------------------------------------------- small helpers

const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** 14:03:07.042 (local time), for subscription events. */
function clock(date) {
  const two = (n) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

function ago(at) {
  const s = Math.round((Date.now() - at) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return dayFmt.format(new Date(at));
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function formatMs(ms) {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function readJsonStore(key, fallback) {
  try {
    const v = JSON.parse(localStorage.getItem(key));
    return v ?? fallback;
  } catch {
    return fallback;
  }
}

function writeStore(key, value) {
  try {
    localStorage.setItem(key, typeof value === 'string' ? value : JSON.stringify(value));
  } catch {
    /* storage full or disabled: the page works without it */
  }
}

// ---------------------------------------------------------------- page styles
// The shared app.css has the look (buttons, inputs, cards, tabs, topbar); the explorer's own
// layout is added here through the CSSOM (a constructed style sheet), which the page's
// Content-Security-Policy (style-src 'self') allows, unlike <style> or style="" attributes.

const CSS = `
.gq {
  flex: 1 1 auto;
  min-height: 0;
  display: grid;
  grid-template-columns: 19rem minmax(0, 1fr) minmax(0, 1fr);
  grid-template-rows: minmax(0, 1fr);
  height: calc(100vh - 3.25rem);
  height: calc(100dvh - 3.25rem);
}
.gq[data-side="closed"] { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
.gq[data-side="closed"] .gq-side { display: none; }

.gq-side {
  min-height: 0;
  display: flex;
  flex-direction: column;
  background: var(--surface);
  border-right: 1px solid var(--border);
}
.gq-side-head { display: flex; align-items: center; gap: 0.4rem; padding: 0.75rem 0.85rem 0; }
.gq-side-tabs { flex: 1; margin-bottom: 0; }
.gq-side-close { display: none; }
.gq-pane { flex: 1; min-height: 0; overflow-y: auto; padding: 0.75rem 0.85rem 1.25rem; }
.gq-docs-nav { margin-top: 0.6rem; }
.gq-docs-nav .btn { padding-left: 0.35rem; max-width: 100%; overflow: hidden; text-overflow: ellipsis; }
.gq-docs { margin-top: 0.5rem; }
.gq-docs .side-title { margin: 1rem 0 0.35rem; }
.gq-docs .side-title:first-child { margin-top: 0.4rem; }
.gq-type-head { display: flex; align-items: baseline; flex-wrap: wrap; gap: 0.2rem 0.5rem; margin: 0.3rem 0 0.2rem; }
.gq-type-head h3 { margin: 0; font-size: 1.15rem; font-family: var(--mono); overflow-wrap: anywhere; }
.gq-type-head .badge { margin-left: 0; font-family: var(--mono); text-transform: lowercase; }
.gq-desc { margin: 0.2rem 0 0.4rem; color: var(--muted); font-size: 0.86rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.gq-docs .room-item { font-family: var(--mono); font-size: 0.85rem; }
.gq-docs .room-item .gq-kind { margin-left: auto; font-family: system-ui, sans-serif; font-size: 0.72rem; color: var(--faint); font-weight: 400; }
.gq-docs .room-item .gq-item-name { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.gq-fields { list-style: none; margin: 0; padding: 0; }
.gq-fields > li { padding: 0.5rem 0.3rem; border-top: 1px solid var(--border); border-radius: 4px; transition: background 0.6s; }
.gq-fields > li:first-child { border-top: 0; }
.gq-fields > li.gq-flash { background: var(--accent-soft); }
.gq-field-row { display: flex; align-items: flex-start; gap: 0.4rem; }
.gq-sig { flex: 1; min-width: 0; font-family: var(--mono); font-size: 0.82rem; line-height: 1.55; overflow-wrap: anywhere; }
.gq-fname { font-weight: 650; color: var(--text); }
.gq-arg { display: block; padding-left: 1.1rem; }
.gq-argname { color: #8a5a00; }
.gq-default { color: var(--faint); }
.gq-typelink {
  padding: 0;
  font: inherit;
  color: var(--accent);
  background: none;
  border: 0;
  border-radius: 3px;
  cursor: pointer;
}
.gq-typelink:hover { text-decoration: underline; }
.gq-typelink:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.gq-fdesc { margin-top: 0.15rem; color: var(--muted); font-size: 0.8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.gq-deprecated { color: var(--warn); font-size: 0.75rem; }
.gq-insert { flex: none; min-height: 1.6rem; padding: 0 0.5rem; font-size: 0.75rem; }
.gq-hit-where { color: var(--faint); }
.gq-docs .gq-note { color: var(--faint); font-size: 0.85rem; }

.gq-history-title { margin-top: 0; }
#history .room-item { flex-direction: column; align-items: flex-start; gap: 0; }
#history .gq-h-label { max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: var(--mono); font-size: 0.85rem; }
#history .gq-h-when { font-size: 0.75rem; color: var(--faint); }

.gq-editor {
  min-width: 0;
  min-height: 0;
  display: flex;
  flex-direction: column;
  background: var(--bg);
  border-right: 1px solid var(--border);
}
.gq-toolbar {
  display: flex;
  align-items: center;
  gap: 0.5rem;
  min-height: 3.1rem;
  padding: 0.45rem 0.75rem;
  background: var(--surface);
  border-bottom: 1px solid var(--border);
}
.gq-op { flex: 0 1 auto; min-width: 4rem; }
.gq-op .input { width: 100%; max-width: 15rem; min-height: 2rem; padding: 0.2rem 0.5rem; font-family: var(--mono); font-size: 0.85rem; }
.gq-chip {
  flex: 0 1 auto;
  min-width: 0;
  max-width: 16rem;
  padding: 0 0.6rem;
  overflow: hidden;
  font-size: 0.78rem;
  line-height: 1.65rem;
  color: var(--muted);
  text-overflow: ellipsis;
  white-space: nowrap;
  background: var(--surface-2);
  border-radius: 999px;
}
.gq-chip.on { color: #1e6b3a; background: #e6f4ea; }
.gq-query-box { flex: 1 1 auto; min-height: 0; display: flex; flex-direction: column; padding: 0.65rem 0.75rem 0; }
.gq-vars-box { flex: none; display: flex; flex-direction: column; padding: 0.65rem 0.75rem 0.75rem; }
.gq-label { display: flex; align-items: baseline; justify-content: space-between; gap: 0.5rem; margin-bottom: 0.3rem; font-size: 0.8rem; font-weight: 650; }
.gq-label .small { font-weight: 400; font-size: 0.75rem; color: var(--faint); text-align: right; }
.gq-code {
  font-family: var(--mono);
  font-size: 0.86rem;
  line-height: 1.5;
  tab-size: 2;
  white-space: pre;
  overflow: auto;
  resize: none;
}
#query { flex: 1 1 auto; min-height: 10rem; }
#variables { height: 7.5rem; resize: vertical; }

.gq-results { min-width: 0; min-height: 0; display: flex; flex-direction: column; background: var(--surface); }
.gq-result-head {
  display: flex;
  align-items: center;
  flex-wrap: wrap;
  gap: 0.4rem 0.7rem;
  min-height: 3.1rem;
  padding: 0.45rem 0.9rem;
  border-bottom: 1px solid var(--border);
}
.gq-result-head h2 { margin: 0; font-size: 1rem; }
.gq-meta { display: inline-flex; align-items: center; gap: 0.45rem; font-size: 0.8rem; color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
.gq-pill { padding: 0 0.5rem; font-family: var(--mono); font-size: 0.75rem; font-weight: 700; line-height: 1.45rem; border-radius: 999px; }
.gq-pill.ok { color: #1e6b3a; background: #e6f4ea; }
.gq-pill.warn { color: #8a5a00; background: #fff4e0; }
.gq-pill.bad { color: var(--danger); background: var(--danger-soft); }
.gq-result-body { flex: 1; min-height: 0; overflow: auto; padding: 0.75rem 0.9rem 1rem; }
.gq-json {
  margin: 0;
  font-family: var(--mono);
  font-size: 0.84rem;
  line-height: 1.5;
  color: var(--text);
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
.gq-json:empty { display: none; }
.gq-json .k { color: #2b59c3; }
.gq-json .s { color: #1e6b3a; }
.gq-json .n { color: #b45309; }
.gq-json .b { color: #6b2fa8; }
.gq-errors { display: flex; flex-direction: column; gap: 0.4rem; margin: 0 0 0.8rem; padding: 0; list-style: none; }
.gq-errors li {
  padding: 0.5rem 0.7rem;
  font-size: 0.88rem;
  overflow-wrap: anywhere;
  background: var(--danger-soft);
  border: 1px solid #f6c9c9;
  border-radius: var(--radius-sm);
}
.gq-errcode {
  margin-right: 0.45rem;
  padding: 0 0.45rem;
  font-family: var(--mono);
  font-size: 0.7rem;
  font-weight: 700;
  line-height: 1.35rem;
  color: var(--danger);
  background: var(--surface);
  border: 1px solid #f6c9c9;
  border-radius: 999px;
}
.gq-errwhere { display: block; margin-top: 0.15rem; font-size: 0.78rem; color: var(--muted); }
.gq-errwhere .gq-typelink { font-family: var(--mono); }
.gq-events { display: flex; flex-direction: column; gap: 0.5rem; margin: 0; padding: 0; list-style: none; }
.gq-events > li { padding: 0.45rem 0.7rem 0.55rem; background: var(--bg); border: 1px solid var(--border); border-radius: var(--radius-sm); }
.gq-events > li.error { background: var(--danger-soft); border-color: #f6c9c9; }
.gq-events > li.info { padding: 0.3rem 0.7rem; background: transparent; border-style: dashed; }
.gq-event-head { display: flex; align-items: baseline; gap: 0.5rem; margin-bottom: 0.2rem; font-size: 0.75rem; color: var(--faint); font-variant-numeric: tabular-nums; }
.gq-events > li.info .gq-event-head { margin-bottom: 0; }
.gq-event-kind { padding: 0 0.45rem; font-family: var(--mono); font-size: 0.7rem; font-weight: 700; line-height: 1.3rem; border-radius: 999px; color: var(--accent); background: var(--accent-soft); }
.gq-events > li.error .gq-event-kind { color: var(--danger); background: var(--surface); }
.gq-events > li.info .gq-event-kind { color: var(--muted); background: var(--surface-2); }
.gq-event-text { color: var(--muted); }
.gq-empty { max-width: 22rem; margin: 3rem auto; text-align: center; font-size: 0.9rem; }
.gq-empty kbd, .gq-label kbd { font-family: var(--mono); font-size: 0.75rem; }

.gq-auth {
  position: fixed;
  top: 3.6rem;
  right: 1rem;
  z-index: 30;
  width: min(22rem, calc(100vw - 2rem));
  padding: 1rem 1.1rem 1.15rem;
  box-shadow: var(--shadow-lg);
}
.gq-auth-head { display: flex; align-items: center; justify-content: space-between; }
.gq-auth-head h2 { margin: 0; font-size: 1.1rem; }
.gq-auth > p { margin: 0.3rem 0 0.9rem; }

/* Narrower: the side panel becomes a drawer over the editor, closed at first. */
@media (max-width: 1100px) {
  .gq, .gq[data-side="closed"] { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  .gq-side {
    position: fixed;
    top: 3.25rem;
    bottom: 0;
    left: 0;
    z-index: 25;
    width: min(22rem, 100vw);
    box-shadow: var(--shadow-lg);
  }
  .gq-side-close { display: inline-flex; }
}

@media (max-width: 700px) {
  .gq, .gq[data-side="closed"] { display: flex; flex-direction: column; height: auto; }
  .gq-side { right: 0; width: auto; border-right: 0; }
  .gq-toolbar { padding: 0.45rem 0.6rem; }
  .gq-chip { max-width: 9.5rem; }
  .gq-query-box { flex: none; padding: 0.6rem 0.6rem 0; }
  .gq-vars-box { padding: 0.6rem 0.6rem 0.7rem; }
  #query { flex: none; height: 18rem; min-height: 10rem; resize: vertical; }
  #variables { height: 5.5rem; }
  .gq-label .small { display: none; }
  .gq-results { min-height: 60vh; }
  .gq-result-head { padding: 0.45rem 0.7rem; }
  .gq-result-body { overflow: visible; padding: 0.65rem 0.7rem 1.5rem; }
  .gq-auth { top: 3.4rem; right: 0.5rem; left: 0.5rem; width: auto; }
}
`;

function installStyles() {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    return;
  } catch {
    /* no constructable style sheets: add the rules to app.css's sheet instead */
  }
  const host = [...document.styleSheets].find((s) => (s.href || '').endsWith('/static/app.css'));
  if (!host) return;
  const scratch = document.implementation.createHTMLDocument('');
  const parsed = scratch.createElement('style');
  parsed.textContent = CSS; // parsed in an inert document: never applied or checked there
  scratch.head.append(parsed);
  for (const rule of parsed.sheet ? parsed.sheet.cssRules : []) {
    try {
      host.insertRule(rule.cssText, host.cssRules.length);
    } catch {
      /* skip a rule this browser cannot take */
    }
  }
}

// ---------------------------------------------------------------- REST session (tokens)
// The same session as /chat and /dashboard (static/session.js): sessionStorage key, token
// format and refresh rules.

const session = new Session();

// Another page of this tab (or a refresh elsewhere) may have rotated the tokens.
window.addEventListener('storage', (e) => {
  if (e.storageArea === sessionStorage && e.key === AUTH_KEY) {
    session.load();
    onSessionChange();
  }
});

/** The server's message, followed by those of its field errors (this form shows no per-field errors). */
function problemMessage(e) {
  const p = e.problem;
  const fields = p.error !== 'invalid_grant' && Array.isArray(p.errors) ? p.errors.map((x) => x && x.message).filter(Boolean) : [];
  return fields.length ? `${e.message}: ${fields.join(' ')}` : e.message;
}

// ---------------------------------------------------------------- GraphQL over HTTP

const GRAPHQL_URL = '/graphql';

/**
 * POSTs one GraphQL request, with the bearer token when signed in; a 401 refreshes the token
 * once and retries. Answers {status, ms, bytes, text, body (parsed JSON or null), token}.
 */
async function graphqlFetch(payload, { retry = true } = {}) {
  let token = null;
  try {
    token = await session.accessToken();
  } catch (e) {
    if (!(e instanceof AuthError)) throw e; // the session just ended: go on anonymously
  }
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const started = performance.now();
  const resp = await fetch(GRAPHQL_URL, { method: 'POST', headers, body: JSON.stringify(payload) });
  const text = await resp.text();
  const ms = performance.now() - started;
  if (resp.status === 401 && token && retry) {
    try {
      await session.refresh();
      return graphqlFetch(payload, { retry: false });
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      return graphqlFetch(payload, { retry: false }); // the session ended (onExpired says so): anonymous
    }
  }
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON (a proxy's error page?): shown as text */
  }
  return { status: resp.status, ms, bytes: new TextEncoder().encode(text).length, text, body, token };
}

// ---------------------------------------------------------------- who is signed in

let me = null;

/** The session ended (`why` is 'expired') or another page changed it: show who is signed in now. */
function onSessionChange(why) {
  if (why === 'expired') toast('Your session has expired: sign in again.', { kind: 'warn' });
  if (why === 'ended') toast('Your session has ended (signed out elsewhere, password changed or account disabled): sign in again.', { kind: 'warn' });
  loadMe();
}

async function loadMe() {
  if (!session.signedIn) {
    me = null;
    renderAuth();
    return;
  }
  try {
    const r = await graphqlFetch({ query: 'query Me { me { id name email role } }' });
    me = r.body && r.body.data ? r.body.data.me : null;
  } catch {
    me = null;
  }
  renderAuth();
}

function renderAuth() {
  const signedIn = session.signedIn;
  const who = me ? `${me.name}${me.email ? ` <${me.email}>` : ''}` : 'signed in';
  $('whoami').textContent = who;
  $('whoami').title = me && me.role ? `${who} · ${me.role.toLowerCase()}` : who;
  $('whoami').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  $('auth-toggle').hidden = signedIn;
  const chip = $('auth-chip');
  chip.classList.toggle('on', signedIn);
  chip.textContent = signedIn ? `as ${me ? me.name : 'you'}` : 'anonymous';
  chip.title = signedIn
    ? 'Requests carry Authorization: Bearer <your access token>'
    : 'No Authorization header: sign in to send one';
  if (signedIn) closeAuthPanel();
}

// ---------------------------------------------------------------- sign-in panel

let authMode = 'signin';

function openAuthPanel() {
  $('auth-panel').hidden = false;
  $('auth-toggle').setAttribute('aria-expanded', 'true');
  (authMode === 'register' ? $('name') : $('email')).focus();
}

function closeAuthPanel() {
  if ($('auth-panel').hidden) return;
  $('auth-panel').hidden = true;
  $('auth-toggle').setAttribute('aria-expanded', 'false');
}

function setAuthMode(mode) {
  authMode = mode;
  const register = mode === 'register';
  $('tab-signin').setAttribute('aria-selected', String(!register));
  $('tab-register').setAttribute('aria-selected', String(register));
  $('name-field').hidden = !register;
  $('password-hint').hidden = !register;
  $('auth-title').textContent = register ? 'Create an account' : 'Sign in';
  $('auth-submit').textContent = register ? 'Create account' : 'Sign in';
  $('auth-submit').dataset.testid = register ? 'register' : 'signin';
  $('password').autocomplete = register ? 'new-password' : 'current-password';
  showAuthError('');
}

function showAuthError(text) {
  $('auth-error').textContent = text;
  $('auth-error').hidden = !text;
}

async function onAuthSubmit(event) {
  event.preventDefault();
  const register = authMode === 'register';
  const email = $('email').value.trim();
  const password = $('password').value;
  const name = $('name').value.trim();
  if (register && !name) return showAuthError('Enter a name.');
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) return showAuthError('Enter an email address like name@example.com.');
  if (register ? [...password].length < 8 : !password) {
    return showAuthError(register ? 'The password needs at least 8 characters.' : 'Enter your password.');
  }
  showAuthError('');
  const button = $('auth-submit');
  const label = button.textContent;
  button.disabled = true;
  button.textContent = register ? 'Creating account…' : 'Signing in…';
  try {
    if (register) await registerUser(email, name, password);
    await session.signIn(email, password);
    $('password').value = '';
    await loadMe();
  } catch (e) {
    showAuthError(e instanceof ApiError ? problemMessage(e) : 'The server cannot be reached. Try again in a moment.');
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

async function onSignOut() {
  await session.signOut();
  me = null;
  renderAuth();
  toast('Signed out: requests are anonymous now.', { kind: 'info' });
}

// ---------------------------------------------------------------- the editors

const QUERY_KEY = 'switchboard.graphiql.query';
const VARIABLES_KEY = 'switchboard.graphiql.variables';

const DEFAULT_QUERY = `# The switchboard GraphQL explorer.
#
# Run: the button, or Ctrl+Enter (Cmd+Enter).
# Docs: every type and field of the schema.
# Sign in to send your access token.
# Subscriptions stream events as they come.

query Products($first: Int = 5, $after: String) {
  products(first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        id
        name
        priceCents
        stock
      }
    }
  }
}
`;

const DEFAULT_VARIABLES = `{
  "first": 5
}`;

/** Replaces the selection with `text` so that Ctrl+Z can undo it (execCommand keeps the undo stack). */
function insertText(area, text) {
  area.focus();
  let done = false;
  try {
    done = document.execCommand('insertText', false, text);
  } catch {
    done = false;
  }
  if (!done) {
    area.setRangeText(text, area.selectionStart, area.selectionEnd, 'end');
    area.dispatchEvent(new Event('input', { bubbles: true }));
  }
}

function replaceAll(area, text) {
  area.focus();
  area.select();
  insertText(area, text);
  area.setSelectionRange(0, 0);
  area.scrollTop = 0;
}

function lineStart(value, pos) {
  return value.lastIndexOf('\n', pos - 1) + 1;
}

let tabLeavesEditor = false;

/** Editor keys: Tab indents (two spaces), Shift+Tab outdents, Enter keeps the indentation. */
function onEditorKey(event) {
  const area = event.target;
  if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
    event.preventDefault();
    run();
    return;
  }
  if (event.key === 'Escape') {
    tabLeavesEditor = true; // like CodeMirror: Esc then Tab moves the focus on
    return;
  }
  if (event.key === 'Tab' && !event.ctrlKey && !event.altKey && !event.metaKey) {
    if (tabLeavesEditor) {
      tabLeavesEditor = false;
      return;
    }
    event.preventDefault();
    const { value, selectionStart: start, selectionEnd: end } = area;
    const multiLine = value.slice(start, end).includes('\n');
    if (!event.shiftKey && !multiLine) {
      insertText(area, '  ');
      return;
    }
    // Indent or outdent every selected line.
    const from = lineStart(value, start);
    const block = value.slice(from, end);
    const lines = block.split('\n');
    const changed = lines.map((l) => (event.shiftKey ? l.replace(/^ {1,2}/, '') : `  ${l}`)).join('\n');
    area.setSelectionRange(from, end);
    insertText(area, changed);
    area.setSelectionRange(from, from + changed.length);
    return;
  }
  tabLeavesEditor = false;
  if (event.key === 'Enter' && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
    const { value, selectionStart: start } = area;
    const line = value.slice(lineStart(value, start), start);
    let indent = line.match(/^[ \t]*/)[0];
    const before = line.trimEnd().slice(-1);
    const after = value.slice(area.selectionEnd, area.selectionEnd + 1);
    event.preventDefault();
    if ('{(['.includes(before) && before) {
      const closing = after && '})]'.includes(after);
      insertText(area, `\n${indent}  ${closing ? `\n${indent}` : ''}`);
      if (closing) {
        const pos = area.selectionStart - indent.length - 1;
        area.setSelectionRange(pos, pos);
      }
      return;
    }
    insertText(area, `\n${indent}`);
    return;
  }
  if ((event.key === '}' || event.key === ')' || event.key === ']') && area.selectionStart === area.selectionEnd) {
    // Typing a closing bracket on a blank line takes one level of indentation back.
    const { value, selectionStart: start } = area;
    const from = lineStart(value, start);
    const line = value.slice(from, start);
    if (line.length >= 2 && /^ +$/.test(line)) {
      event.preventDefault();
      area.setSelectionRange(start - 2, start);
      insertText(area, event.key);
    }
  }
}

let saveTimer = null;

function onEditorInput() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => {
    writeStore(QUERY_KEY, $('query').value);
    writeStore(VARIABLES_KEY, $('variables').value);
  }, 250);
  if (this === $('query')) refreshOperations();
  else checkVariables(false);
}

// ---------------------------------------------------------------- operations in the document

/**
 * The operations of a GraphQL document, without a full parser: skips comments and strings,
 * tracks braces and parentheses, and reads the definitions at the top level.
 * Answers [{type: 'query'|'mutation'|'subscription'|'fragment', name, start, end}].
 */
function parseDefinitions(src) {
  const defs = [];
  let depth = 0;
  let parens = 0;
  let cur = null;
  let expectName = false;
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    if (c === '#') {
      while (i < n && src[i] !== '\n' && src[i] !== '\r') i += 1;
      continue;
    }
    if (c === '"') {
      if (src.startsWith('"""', i)) {
        i += 3;
        while (i < n && !src.startsWith('"""', i)) i += src[i] === '\\' && src.startsWith('"""', i + 1) ? 4 : 1;
        i += 3;
      } else {
        i += 1;
        while (i < n && src[i] !== '"' && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
        i += 1;
      }
      expectName = false;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const startWord = i;
      while (i < n && /[A-Za-z0-9_]/.test(src[i])) i += 1;
      const word = src.slice(startWord, i);
      if (depth === 0 && parens === 0) {
        if (expectName && cur) {
          cur.name = word;
          expectName = false;
        } else if (!cur && ['query', 'mutation', 'subscription', 'fragment'].includes(word)) {
          cur = { type: word, name: null, start: startWord, end: n };
          defs.push(cur);
          expectName = true;
        }
      }
      continue;
    }
    if (!/[\s,]/.test(c)) expectName = false;
    if (c === '(') parens += 1;
    else if (c === ')') parens = Math.max(0, parens - 1);
    else if (c === '{') {
      if (depth === 0 && parens === 0 && !cur) {
        cur = { type: 'query', name: null, start: i, end: n }; // the shorthand `{ … }`
        defs.push(cur);
      }
      depth += 1;
    } else if (c === '}') {
      depth = Math.max(0, depth - 1);
      if (depth === 0 && parens === 0 && cur) {
        cur.end = i + 1;
        cur = null;
      }
    }
    i += 1;
  }
  return defs;
}

let operations = [];
let pickedByUser = null; // the operation chosen in the menu: kept until the cursor moves
let pickedAt = -1;

function refreshOperations() {
  operations = parseDefinitions($('query').value).filter((d) => d.type !== 'fragment');
  const select = $('operation');
  const named = operations.filter((o) => o.name);
  const several = operations.length > 1;
  $('operation-field').hidden = !several;
  const wanted = select.value;
  select.textContent = '';
  if (several) {
    for (const op of operations) {
      const option = el('option', null, op.name ? `${op.type} ${op.name}` : `${op.type} (anonymous)`);
      option.value = op.name || '';
      option.disabled = !op.name;
      select.append(option);
    }
    if (named.some((o) => o.name === wanted)) select.value = wanted;
    followCursor();
  }
  $('run').textContent = currentOperation()?.type === 'subscription' ? '▶ Subscribe' : '▶ Run';
}

/** In a document with several operations, the menu follows the operation the cursor is in. */
function followCursor() {
  if (operations.length < 2) return;
  const pos = $('query').selectionStart;
  if (pickedByUser !== null && pos === pickedAt) return;
  pickedByUser = null;
  const here = operations.find((o) => o.name && pos >= o.start && pos <= o.end);
  if (here) $('operation').value = here.name;
  $('run').textContent = currentOperation()?.type === 'subscription' ? '▶ Subscribe' : '▶ Run';
}

function currentOperation() {
  if (operations.length === 0) return null;
  if (operations.length === 1) return operations[0];
  const name = $('operation').value;
  return operations.find((o) => o.name === name) || operations.find((o) => o.name) || operations[0];
}

// ---------------------------------------------------------------- variables

/** Parses the variables editor: {ok, value} or {ok: false, message}; shows the message if `show`. */
function checkVariables(show) {
  const area = $('variables');
  const text = area.value.trim();
  let result;
  if (!text) {
    result = { ok: true, value: undefined };
  } else {
    try {
      const value = JSON.parse(text);
      result =
        value !== null && typeof value === 'object' && !Array.isArray(value)
          ? { ok: true, value }
          : { ok: false, message: 'Variables must be a JSON object, like {"first": 5}.' };
    } catch (e) {
      result = { ok: false, message: `Variables are not valid JSON: ${jsonErrorText(e, area.value)}` };
    }
  }
  if (result.ok || show) {
    $('variables-error').textContent = result.ok ? '' : result.message;
    $('variables-error').hidden = result.ok;
    area.classList.toggle('invalid', !result.ok);
    area.setAttribute('aria-invalid', String(!result.ok));
  }
  return result;
}

/** "Unexpected token } (line 3, column 1)" from a JSON.parse error, where the browser tells the position. */
function jsonErrorText(err, text) {
  const msg = String(err.message || err).replace(/^JSON\.parse: /, '');
  const m = msg.match(/position (\d+)/);
  if (!m || /line \d+/.test(msg)) return msg;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `${msg.replace(/\s*(?:in JSON )?at position \d+.*$/, '')} (line ${line}, column ${column})`;
}

// ---------------------------------------------------------------- running

let running = false;

async function run() {
  if (running) return;
  const query = $('query').value;
  if (!query.trim()) {
    toast('Write an operation first.', { kind: 'warn' });
    $('query').focus();
    return;
  }
  const vars = checkVariables(true);
  if (!vars.ok) {
    $('variables').focus();
    return;
  }
  refreshOperations();
  const op = currentOperation();
  const payload = { query, variables: vars.value ?? {} };
  if (op && op.name) payload.operationName = op.name;
  addHistory({ query, variables: $('variables').value, operationName: op ? op.name : null, type: op ? op.type : 'query' });
  stopSubscription('replaced');
  if (op && op.type === 'subscription') {
    startSubscription(payload);
    return;
  }
  running = true;
  delete $('result-meta').dataset.status;
  $('run').disabled = true;
  $('run').textContent = '… Running';
  setMeta([{ text: 'sending…' }]);
  try {
    const r = await graphqlFetch(payload);
    showHttpResult(r);
  } catch (e) {
    clearResult();
    setMeta([{ pill: 'network error', kind: 'bad' }]);
    showErrors([{ message: `The server cannot be reached (${e.message || e}).`, extensions: { code: 'NETWORK' } }]);
  } finally {
    running = false;
    $('run').disabled = false;
    refreshOperations();
  }
}

// ---------------------------------------------------------------- results

function clearResult() {
  delete $('result-meta').dataset.status;
  $('result').textContent = '';
  $('result-errors').textContent = '';
  $('result-errors').hidden = true;
  $('events').textContent = '';
  $('events').hidden = true;
  $('result-empty').hidden = true;
  $('sub-status').hidden = true;
}

/** The meta line: [{pill, kind} | {text}], e.g. "200" pill, "12 ms", "1.2 kB". */
function setMeta(parts) {
  const meta = $('result-meta');
  meta.textContent = '';
  parts.forEach((p, i) => {
    if (i > 0 && !p.pill) meta.append(el('span', null, '·'));
    meta.append(p.pill ? el('span', `gq-pill ${p.kind || ''}`, p.pill) : el('span', null, p.text));
  });
}

function showHttpResult(r) {
  clearResult();
  const errors = r.body && Array.isArray(r.body.errors) ? r.body.errors : [];
  const ok = r.status >= 200 && r.status < 300;
  const kind = !ok ? 'bad' : errors.length ? 'warn' : 'ok';
  const label = `HTTP ${r.status}${errors.length ? ` · ${errors.length} error${errors.length > 1 ? 's' : ''}` : ''}`;
  setMeta([{ pill: label, kind }, { text: formatMs(r.ms) }, { text: formatBytes(r.bytes) }]);
  $('result-meta').dataset.status = String(r.status);
  $('result-meta').title = r.token ? 'Sent with Authorization: Bearer …' : 'Sent without a token';
  if (errors.length) showErrors(errors);
  renderJson($('result'), r.body !== null ? r.body : r.text);
  $('result-body').scrollTop = 0;
}

function showErrors(errors) {
  const list = $('result-errors');
  list.textContent = '';
  for (const e of errors) {
    const li = el('li');
    const code = e && e.extensions && e.extensions.code;
    li.append(el('span', 'gq-errcode', code || 'ERROR'));
    li.append(el('span', 'gq-errmsg', e && e.message ? e.message : JSON.stringify(e)));
    const where = [];
    if (Array.isArray(e.path) && e.path.length) where.push(['at ', e.path.join('.')]);
    const where2 = el('span', 'gq-errwhere');
    for (const [prefix, text] of where) where2.append(document.createTextNode(`${prefix}${text} `));
    if (Array.isArray(e.locations)) {
      for (const loc of e.locations) {
        if (!loc || typeof loc.line !== 'number') continue;
        const b = el('button', 'gq-typelink', `line ${loc.line}:${loc.column}`);
        b.type = 'button';
        b.title = 'Show this place in the editor';
        b.addEventListener('click', () => goToLocation(loc.line, loc.column));
        where2.append(b, document.createTextNode(' '));
      }
    }
    const fields = e && e.extensions && Array.isArray(e.extensions.fields) ? e.extensions.fields : [];
    for (const f of fields) where2.append(document.createTextNode(`${f.field}: ${f.message} `));
    if (where2.childNodes.length) li.append(where2);
    list.append(li);
  }
  list.hidden = errors.length === 0;
}

function goToLocation(line, column) {
  const area = $('query');
  const lines = area.value.split('\n');
  let pos = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) pos += lines[i].length + 1;
  pos += Math.max(0, column - 1);
  area.focus();
  area.setSelectionRange(pos, pos);
  const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
  area.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

const JSON_TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(?:true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Pretty JSON with coloured tokens, built from text nodes and spans (never HTML). */
function renderJson(pre, value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  pre.textContent = '';
  if (typeof value === 'string' || text.length > 400_000) {
    pre.textContent = text;
    return;
  }
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(JSON_TOKEN)) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    if (m[1] && m[2]) {
      frag.append(el('span', 'k', m[1]), m[2]);
    } else {
      const cls = m[1] ? 's' : /^[tfn]/.test(m[0]) ? 'b' : 'n';
      frag.append(el('span', cls, m[0]));
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) frag.append(text.slice(last));
  pre.append(frag);
}

// ---------------------------------------------------------------- subscriptions (graphql-transport-ws)

const MAX_EVENTS = 300;
let sub = null; // {ws, id, count, ended}

function setSubStatus(state, text) {
  const s = $('sub-status');
  s.dataset.state = state;
  s.textContent = text;
  s.hidden = false;
}

function subMeta() {
  if (!sub) return;
  setMeta([{ pill: 'subscription', kind: sub.ended ? '' : 'ok' }, { text: `${sub.count} event${sub.count === 1 ? '' : 's'}` }]);
}

function addEvent(kind, payload, note) {
  const list = $('events');
  const body = $('result-body');
  const nearBottom = body.scrollHeight - body.scrollTop - body.clientHeight < 40;
  const li = el('li', kind === 'next' ? 'next' : kind === 'error' ? 'error' : 'info');
  const head = el('div', 'gq-event-head');
  head.append(el('time', null, clock(new Date())));
  head.lastChild.dateTime = new Date().toISOString();
  head.append(el('span', 'gq-event-kind', kind === 'next' ? `next #${sub ? sub.count : ''}` : kind));
  if (note) head.append(el('span', 'gq-event-text', note));
  li.append(head);
  if (payload !== undefined) {
    const pre = el('pre', 'gq-json');
    renderJson(pre, payload);
    li.append(pre);
  }
  list.append(li);
  list.hidden = false;
  while (list.children.length > MAX_EVENTS) list.firstElementChild.remove();
  if (nearBottom) body.scrollTop = body.scrollHeight;
}

/** A subscription socket reconnects by itself this many times in a row (4001, a refused token). */
const RESUBSCRIBE_MAX = 3;

/**
 * Opens a graphql-transport-ws socket and subscribes. Signed in, its token is renewed in-band
 * before it expires (TokenLease: a `ping` whose payload carries the new token, answered by a
 * `pong` with `expires_at` or `error`). Closed 4001 (the token expired anyway) it refreshes
 * and subscribes again; 4403 (the token in connection_init was refused) it refreshes once
 * and tries again; 4003 (the session ended) it signs out.
 */
async function startSubscription(payload, { again = 0 } = {}) {
  const previous = again ? sub : null;
  if (!again) clearResult();
  let token = null;
  try {
    token = await session.accessToken();
  } catch {
    token = null;
  }
  if (again && sub !== previous) return; // stopped, or another subscription started meanwhile
  const ws = new WebSocket(wsUrl(GRAPHQL_URL), 'graphql-transport-ws');
  const me_ = { ws, id: `s${Date.now().toString(36)}`, count: previous ? previous.count : 0, ended: false, acked: false, lease: null, again };
  if (token) {
    me_.lease = new TokenLease(session, {
      send: (fresh) => {
        if (ws.readyState !== WebSocket.OPEN || !me_.acked) return false;
        ws.send(JSON.stringify({ type: 'ping', payload: { Authorization: `Bearer ${fresh}` } }));
        return true;
      },
      onRefused: (why) => addEvent('error', undefined, `token renewal refused (${why}): the connection lasts until its token expires`),
    });
  }
  sub = me_;
  $('stop').hidden = false;
  $('run').textContent = '▶ Subscribe';
  setSubStatus('connecting', again ? 'reconnecting…' : 'connecting…');
  subMeta();
  if (!again) addEvent('info', undefined, token ? 'connecting with your token…' : 'connecting anonymously…');

  ws.addEventListener('open', () => {
    ws.send(JSON.stringify({ type: 'connection_init', payload: token ? { Authorization: `Bearer ${token}` } : {} }));
  });
  ws.addEventListener('message', (ev) => {
    if (sub !== me_ || typeof ev.data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    switch (msg.type) {
      case 'connection_ack':
        me_.acked = true;
        me_.again = 0; // accepted: the count of reconnections in a row starts afresh
        if (me_.lease) me_.lease.start(token);
        ws.send(JSON.stringify({ id: me_.id, type: 'subscribe', payload }));
        setSubStatus('online', 'listening');
        addEvent('info', undefined, again ? 'subscribed again' : 'subscribed: events appear below as they happen');
        break;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong' }));
        break;
      case 'pong': {
        const answer = msg.payload || {};
        if (!me_.lease || !me_.lease.awaiting) break;
        if (typeof answer.expires_at === 'number') {
          me_.lease.confirm(answer.expires_at);
          addEvent('info', undefined, `token renewed: the connection now lasts until ${clock(new Date(answer.expires_at * 1000))}`);
        } else if (answer.error) {
          me_.lease.refuse(String(answer.error));
        }
        break;
      }
      case 'next':
        me_.count += 1;
        addEvent('next', msg.payload);
        if (msg.payload && Array.isArray(msg.payload.errors)) showErrors(msg.payload.errors);
        subMeta();
        break;
      case 'error':
        addEvent('error', msg.payload);
        showErrors(Array.isArray(msg.payload) ? msg.payload : [msg.payload || { message: 'error' }]);
        endSubscription('error', 'ended with an error');
        break;
      case 'complete':
        addEvent('complete', undefined, 'the server ended the subscription');
        endSubscription('complete', 'completed');
        break;
      default:
        break;
    }
  });
  ws.addEventListener('close', (ev) => subscriptionClosed(me_, ev, payload, token));
  ws.addEventListener('error', () => {
    /* the close event follows and says why */
  });
}

async function subscriptionClosed(me_, ev, payload, token) {
  const { again } = me_;
  const held = me_.lease ? me_.lease.token || token : token;
  if (me_.lease) me_.lease.stop();
  if (sub !== me_ || me_.ended) return;
  const why = ev.reason ? `${ev.code} ${ev.reason}` : `code ${ev.code}`;
  if (ev.code === CLOSE_SESSION_ENDED) {
    if (!session.signedIn) {
      addEvent('info', undefined, `connection closed (${why}): you signed out`); // Sign out, on this page
      endSubscription('closed', 'signed out');
      return;
    }
    addEvent('error', undefined, `connection closed (${why}): your session has ended; sign in again`);
    endSubscription('closed', 'session ended');
    session.end('ended');
    return;
  }
  const expired = ev.code === CLOSE_TOKEN_EXPIRED && token;
  const refused = ev.code === CLOSE_FORBIDDEN && token && !me_.acked;
  if ((expired || refused) && again < RESUBSCRIBE_MAX) {
    addEvent('info', undefined, `connection closed (${why}): renewing the token and subscribing again…`);
    setSubStatus('connecting', 'renewing the token…');
    try {
      // The session may already hold a newer token than the one this socket had.
      if (refused || !session.tokens || session.tokens.access === held) await session.refresh();
    } catch (e) {
      if (sub !== me_ || me_.ended) return;
      addEvent('error', undefined, e instanceof AuthError ? 'the session has ended: sign in again' : 'the token cannot be renewed right now');
      endSubscription('closed', 'closed');
      return;
    }
    if (sub !== me_ || me_.ended) return; // stopped meanwhile
    startSubscription(payload, { again: again + 1 });
    return;
  }
  addEvent('error', undefined, `connection closed (${why})`);
  if (ev.code === CLOSE_FORBIDDEN && !me_.acked) {
    showErrors([{ message: token ? 'Forbidden: your token was refused; sign in again.' : 'Forbidden: sign in first.' }]);
  }
  endSubscription('closed', 'closed');
}

function endSubscription(state, text) {
  if (!sub || sub.ended) return;
  sub.ended = true;
  if (sub.lease) sub.lease.stop();
  setSubStatus(state === 'error' || state === 'closed' ? 'offline' : 'ended', text); // red dot / grey dot
  $('stop').hidden = true;
  subMeta();
  const ws = sub.ws;
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'done');
}

/** Stop: tell the server `complete`, then close the socket. */
function stopSubscription(reason = 'stopped') {
  if (!sub || sub.ended) return;
  const { ws, id } = sub;
  if (ws.readyState === WebSocket.OPEN && sub.acked) ws.send(JSON.stringify({ id, type: 'complete' }));
  if (reason === 'stopped') addEvent('complete', undefined, 'stopped by you');
  endSubscription('stopped', reason === 'stopped' ? 'stopped' : 'ended');
}

// ---------------------------------------------------------------- history

const HISTORY_KEY = 'switchboard.graphiql.history';
const HISTORY_MAX = 20;

function loadHistory() {
  const list = readJsonStore(HISTORY_KEY, []);
  return Array.isArray(list) ? list.filter((h) => h && typeof h.query === 'string').slice(0, HISTORY_MAX) : [];
}

function addHistory(entry) {
  const same = (h) => h.query === entry.query && h.variables === entry.variables && (h.operationName || null) === (entry.operationName || null);
  const list = loadHistory().filter((h) => !same(h));
  list.unshift({ ...entry, at: Date.now() });
  writeStore(HISTORY_KEY, list.slice(0, HISTORY_MAX));
  renderHistory();
}

function historyLabel(h) {
  if (h.operationName) return `${h.type || 'query'} ${h.operationName}`;
  const stripped = h.query.replace(/#[^\n]*/g, '');
  const body = stripped.slice(stripped.indexOf('{') + 1);
  const field = (body.match(/[A-Za-z_][A-Za-z0-9_]*/) || ['…'])[0];
  return `${h.type || 'query'} { ${field} }`;
}

function renderHistory() {
  const list = $('history');
  list.textContent = '';
  const items = loadHistory();
  for (const h of items) {
    const li = el('li');
    const b = el('button', 'room-item');
    b.type = 'button';
    b.append(el('span', 'gq-h-label', historyLabel(h)), el('span', 'gq-h-when', ago(h.at)));
    b.title = h.query.slice(0, 400);
    b.addEventListener('click', () => {
      replaceAll($('query'), h.query);
      replaceAll($('variables'), h.variables || '');
      refreshOperations();
      if (h.operationName && operations.some((o) => o.name === h.operationName)) {
        $('operation').value = h.operationName;
        pickedByUser = h.operationName;
        pickedAt = $('query').selectionStart;
      }
      checkVariables(true);
      if (isDrawer()) setSide(false);
      $('query').focus();
    });
    li.append(b);
    list.append(li);
  }
  $('history-empty').hidden = items.length > 0;
  $('history-clear').hidden = items.length === 0;
}

// ---------------------------------------------------------------- schema docs (introspection)

// Four ofType levels: enough for [[T!]!]! and well inside the server's depth limit (12).
const INTROSPECTION = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  fields(includeDeprecated: true) {
    name
    description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
}
fragment TypeRef on __Type {
  kind
  name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
}`;

let schema = null; // {types: Map<name, type>, roots: {query, mutation, subscription}}
let docsStack = []; // type names, the last one shown
let flashField = null;

const KIND_LABEL = {
  OBJECT: 'type',
  INPUT_OBJECT: 'input',
  ENUM: 'enum',
  SCALAR: 'scalar',
  INTERFACE: 'interface',
  UNION: 'union',
};

async function loadSchema() {
  const docs = $('docs');
  docs.textContent = '';
  docs.append(el('p', 'gq-note', 'Loading the schema…'));
  let r;
  try {
    r = await graphqlFetch({ query: INTROSPECTION, operationName: 'IntrospectionQuery' });
  } catch (e) {
    return docsProblem('The server cannot be reached, so the schema is not shown.');
  }
  const s = r.body && r.body.data && r.body.data.__schema;
  if (!s || !Array.isArray(s.types)) {
    const why = r.body && Array.isArray(r.body.errors) && r.body.errors[0] ? r.body.errors[0].message : `HTTP ${r.status}`;
    return docsProblem(s === null ? 'Introspection is disabled on this server (--graphql-introspection false).' : `The schema could not be loaded: ${why}`);
  }
  schema = {
    types: new Map(s.types.map((t) => [t.name, t])),
    roots: {
      query: s.queryType && s.queryType.name,
      mutation: s.mutationType && s.mutationType.name,
      subscription: s.subscriptionType && s.subscriptionType.name,
    },
  };
  docs.dataset.loaded = 'true';
  renderDocs();
}

function docsProblem(text) {
  const docs = $('docs');
  docs.textContent = '';
  docs.append(el('p', 'gq-note', text));
  const retry = el('button', 'btn btn-small', 'Try again');
  retry.type = 'button';
  retry.addEventListener('click', loadSchema);
  docs.append(retry);
}

function namedType(ref) {
  let t = ref;
  while (t && t.ofType) t = t.ofType;
  return t;
}

function typeString(ref) {
  if (!ref) return '?';
  if (ref.kind === 'NON_NULL') return `${typeString(ref.ofType)}!`;
  if (ref.kind === 'LIST') return `[${typeString(ref.ofType)}]`;
  return ref.name;
}

/** A type reference as text with the named type as a link: [Product!]! */
function typeRefNode(ref) {
  const frag = document.createDocumentFragment();
  if (!ref) return frag;
  if (ref.kind === 'NON_NULL') {
    frag.append(typeRefNode(ref.ofType), '!');
  } else if (ref.kind === 'LIST') {
    frag.append('[', typeRefNode(ref.ofType), ']');
  } else {
    frag.append(typeLink(ref.name));
  }
  return frag;
}

function typeLink(name) {
  const b = el('button', 'gq-typelink', name);
  b.type = 'button';
  b.dataset.type = name;
  b.addEventListener('click', () => showType(name));
  return b;
}

function showType(name, field = null) {
  if (!schema || !schema.types.has(name)) return;
  if (docsStack[docsStack.length - 1] !== name) docsStack.push(name);
  flashField = field;
  $('docs-search').value = '';
  renderDocs();
  $('docs-pane').scrollTop = 0;
}

function isUserType(t) {
  return t && t.name && !t.name.startsWith('__');
}

function rootKindOf(typeName) {
  if (!schema) return null;
  for (const [kind, name] of Object.entries(schema.roots)) if (name && name === typeName) return kind;
  return null;
}

function renderDocs() {
  const docs = $('docs');
  if (!schema) return;
  docs.textContent = '';
  const q = $('docs-search').value.trim().toLowerCase();
  const top = docsStack[docsStack.length - 1];
  $('docs-nav').hidden = !!q || !top;
  if (top) {
    const prev = docsStack[docsStack.length - 2];
    $('docs-back').textContent = `‹ ${prev || 'All types'}`;
    $('docs-back').setAttribute('aria-label', `Back to ${prev || 'all types'}`);
  }
  if (q) renderSearch(docs, q);
  else if (top) renderType(docs, schema.types.get(top));
  else renderTypeList(docs);
}

function typeButton(t, extra) {
  const b = el('button', 'room-item');
  b.type = 'button';
  b.dataset.type = t.name;
  b.append(el('span', 'gq-item-name', extra || t.name), el('span', 'gq-kind', typeSummary(t)));
  b.addEventListener('click', () => showType(t.name));
  const li = el('li');
  li.append(b);
  return li;
}

/** "9 fields", "4 values", "scalar": what the type list shows beside a name. */
function typeSummary(t) {
  const count = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (Array.isArray(t.fields) && t.fields.length) return count(t.fields.length, 'field');
  if (Array.isArray(t.inputFields) && t.inputFields.length) return count(t.inputFields.length, 'field');
  if (Array.isArray(t.enumValues) && t.enumValues.length) return count(t.enumValues.length, 'value');
  if (Array.isArray(t.possibleTypes) && t.possibleTypes.length) return count(t.possibleTypes.length, 'type');
  return KIND_LABEL[t.kind] || t.kind.toLowerCase();
}

function renderTypeList(docs) {
  const roots = ['query', 'mutation', 'subscription'].map((k) => schema.roots[k]).filter(Boolean);
  docs.append(el('h2', 'side-title', 'Root types'));
  const rootList = el('ul', 'room-list');
  rootList.dataset.testid = 'root-types';
  for (const name of roots) rootList.append(typeButton(schema.types.get(name)));
  docs.append(rootList);
  const groups = [
    ['Object types', ['OBJECT', 'INTERFACE', 'UNION']],
    ['Input types', ['INPUT_OBJECT']],
    ['Enums', ['ENUM']],
    ['Scalars', ['SCALAR']],
  ];
  for (const [title, kinds] of groups) {
    const types = [...schema.types.values()]
      .filter((t) => isUserType(t) && kinds.includes(t.kind) && !roots.includes(t.name))
      .sort((a, b) => a.name.localeCompare(b.name));
    if (!types.length) continue;
    docs.append(el('h2', 'side-title', title));
    const list = el('ul', 'room-list');
    for (const t of types) list.append(typeButton(t));
    docs.append(list);
  }
}

function renderType(docs, t) {
  const head = el('div', 'gq-type-head');
  head.append(el('h3', null, t.name), el('span', 'badge', KIND_LABEL[t.kind] || t.kind));
  docs.append(head);
  if (t.description) docs.append(el('p', 'gq-desc', t.description));
  const rootKind = rootKindOf(t.name);
  if (Array.isArray(t.interfaces) && t.interfaces.length) {
    const p = el('p', 'gq-desc', 'Implements ');
    t.interfaces.forEach((i, n) => p.append(n ? ', ' : '', typeLink(i.name)));
    docs.append(p);
  }
  if (Array.isArray(t.fields) && t.fields.length) {
    docs.append(el('h2', 'side-title', rootKind ? `${rootKind} fields` : 'Fields'));
    docs.append(fieldList(t, t.fields, rootKind));
  }
  if (Array.isArray(t.inputFields) && t.inputFields.length) {
    docs.append(el('h2', 'side-title', 'Input fields'));
    docs.append(fieldList(t, t.inputFields, null));
  }
  if (Array.isArray(t.enumValues) && t.enumValues.length) {
    docs.append(el('h2', 'side-title', 'Values'));
    const ul = el('ul', 'gq-fields');
    for (const v of t.enumValues) {
      const li = el('li');
      li.append(el('div', 'gq-sig gq-fname', v.name));
      if (v.description) li.append(el('div', 'gq-fdesc', v.description));
      if (v.isDeprecated) li.append(el('div', 'gq-deprecated', `Deprecated${v.deprecationReason ? `: ${v.deprecationReason}` : ''}`));
      ul.append(li);
    }
    docs.append(ul);
  }
  if (Array.isArray(t.possibleTypes) && t.possibleTypes.length) {
    docs.append(el('h2', 'side-title', 'Possible types'));
    const p = el('p', 'gq-desc');
    t.possibleTypes.forEach((i, n) => p.append(n ? ', ' : '', typeLink(i.name)));
    docs.append(p);
  }
  if (t.kind === 'SCALAR' && !t.description) docs.append(el('p', 'gq-note', 'A scalar (leaf) value.'));
  const users = usedBy(t.name);
  if (users.length) {
    docs.append(el('h2', 'side-title', 'Used by'));
    const p = el('p', 'gq-desc');
    users.slice(0, 30).forEach(([typeName, fieldName], n) => {
      const b = el('button', 'gq-typelink', `${typeName}.${fieldName}`);
      b.type = 'button';
      b.addEventListener('click', () => showType(typeName, fieldName));
      p.append(n ? ', ' : '', b);
    });
    docs.append(p);
  }
}

/** Fields (of user types) whose type, or whose arguments' type, is `name`. */
function usedBy(name) {
  const out = [];
  for (const t of schema.types.values()) {
    if (!isUserType(t)) continue;
    for (const f of [...(t.fields || []), ...(t.inputFields || [])]) {
      const argUse = (f.args || []).some((a) => namedType(a.type).name === name);
      if (namedType(f.type).name === name || argUse) out.push([t.name, f.name]);
    }
  }
  return out;
}

function fieldList(owner, fields, rootKind) {
  const ul = el('ul', 'gq-fields');
  ul.dataset.testid = 'fields';
  for (const f of fields) {
    const li = el('li');
    li.dataset.field = f.name;
    const row = el('div', 'gq-field-row');
    const sig = el('div', 'gq-sig');
    sig.append(el('span', 'gq-fname', f.name));
    const args = f.args || [];
    if (args.length) {
      sig.append('(');
      const argsText = args.map((a) => `${a.name}: ${typeString(a.type)}`).join(', ');
      const inline = f.name.length + argsText.length + typeString(f.type).length < 34;
      args.forEach((a, n) => {
        const line = el('span', inline ? null : 'gq-arg');
        if (inline && n) sig.append(', ');
        line.append(el('span', 'gq-argname', a.name), ': ', typeRefNode(a.type));
        if (a.defaultValue != null) line.append(el('span', 'gq-default', ` = ${a.defaultValue}`));
        if (a.description) line.title = a.description;
        sig.append(line);
      });
      sig.append(')');
    }
    sig.append(': ', typeRefNode(f.type));
    if (f.defaultValue != null) sig.append(el('span', 'gq-default', ` = ${f.defaultValue}`));
    row.append(sig);
    if (rootKind) {
      const b = el('button', 'btn btn-small gq-insert', 'Insert');
      b.type = 'button';
      b.title = `Replace the editor's operation with a ${rootKind} using ${f.name}`;
      b.setAttribute('aria-label', `Insert a ${rootKind} with ${f.name} into the editor`);
      b.addEventListener('click', () => insertSkeleton(rootKind, f));
      row.append(b);
    }
    li.append(row);
    if (f.description) li.append(el('div', 'gq-fdesc', f.description));
    if (f.isDeprecated) li.append(el('div', 'gq-deprecated', `Deprecated${f.deprecationReason ? `: ${f.deprecationReason}` : ''}`));
    ul.append(li);
    if (flashField === f.name) {
      li.classList.add('gq-flash');
      requestAnimationFrame(() => li.scrollIntoView({ block: 'center' }));
      setTimeout(() => li.classList.remove('gq-flash'), 1600);
    }
  }
  flashField = null;
  return ul;
}

function renderSearch(docs, q) {
  const types = [...schema.types.values()].filter(isUserType);
  const typeHits = types.filter((t) => t.name.toLowerCase().includes(q)).sort((a, b) => a.name.localeCompare(b.name));
  const fieldHits = [];
  for (const t of types) {
    for (const f of [...(t.fields || []), ...(t.inputFields || [])]) {
      if (f.name.toLowerCase().includes(q)) fieldHits.push([t, f]);
    }
  }
  const rootNames = Object.values(schema.roots);
  fieldHits.sort(([a], [b]) => (rootNames.includes(b.name) ? 1 : 0) - (rootNames.includes(a.name) ? 1 : 0));
  if (!typeHits.length && !fieldHits.length) {
    docs.append(el('p', 'gq-note', 'No type or field matches.'));
    return;
  }
  if (typeHits.length) {
    docs.append(el('h2', 'side-title', 'Types'));
    const ul = el('ul', 'room-list');
    for (const t of typeHits) ul.append(typeButton(t));
    docs.append(ul);
  }
  if (fieldHits.length) {
    docs.append(el('h2', 'side-title', 'Fields'));
    const ul = el('ul', 'room-list');
    ul.dataset.testid = 'field-hits';
    for (const [t, f] of fieldHits.slice(0, 60)) {
      const li = el('li');
      const b = el('button', 'room-item');
      b.type = 'button';
      const name = el('span', 'gq-item-name');
      name.append(el('span', 'gq-hit-where', `${t.name}.`), f.name);
      b.append(name, el('span', 'gq-kind', typeString(f.type)));
      b.addEventListener('click', () => showType(t.name, f.name));
      li.append(b);
      ul.append(li);
    }
    docs.append(ul);
  }
}

// ---------------------------------------------------------------- skeletons from the docs

function isLeaf(t) {
  return t && (t.kind === 'SCALAR' || t.kind === 'ENUM');
}

function requiredArg(a) {
  return a.type.kind === 'NON_NULL' && a.defaultValue == null;
}

/** A selection set for a type: its leaf fields, and one level of objects below the top. */
function selectionFor(typeName, level) {
  const t = schema.types.get(typeName);
  if (!t || !Array.isArray(t.fields)) return '';
  const pad = '  '.repeat(level + 1);
  const hasNodes = t.fields.some((f) => f.name === 'nodes');
  const lines = [];
  for (const f of t.fields) {
    if (f.isDeprecated || (f.args || []).some(requiredArg)) continue;
    const ft = schema.types.get(namedType(f.type).name);
    if (isLeaf(ft)) {
      lines.push(`${pad}${f.name}`);
    } else if (level <= 1 && !(hasNodes && f.name === 'edges')) {
      const inner = selectionFor(ft.name, level + 1);
      if (inner) lines.push(`${pad}${f.name} ${inner}`);
    }
  }
  return lines.length ? `{\n${lines.join('\n')}\n${'  '.repeat(level)}}` : '';
}

/** A placeholder value for a required variable of this type. */
function sampleValue(ref, depth = 0) {
  if (ref.kind === 'NON_NULL') return sampleValue(ref.ofType, depth);
  if (ref.kind === 'LIST') return depth < 3 ? [sampleValue(ref.ofType, depth + 1)] : [];
  const t = schema.types.get(ref.name);
  if (!t) return null;
  if (t.kind === 'ENUM') return t.enumValues && t.enumValues[0] ? t.enumValues[0].name : '';
  if (t.kind === 'INPUT_OBJECT') {
    const out = {};
    if (depth < 3) for (const f of t.inputFields || []) if (requiredArg(f)) out[f.name] = sampleValue(f.type, depth + 1);
    return out;
  }
  if (t.name === 'Int' || t.name === 'Float') return 0;
  if (t.name === 'Boolean') return false;
  if (t.name === 'ID') return '1';
  return '';
}

function insertSkeleton(rootKind, field) {
  const varDefs = [];
  const args = [];
  const values = {};
  for (const a of field.args || []) {
    if (requiredArg(a)) {
      varDefs.push(`$${a.name}: ${typeString(a.type)}`);
      args.push(`${a.name}: $${a.name}`);
      values[a.name] = sampleValue(a.type);
    } else if (a.name === 'first') {
      args.push('first: 10');
    }
  }
  const opName = field.name[0].toUpperCase() + field.name.slice(1);
  const selection = selectionFor(namedType(field.type).name, 1);
  const query =
    `${rootKind} ${opName}${varDefs.length ? `(${varDefs.join(', ')})` : ''} {\n` +
    `  ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection ? ` ${selection}` : ''}\n}\n`;
  replaceAll($('query'), query);
  replaceAll($('variables'), varDefs.length ? JSON.stringify(values, null, 2) : '{}');
  refreshOperations();
  checkVariables(true);
  if (isDrawer()) setSide(false);
  $('query').focus();
}

// ---------------------------------------------------------------- side panel (docs / history)

// Up to 1100 px wide the side panel is a drawer over the editor (see the CSS above).
const drawerQuery = window.matchMedia('(max-width: 1100px)');
const isDrawer = () => drawerQuery.matches;

function setSide(open) {
  $('gq').dataset.side = open ? 'open' : 'closed';
  $('side-toggle').setAttribute('aria-expanded', String(open));
  $('side-toggle').textContent = open && !isDrawer() ? 'Hide docs' : 'Docs';
  if (open && isDrawer() && !$('docs-pane').hidden) $('docs-search').focus({ preventScroll: true });
}

function sideOpen() {
  return $('gq').dataset.side === 'open';
}

function setSideTab(tab) {
  const history = tab === 'history';
  $('tab-docs').setAttribute('aria-selected', String(!history));
  $('tab-history').setAttribute('aria-selected', String(history));
  $('docs-pane').hidden = history;
  $('history-pane').hidden = !history;
  if (history) renderHistory();
}

// ---------------------------------------------------------------- start

function init() {
  installStyles();
  if (/Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)) {
    $('query-hint').textContent = '⌘+Enter runs · Esc then Tab leaves the editor';
    $('run').title = 'Run (⌘+Enter)';
  }

  const query = $('query');
  const variables = $('variables');
  const savedQuery = localStorage.getItem(QUERY_KEY);
  query.value = savedQuery && savedQuery.trim() ? savedQuery : DEFAULT_QUERY;
  const savedVars = localStorage.getItem(VARIABLES_KEY);
  variables.value = savedQuery && savedQuery.trim() && savedVars !== null ? savedVars : DEFAULT_VARIABLES;

  for (const area of [query, variables]) {
    area.addEventListener('keydown', onEditorKey);
    area.addEventListener('input', onEditorInput);
  }
  for (const ev of ['click', 'keyup', 'focus']) query.addEventListener(ev, followCursor);
  $('operation').addEventListener('change', () => {
    pickedByUser = $('operation').value;
    pickedAt = $('query').selectionStart;
    refreshOperations();
  });
  variables.addEventListener('blur', () => checkVariables(true));

  $('run').addEventListener('click', run);
  $('stop').addEventListener('click', () => stopSubscription('stopped'));

  // Sign-in panel.
  $('auth-toggle').addEventListener('click', () => ($('auth-panel').hidden ? openAuthPanel() : closeAuthPanel()));
  $('auth-close').addEventListener('click', closeAuthPanel);
  $('tab-signin').addEventListener('click', () => setAuthMode('signin'));
  $('tab-register').addEventListener('click', () => setAuthMode('register'));
  $('auth-form').addEventListener('submit', onAuthSubmit);
  $('signout').addEventListener('click', onSignOut);
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    if (!$('auth-panel').hidden) {
      closeAuthPanel();
      $('auth-toggle').focus();
    } else if (isDrawer() && sideOpen()) {
      setSide(false);
      $('side-toggle').focus();
    }
  });
  document.addEventListener('pointerdown', (e) => {
    const outside = (box, toggle) => !box.contains(e.target) && !toggle.contains(e.target);
    if (!$('auth-panel').hidden && outside($('auth-panel'), $('auth-toggle'))) closeAuthPanel();
    if (isDrawer() && sideOpen() && outside($('side'), $('side-toggle'))) setSide(false);
  });
  session.onExpired = (reason) => onSessionChange(reason);

  // Side panel.
  setSide(!isDrawer());
  drawerQuery.addEventListener('change', () => setSide(!isDrawer()));
  $('side-toggle').addEventListener('click', () => setSide(!sideOpen()));
  $('side-close').addEventListener('click', () => setSide(false));
  $('tab-docs').addEventListener('click', () => setSideTab('docs'));
  $('tab-history').addEventListener('click', () => setSideTab('history'));
  $('docs-search').addEventListener('input', renderDocs);
  $('docs-back').addEventListener('click', () => {
    docsStack.pop();
    renderDocs();
  });
  $('history-clear').addEventListener('click', () => {
    writeStore(HISTORY_KEY, []);
    renderHistory();
  });

  refreshOperations();
  checkVariables(true);
  renderHistory();
  renderAuth();
  loadMe();
  loadSchema();
}

init();
