// End-to-end test of how the pages keep their sockets signed in (static/session.js: Session,
// TokenLease, LiveSocket), against a server whose access tokens live a few seconds:
//
//   switchboard serve --access-token-ttl 8 ...
//   BASE_URL=http://127.0.0.1:8080 ACCESS_TOKEN_TTL=8 node session.mjs
//
// Checks, in real Chromium:
//   - /chat: the socket outlives several token lifetimes (renewed in-band with `auth` frames,
//     never reconnected) and still carries messages; when renewals are withheld the server
//     closes it 4001 and the page refreshes, reconnects and re-joins with `since`, showing
//     each message once;
//   - /dashboard: the same renewal and 4001 recovery on /ws/events; a session revoked
//     elsewhere closes it 4003 and the page asks to sign in again;
//   - /graphiql (GraphiQL with a graphql-ws client): a subscription renews with `ping`
//     payloads, subscribes again with a fresh token after 4001 and after a token refused in
//     connection_init (4403), and signs out on 4003.
//
// Environment: BASE_URL, ACCESS_TOKEN_TTL (the server's --access-token-ttl in seconds, 4 to
// 30), CHROMIUM, SCREENSHOT_DIR (as lib.mjs says). Exit status 0 on success, 1 on failure.

import { randomBytes } from 'node:crypto';
import { BASE_URL, TIMEOUT, SOCKET_PROBE, CSP_PROBE, assert, step, shot, watch, assertNoProblems, run } from './lib.mjs';

const TTL = Number(process.env.ACCESS_TOKEN_TTL || 0);
if (!(TTL >= 4 && TTL <= 30)) {
  console.error("FAIL: session.mjs needs ACCESS_TOKEN_TTL, the server's --access-token-ttl (4 to 30 seconds)");
  process.exit(1);
}
/** Long enough for `n` token lifetimes and then some. */
const lifetimes = (n) => TIMEOUT + n * TTL * 1000;

const tag = randomBytes(4).toString('hex');
const ROOM = `renew-${tag}`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const USER = { name: `Renee ${tag}`, email: `renee-${tag}@example.com`, password: PASSWORD };
const OTHER = { name: `Otto ${tag}`, email: `otto-${tag}@example.com`, password: PASSWORD };

// ---------------------------------------------------------------- REST helpers (outside the page)

async function registerApi(user) {
  const resp = await fetch(`${BASE_URL}/api/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(user),
  });
  assert(resp.status === 201, `POST /api/v1/users answered ${resp.status}`);
}

/** A fresh access token (they live TTL seconds, so each helper call signs in). */
async function tokenFor(user) {
  const resp = await fetch(`${BASE_URL}/api/v1/auth/token`, {
    method: 'POST',
    headers: { accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'password', username: user.email, password: user.password }),
  });
  assert(resp.ok, `sign-in answered ${resp.status}`);
  return (await resp.json()).access_token;
}

/** OTHER posts in ROOM over REST. */
async function post(body) {
  const resp = await fetch(`${BASE_URL}/api/v1/rooms/${ROOM}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await tokenFor(OTHER)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ body }),
  });
  assert(resp.status === 201, `POST messages answered ${resp.status}`);
  return resp.json();
}

/** Ends the page's session as "sign out elsewhere" would: revokes its refresh token. */
async function revoke(page) {
  const { access, refresh } = await page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth')));
  const resp = await fetch(`${BASE_URL}/api/v1/auth/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access}` },
    body: new URLSearchParams({ token: refresh, token_type_hint: 'refresh_token' }),
  });
  assert(resp.ok, `revoke answered ${resp.status}`);
}

// ---------------------------------------------------------------- page helpers

/** How many frames of `type` the page's sockets received (lib.mjs SOCKET_PROBE). */
const received = (page, type) =>
  page.evaluate((t) => window.__ws.received.filter((r) => r.data.includes(`"type":"${t}"`)).length, type);

const probe = (page) => page.evaluate(() => ({ opened: window.__ws.opened, closes: window.__ws.closes }));

