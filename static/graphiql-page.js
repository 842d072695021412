// switchboard's /graphiql page: the real GraphiQL (static/vendor/graphiql/, see its README)
// against /graphql, signed in with the same session as /chat and /dashboard (session.js).
// Queries and mutations go over HTTP with `Authorization: Bearer <token>`; subscriptions go
// over a graphql-ws client (sub-protocol graphql-transport-ws) whose connection_init carries
// the token, renewed in-band (TokenLease: a `ping` with the new token, answered by `pong`).
// GraphiQL, React, ReactDOM and graphqlWs are the globals of the vendored UMD builds, which
// the page loads (deferred) before this module.

import {
  $,
  toast,
  wsUrl,
  sessionEndedText,
  AUTH_KEY,
  AuthError,
  AuthForm,
  CLOSE_FORBIDDEN,
  CLOSE_SESSION_ENDED,
  CLOSE_TOKEN_EXPIRED,
  Session,
  TokenLease,
} from '/static/session.js';

const { GraphiQL, React, ReactDOM, graphqlWs } = window;

const GRAPHQL_URL = '/graphql';

const DEFAULT_QUERY = `# switchboard's GraphQL API. Run: the ▶ button or Ctrl+Enter.
# Docs: the book icon on the left. Sign in (top right) to send your token;
# subscriptions (e.g. messageAdded) stream over graphql-ws.

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

const session = new Session();
const authForm = new AuthForm(session, { onSignedIn: () => onSessionChange() });

// GraphiQL's own introspection query nests `ofType` deeper than the server's depth limit
// (--graphql-max-depth, 12): the schema is read with four levels, enough for [[T!]!]!.
const INTROSPECTION = `query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
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

// ---------------------------------------------------------------- HTTP: the bearer token

/**
 * fetch() for GraphiQL's fetcher: adds the session's current token (refreshed when due)
 * unless the headers editor already sets Authorization; a 401 refreshes once and retries
 * (anonymously if the session is over).
 */
async function authedFetch(url, init = {}) {
  const headers = new Headers(init.headers);
  let token = null;
  if (session.signedIn && !headers.has('authorization')) {
    try {
      token = await session.accessToken();
    } catch (e) {
      if (!(e instanceof AuthError)) throw e; // the session just ended: go on anonymously
    }
    if (token) headers.set('authorization', `Bearer ${token}`);
  }
  const resp = await fetch(url, { ...init, headers });
  if (resp.status !== 401 || !token) return resp;
  try {
    headers.set('authorization', `Bearer ${await session.refresh()}`);
  } catch (e) {
    if (!(e instanceof AuthError)) return resp;
    headers.delete('authorization'); // the session is over (onExpired says so)
  }
  return fetch(url, { ...init, headers });
}

// ---------------------------------------------------------------- subscriptions: graphql-ws

function setWsStatus(state, text) {
  const s = $('ws-status');
  s.dataset.state = state;
  s.textContent = text;
  s.title = 'The subscription socket (graphql-transport-ws on /graphql)';
  s.hidden = !text;
}

/**
 * A lazy graphql-ws client (it connects for the first subscription and closes after the
 * last). Signed in, connection_init carries the token and TokenLease renews it in-band.
 * Closed 4001 (its token expired unrenewed) it refreshes and reconnects at once; 4403 (the
 * token was refused) it refreshes and tries once more; 4003 (the session ended) it stops
 * and signs out. Other drops are retried with graphql-ws's backoff.
 */
function createWsClient() {
  let held = null; // the token this connection was opened with
  let lease = null;
  let lastClose = 0;
  let renewing = null; // a refresh started by a close, awaited before reconnecting
  let forbiddenRetried = false;
  let disposed = false;

  const client = graphqlWs.createClient({
    url: wsUrl(GRAPHQL_URL),
    lazy: true,
    retryAttempts: 5,
    connectionParams: async () => {
      if (renewing) await renewing;
      renewing = null;
      held = null;
      if (!session.signedIn) return {};
      try {
        held = await session.accessToken();
      } catch {
        return {};
      }
      return { Authorization: `Bearer ${held}` };
    },
    shouldRetry: (e) => {
      if (disposed || !e || typeof e.code !== 'number') return !disposed;
      if (e.code === CLOSE_SESSION_ENDED) return false;
      if (e.code === CLOSE_FORBIDDEN) {
        if (!held || forbiddenRetried) return false;
        forbiddenRetried = true;
      }
      return true;
    },
    retryWait: async (retries) => {
      if (lastClose === CLOSE_TOKEN_EXPIRED || lastClose === CLOSE_FORBIDDEN) return; // a fresh token is on its way
      const base = Math.min(10_000, 500 * 2 ** retries);
      await new Promise((resolve) => setTimeout(resolve, base / 2 + (Math.random() * base) / 2));
    },
    on: {
      connecting: (isRetry) => setWsStatus('connecting', isRetry ? 'reconnecting…' : 'connecting…'),
      connected: (socket) => {
        forbiddenRetried = false;
        setWsStatus('online', held ? 'live (signed in)' : 'live');
        if (!held) return;
        lease = new TokenLease(session, {
          send: (fresh) => {
            if (socket.readyState !== WebSocket.OPEN) return false;
            socket.send(JSON.stringify({ type: 'ping', payload: { Authorization: `Bearer ${fresh}` } }));
            return true;
          },
          onRefused: (why) => toast(`The subscription socket kept its old token (${why}); it reconnects when that expires.`, { kind: 'warn' }),
        });
        lease.start(held);
      },
      pong: (received, payload) => {
        if (!received || !lease || !lease.awaiting) return;
        if (payload && typeof payload.expires_at === 'number') lease.confirm(payload.expires_at);
        else if (payload && payload.error) lease.refuse(String(payload.error));
      },
      closed: (event) => {
        const code = event && typeof event.code === 'number' ? event.code : 0;
        const token = lease ? lease.token || held : held;
        if (lease) lease.stop();
        lease = null;
        lastClose = code;
        if (disposed) return;
        setWsStatus('offline', code === 1000 ? '' : `closed (${code})`);
        if (code === CLOSE_SESSION_ENDED) {
          // After graphql-ws has ended the subscription with this close (GraphiQL shows it):
          // ending the session disposes this client, which would end it silently.
          setTimeout(() => session.signedIn && session.end('ended'), 0);
        } else if ((code === CLOSE_TOKEN_EXPIRED || code === CLOSE_FORBIDDEN) && token && session.signedIn) {
          // The session may already hold a newer token than the one refused here.
          const stale = code === CLOSE_FORBIDDEN || !session.tokens || session.tokens.access === token;
          renewing = stale ? session.refresh().catch(() => {}) : null;
        }
      },
    },
  });

  return {
    client,
    // What GraphiQL's fetcher is given. Its bridge from a sink to an async iterator turns a
    // subscription's error into a promise rejection that nothing handles (@graphiql/toolkit
    // 0.11), so an error (a close, or the server's `error` message) arrives as a last result
    // with `errors`, which GraphiQL shows like any other, and the subscription completes.
    forGraphiQL: {
      subscribe: (request, sink) =>
        client.subscribe(request, {
          next: (result) => sink.next(result),
          complete: () => sink.complete(),
          error: (e) => {
            sink.next({ errors: errorsOf(e) });
            sink.complete();
          },
        }),
    },
    dispose() {
      disposed = true;
      if (lease) lease.stop();
      lease = null;
      setWsStatus('offline', '');
      client.dispose().catch(() => {}); // a connection still being made fails: nothing to close
    },
  };
}

const CLOSE_WHY = {
  [CLOSE_SESSION_ENDED]: 'your session has ended: sign in again',
  [CLOSE_FORBIDDEN]: 'the token was refused: sign in (again)',
  [CLOSE_TOKEN_EXPIRED]: 'the token expired',
};

/** A subscription's error as GraphQL errors: a close (code and reason), the server's errors, or a client error. */
function errorsOf(e) {
  if (Array.isArray(e)) return e;
  if (e && typeof e.code === 'number' && 'reason' in e) {
    const why = CLOSE_WHY[e.code] ? ` (${CLOSE_WHY[e.code]})` : '';
    return [{ message: `Socket closed with event ${e.code}${e.reason ? ` ${e.reason}` : ''}${why}`, extensions: { closeCode: e.code } }];
  }
  return [{ message: e instanceof Error ? e.message : String(e) }];
}

// ---------------------------------------------------------------- GraphiQL