/** Withholds the page's renewals (frames `match` says) until the server closes a socket 4001. */
async function withholdUntil4001(page, match) {
  await page.evaluate((m) => {
    window.__ws.swallow = (text) => !window.__ws.closes.includes(4001) && text.includes(m);
  }, match);
  await page.waitForFunction(() => window.__ws.closes.includes(4001), null, { timeout: lifetimes(2) });
  await page.evaluate(() => {
    window.__ws.swallow = null;
  });
}

async function waitForMessage(page, text, timeout = TIMEOUT) {
  await page.waitForFunction(
    (body) => [...document.querySelectorAll('#message-list .message[data-id] .body')].some((b) => b.textContent === body),
    text,
    { timeout },
  );
}

async function assertShownOnce(page) {
  const { ids, bodies } = await page.evaluate(() => {
    const items = [...document.querySelectorAll('#message-list .message[data-id]')];
    return { ids: items.map((li) => li.dataset.id), bodies: items.map((li) => li.querySelector('.body').textContent) };
  });
  assert(new Set(ids).size === ids.length, `a message id is shown twice: ${ids.join(',')}`);
  assert(new Set(bodies).size === bodies.length, 'a message is shown twice');
}

/** graphiql: posts until GraphiQL's response pane shows the `next` event with `body` (the server subscribes asynchronously). */
async function postUntilEvent(page, body) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    await post(body);
    const seen = await page
      .waitForFunction(
        (b) => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes(JSON.stringify(b)),
        body,
        { timeout: 1000 },
      )
      .then(() => true, () => false);
    if (seen) return;
    assert(Date.now() < deadline, `no subscription event for "${body}" within ${TIMEOUT} ms`);
  }
}

/** The tokens of the page's connection_init frames, in order. */
const initTokens = (page) =>
  page.evaluate(() =>
    window.__ws.sent
      .map((t) => JSON.parse(t))
      .filter((f) => f.type === 'connection_init')
      .map((f) => (f.payload && f.payload.Authorization) || ''),
  );

/** Puts the subscription in GraphiQL's editors and runs it. */
async function subscribe(page, query, variables) {
  await page.waitForSelector('.graphiql-query-editor .CodeMirror');
  await page.$eval('.graphiql-query-editor .CodeMirror', (cm, v) => cm.CodeMirror.setValue(v), query);
  await page.$eval('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror', (cm, v) => cm.CodeMirror.setValue(v), variables);
  await page.waitForFunction(() => document.querySelector('.graphiql-tab-active')?.textContent.trim() === 'Messages');
  await page.click('.graphiql-execute-button');
}