let live = null; // the current session's graphql-ws client (createWsClient)
let fetcher = null;
let root = null;
const storage = GraphiQL.createLocalStorage({ namespace: 'switchboard.graphiql' });
const PHONE = window.matchMedia('(max-width: 700px)').matches; // as graphiql-page.css's @media

/** A new fetcher and socket client for the current session (signed in or not). */
function rebuild() {
  if (live) live.dispose();
  live = createWsClient();
  const http = GraphiQL.createFetcher({ url: GRAPHQL_URL, fetch: authedFetch, enableIncrementalDelivery: false });
  fetcher = GraphiQL.createFetcher({
    url: GRAPHQL_URL,
    fetch: authedFetch,
    wsClient: live.forGraphiQL,
    schemaFetcher: (params, opts) => http({ ...params, query: INTROSPECTION, operationName: 'IntrospectionQuery' }, opts),
  });
  render();
}

/** The page's CSS gives an open plugin (docs, history) the whole width on a phone. */
function onTogglePluginVisibility(plugin) {
  $('graphiql').dataset.plugin = plugin ? plugin.title : '';
}

// Every prop but the fetcher stays the same object across renders: GraphiQL resets its state
// (the open plugin, for one) when one changes.
function render() {
  const e = React.createElement;
  root.render(
    e(
      GraphiQL,
      {
        fetcher,
        defaultQuery: DEFAULT_QUERY,
        storage,
        defaultEditorToolsVisibility: PHONE ? false : 'variables', // a phone's editor needs the room
        shouldPersistHeaders: false,
        onTogglePluginVisibility,
      },
      e(GraphiQL.Logo, null, 'switchboard'),
    ),
  );
}

// ---------------------------------------------------------------- who is signed in

let me = null;

async function loadMe() {
  me = null;
  if (session.signedIn) {
    try {
      const resp = await authedFetch(GRAPHQL_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query: 'query Me { me { name email role } }' }),
      });
      const body = await resp.json();
      me = body && body.data ? body.data.me : null;
    } catch {
      me = null;
    }
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
  chip.title = signedIn ? 'Requests carry Authorization: Bearer <your access token>' : 'No Authorization header: sign in to send one';
  if (signedIn) closeAuthPanel();
}

/** Signed in or out (here, by another page, or the session ended): new fetcher, new socket. */
function onSessionChange(why) {
  if (why) toast(sessionEndedText(why), { kind: 'warn' });
  rebuild();
  loadMe();
}

// ---------------------------------------------------------------- sign-in panel

function openAuthPanel() {
  $('auth-panel').hidden = false;
  $('auth-toggle').setAttribute('aria-expanded', 'true');
  authForm.focus();
}

function closeAuthPanel() {
  if ($('auth-panel').hidden) return;
  $('auth-panel').hidden = true;
  $('auth-toggle').setAttribute('aria-expanded', 'false');
}

async function onSignOut() {
  if (live) live.dispose(); // before the revocation closes its socket with 4003
  live = null;
  await session.signOut();
  onSessionChange();
  toast('Signed out: requests are anonymous now.', { kind: 'info' });
}

// ---------------------------------------------------------------- start

function init() {
  $('auth-toggle').addEventListener('click', () => ($('auth-panel').hidden ? openAuthPanel() : closeAuthPanel()));
  $('auth-close').addEventListener('click', closeAuthPanel);
  $('signout').addEventListener('click', onSignOut);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !$('auth-panel').hidden) {
      closeAuthPanel();
      $('auth-toggle').focus();
    }
  });
  document.addEventListener('pointerdown', (e) => {
    const panel = $('auth-panel');
    if (!panel.hidden && !panel.contains(e.target) && !$('auth-toggle').contains(e.target)) closeAuthPanel();
  });
  session.onExpired = (reason) => onSessionChange(reason);
  // Another page of this tab (or a refresh elsewhere) may have rotated the tokens.
  window.addEventListener('storage', (e) => {
    if (e.storageArea !== sessionStorage || e.key !== AUTH_KEY) return;
    const was = session.signedIn;
    session.load();
    if (session.signedIn !== was) onSessionChange();
  });

  const host = $('graphiql');
  host.replaceChildren();
  root = ReactDOM.createRoot(host);
  rebuild();
  renderAuth();
  loadMe();
}

init();