console.log(`switchboard session e2e against ${BASE_URL} (access tokens live ${TTL} s, room ${ROOM})`);
run({ name: 'session', seconds: 120 + 12 * TTL, failurePrefix: 'failure-session-' }, async (browser, pages) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript(CSP_PROBE);
  await ctx.addInitScript(SOCKET_PROBE);
  const page = await ctx.newPage();
  pages.push(['page', page]);
  watch(page, 'page', { consoleErrors: 'log' });
  page.setDefaultTimeout(TIMEOUT);

  await registerApi(OTHER);

  // ------------------------------------------------------------ /chat

  await step('a user registers on /chat and joins a room', async () => {
    await page.goto(`${BASE_URL}/chat`, { waitUntil: 'domcontentloaded' });
    await page.click('#tab-register');
    await page.fill('#name', USER.name);
    await page.fill('#email', USER.email);
    await page.fill('#password', USER.password);
    await page.click('#register');
    await page.waitForSelector('#conn-status[data-state="online"]');
    await page.fill('#room-name', ROOM);
    await page.click('#join');
    await page.waitForFunction((name) => document.querySelector('#room-title')?.textContent === `#${name}` && !document.querySelector('#my-rooms .joining'), ROOM);
  });

  await step(`the chat socket is renewed in-band 3 times (tokens of ${TTL} s) and never reconnects`, async () => {
    await page.waitForFunction(() => window.__ws.received.filter((r) => r.data.includes('"type":"authenticated"')).length >= 3, null, {
      timeout: lifetimes(4),
    });
    const { opened, closes } = await probe(page);
    assert(opened === 1 && closes.length === 0, `sockets opened ${opened}, closed ${closes.join(',')}`);
    const auths = await page.evaluate(() => window.__ws.sent.filter((t) => t.includes('"type":"auth"')).length);
    assert(auths >= 3, `${auths} auth frames sent`);
    assert((await page.getAttribute('#conn-status', 'data-state')) === 'online', 'the page is not online');
    const body = `still here after ${3 * TTL} s ${tag}`;
    await post(body);
    await waitForMessage(page, body);
    await page.fill('#message-input', `and I can still send ${tag}`);
    await page.click('#send');
    await waitForMessage(page, `and I can still send ${tag}`);
  });

  await step('with renewals withheld the server closes the chat socket 4001: the page refreshes and reconnects', async () => {
    const before = await probe(page);
    const during = `posted around the 4001 ${tag}`;
    await withholdUntil4001(page, '"type":"auth"');
    await post(during);
    await page.waitForSelector('#conn-status[data-state="online"]');
    await waitForMessage(page, during);
    const after = await probe(page);
    assert(after.opened === before.opened + 1, `${after.opened - before.opened} sockets opened after the 4001`);
    const joins = await page.evaluate(() => window.__ws.sent.map((t) => JSON.parse(t)).filter((f) => f.type === 'join'));
    assert(Number.isInteger(joins[joins.length - 1].since), `the re-join had no since: ${JSON.stringify(joins[joins.length - 1])}`);
    await assertShownOnce(page);
    // And renewal works again on the new socket.
    const authenticated = await received(page, 'authenticated');
    await page.waitForFunction((n) => window.__ws.received.filter((r) => r.data.includes('"type":"authenticated"')).length > n, authenticated, {
      timeout: lifetimes(1),
    });
    await shot(page, 'session-chat');
  });

  // ------------------------------------------------------------ /dashboard

  await step('/dashboard (same tab, same session): /ws/events is renewed in-band too', async () => {
    await page.goto(`${BASE_URL}/dashboard`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#conn-status[data-state="online"]');
    await page.waitForFunction(() => window.__ws.received.filter((r) => r.data.includes('"type":"authenticated"')).length >= 2, null, {
      timeout: lifetimes(3),
    });
    const { opened, closes } = await probe(page);
    assert(opened === 1 && closes.length === 0, `events sockets opened ${opened}, closed ${closes.join(',')}`);
  });

  await step('/dashboard: a 4001 (renewals withheld) is followed by a refresh and a new live socket', async () => {
    await withholdUntil4001(page, '"type":"auth"');
    await page.waitForSelector('#conn-status[data-state="online"]');
    const { opened } = await probe(page);
    assert(opened === 2, `${opened} events sockets opened`);
    await page.waitForSelector('#auth-view', { state: 'hidden' });
  });

  await step('/dashboard in another tab: its session revoked elsewhere closes it 4003 and asks to sign in', async () => {
    const ctx2 = await browser.newContext({ viewport: { width: 1024, height: 700 } });
    await ctx2.addInitScript(SOCKET_PROBE);
    const dash = await ctx2.newPage();
    pages.push(['dashboard', dash]);
    watch(dash, 'dashboard', { consoleErrors: 'log' });
    dash.setDefaultTimeout(TIMEOUT);
    await dash.goto(`${BASE_URL}/dashboard`, { waitUntil: 'domcontentloaded' });
    await dash.fill('#email', USER.email);
    await dash.fill('#password', USER.password);
    await dash.click('#signin');
    await dash.waitForSelector('#conn-status[data-state="online"]');
    await revoke(dash);
    await dash.waitForSelector('#auth-view:not([hidden])');
    await dash.waitForFunction(() => window.__ws.closes.length > 0);
    const { closes } = await probe(dash);
    assert(closes.includes(4003), `closes: ${closes.join(',')}`);
    const text = await dash.textContent('#auth-error');
    assert(/signed out elsewhere/.test(text), `the sign-in form says: ${text}`);
    await shot(dash, 'session-dashboard-ended');
    // The first tab's session is another one: still live.
    assert((await page.getAttribute('#conn-status', 'data-state')) === 'online', 'the other session was ended too');
  });

  // ------------------------------------------------------------ /graphiql (GraphiQL + graphql-ws)

  const SUBSCRIPTION = 'subscription Messages($room: String!) {\n  messageAdded(room: $room) {\n    id\n    seq\n    body\n  }\n}';
  const VARS = JSON.stringify({ room: ROOM });
  const renewals = (page) => page.evaluate(() => window.__ws.received.filter((r) => r.data.includes('"type":"pong"') && r.data.includes('expires_at')).length);
  await step('/graphiql: a subscription is renewed with ping payloads and keeps delivering', async () => {
    await page.goto(`${BASE_URL}/graphiql`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction((name) => document.querySelector('#whoami')?.textContent.includes(name), USER.name);
    await subscribe(page, SUBSCRIPTION, VARS);
    await page.waitForSelector('#ws-status[data-state="online"]');
    await page.waitForFunction(() => window.__ws.received.filter((r) => r.data.includes('"type":"pong"') && r.data.includes('expires_at')).length >= 2, null, {
      timeout: lifetimes(3),
    });
    const pings = await page.evaluate(() => window.__ws.sent.filter((t) => t.includes('"type":"ping"') && t.includes('Bearer ')).length);
    assert(pings >= 2, `${pings} ping frames with a token sent`);
    const { opened, closes } = await probe(page);
    assert(opened === 1 && closes.length === 0, `subscription sockets opened ${opened}, closed ${closes.join(',')}`);
    await postUntilEvent(page, `after renewals ${tag}`);
    await shot(page, 'session-graphiql-renewed');
  });

  await step('/graphiql: after a 4001 (pings withheld) it refreshes and subscribes again', async () => {
    await withholdUntil4001(page, '"type":"ping"');
    await page.waitForFunction(() => window.__ws.opened === 2 && document.querySelector('#ws-status')?.dataset.state === 'online');
    const tokens = await initTokens(page);
    assert(tokens.length === 2 && tokens[1] !== tokens[0] && tokens[1].startsWith('Bearer '), 'the new connection_init did not carry a fresh token');
    assert((await page.evaluate(() => window.__ws.sent.filter((t) => t.includes('"type":"subscribe"')).length)) === 2, 'not subscribed again');
    await postUntilEvent(page, `after the 4001 ${tag}`);
  });

  await step('/graphiql: a token refused in connection_init (4403) is refreshed and the subscription retried', async () => {
    await page.click('.graphiql-execute-button'); // stop
    await page.waitForFunction(() => window.__ws.closes.length === window.__ws.opened);
    // Hold the page's GraphQL HTTP requests (they would refresh the bad token first).
    const held = [];
    await page.route('**/graphql', (route) => held.push(route));
    await page.evaluate((ttl) => {
      const t = JSON.parse(sessionStorage.getItem('switchboard.auth'));
      t.access = 'not.a.valid-token';
      t.expiresAt = Date.now() + 60_000;
      t.lifetime = ttl * 1000;
      sessionStorage.setItem('switchboard.auth', JSON.stringify(t));
    }, TTL);
    await page.reload({ waitUntil: 'domcontentloaded' });
    await subscribe(page, SUBSCRIPTION, VARS);
    await page.waitForFunction(() => window.__ws.closes.includes(4403));
    await page.waitForFunction(() => window.__ws.opened === 2 && document.querySelector('#ws-status')?.dataset.state === 'online');
    await page.unroute('**/graphql');
    for (const route of held) await route.continue().catch(() => {});
    await postUntilEvent(page, `after the 4403 ${tag}`);
  });

  await step('/graphiql: the session revoked elsewhere closes the subscription 4003 and signs the page out', async () => {
    const opened = await page.evaluate(() => window.__ws.opened);
    await revoke(page);
    await page.waitForFunction(() => window.__ws.closes.includes(4003));
    await page.waitForSelector('#auth-toggle:not([hidden])');
    await page.waitForFunction(() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('4003'));
    const toasts = await page.textContent('#toasts');
    assert(toasts.includes('Your session has ended'), `toasts: ${toasts}`);
    const stored = await page.evaluate(() => sessionStorage.getItem('switchboard.auth'));
    assert(stored === null, 'the tokens are still stored');
    await page.waitForTimeout(1500);
    assert((await page.evaluate(() => window.__ws.opened)) === opened, 'the subscription reconnected after 4003');
    await shot(page, 'session-graphiql-ended');
  });

  await assertNoProblems(pages);
});
