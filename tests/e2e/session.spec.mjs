// How the pages keep their sockets signed in (static/session.js: Session, TokenLease,
// LiveSocket), against a server whose access tokens live a few seconds
// (`switchboard serve --access-token-ttl 8`, and ACCESS_TOKEN_TTL=8 here). In Chromium:
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
// Environment: as lib.mjs, and ACCESS_TOKEN_TTL (the server's --access-token-ttl in seconds,
// 4 to 30).

import { randomBytes } from 'node:crypto';
import { test, expect } from '@playwright/test';
import { BASE_URL, TIMEOUT, SOCKET_PROBE, CSP_PROBE, Pages, exactly, shot } from './lib.mjs';

test.describe.configure({ mode: 'serial' });

const TTL = Number(process.env.ACCESS_TOKEN_TTL || 0);
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
  expect(resp.status, 'POST /api/v1/users').toBe(201);
}

/** A fresh access token (they live TTL seconds, so each helper call signs in). */
async function tokenFor(user) {
  const resp = await fetch(`${BASE_URL}/api/v1/auth/token`, {
    method: 'POST',
    headers: { accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'password', username: user.email, password: user.password }),
  });
  expect(resp.ok, `sign-in answered ${resp.status}`).toBe(true);
  return (await resp.json()).access_token;
}

/** OTHER posts in ROOM over REST; answers the stored message. */
async function post(body) {
  const resp = await fetch(`${BASE_URL}/api/v1/rooms/${ROOM}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await tokenFor(OTHER)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ body }),
  });
  expect(resp.status, 'POST messages').toBe(201);
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
  expect(resp.ok, `revoke answered ${resp.status}`).toBe(true);
}

// ---------------------------------------------------------------- page helpers

/** How many frames the page's sockets received (lib.mjs SOCKET_PROBE) that contain every one of `parts`. */
const received = (page, ...parts) => page.evaluate((ps) => window.__ws.received.filter((r) => ps.every((p) => r.data.includes(p))).length, parts);

/** How many text frames the page's sockets sent that contain every one of `parts`. */
const sent = (page, ...parts) => page.evaluate((ps) => window.__ws.sent.filter((t) => ps.every((p) => t.includes(p))).length, parts);

const probe = (page) => page.evaluate(() => ({ opened: window.__ws.opened, closes: window.__ws.closes }));

/** Withholds the page's renewals (frames `match` says) until the server closes a socket 4001. */
async function withholdUntil4001(page, match) {
  await page.evaluate((m) => {
    window.__ws.swallow = (text) => !window.__ws.closes.includes(4001) && text.includes(m);
  }, match);
  await expect.poll(() => page.evaluate(() => window.__ws.closes), { message: 'a close 4001', timeout: lifetimes(2) }).toContain(4001);
  await page.evaluate(() => {
    window.__ws.swallow = null;
  });
}

const expectMessage = (page, text) =>
  expect(page.locator('#message-list .message[data-id] .body').filter({ hasText: exactly(text) }), `"${text}" shown once`).toHaveCount(1);

async function expectShownOnce(page) {
  const { ids, bodies } = await page.evaluate(() => {
    const items = [...document.querySelectorAll('#message-list .message[data-id]')];
    return { ids: items.map((li) => li.dataset.id), bodies: items.map((li) => li.querySelector('.body').textContent) };
  });
  expect(new Set(ids).size, `a message id is shown twice: ${ids.join(',')}`).toBe(ids.length);
  expect(new Set(bodies).size, 'a message is shown twice').toBe(bodies.length);
}

const RESPONSE = '.graphiql-response .CodeMirror';
const responseText = (page) => page.$eval(RESPONSE, (cm) => cm.CodeMirror.getValue()).catch(() => '');

/**
 * graphiql: OTHER posts `body` and GraphiQL's response pane shows it as the subscription's
 * `next` event. The subscription replays from the seq it was started with (`since`), so the
 * message arrives whether the server has registered the subscription yet or not.
 */
async function postAndSee(page, body) {
  await post(body);
  await expect.poll(() => responseText(page), { message: `the subscription event for "${body}"` }).toContain(JSON.stringify(body));
}

/** The tokens of the page's connection_init frames, in order. */
const initTokens = (page) =>
  page.evaluate(() =>
    window.__ws.sent
      .map((t) => JSON.parse(t))
      .filter((f) => f.type === 'connection_init')
      .map((f) => (f.payload && f.payload.Authorization) || ''),
  );

const SUBSCRIPTION = 'subscription Messages($room: String!, $since: Int) {\n  messageAdded(room: $room, since: $since) {\n    id\n    seq\n    body\n  }\n}';

/** The room's last seq, so a subscription from it misses nothing posted afterwards. */
async function lastSeq() {
  const resp = await fetch(`${BASE_URL}/api/v1/rooms/${ROOM}/messages?limit=1`, {
    headers: { authorization: `Bearer ${await tokenFor(OTHER)}`, accept: 'application/json' },
  });
  expect(resp.status, 'GET messages').toBe(200);
  const { data } = await resp.json();
  return data.length ? Math.max(...data.map((m) => m.seq)) : 0;
}

/** Puts the subscription (from the room's last seq) in GraphiQL's editors and runs it. */
async function subscribe(page) {
  const variables = JSON.stringify({ room: ROOM, since: await lastSeq() });
  await expect(page.locator('.graphiql-query-editor .CodeMirror')).toBeVisible();
  await page.$eval('.graphiql-query-editor .CodeMirror', (cm, v) => cm.CodeMirror.setValue(v), SUBSCRIPTION);
  await page.$eval('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror', (cm, v) => cm.CodeMirror.setValue(v), variables);
  await expect(page.locator('.graphiql-tab-active')).toHaveText('Messages');
  await page.click('.graphiql-execute-button');
}

const pages = new Pages();
let page;

test.beforeAll(async ({ browser }) => {
  expect(TTL >= 4 && TTL <= 30, "ACCESS_TOKEN_TTL, the server's --access-token-ttl (4 to 30 seconds)").toBe(true);
  console.log(`session e2e against ${BASE_URL} (access tokens live ${TTL} s, room ${ROOM})`);
  page = await pages.open(browser, 'page', { viewport: { width: 1280, height: 800 } }, { probes: [CSP_PROBE, SOCKET_PROBE], consoleErrors: 'log' });
  await registerApi(OTHER);
});
test.afterEach(() => pages.check());
test.afterAll(() => pages.close());

// ------------------------------------------------------------ /chat

test('a user registers on /chat and joins a room', async () => {
  await page.goto('/chat', { waitUntil: 'domcontentloaded' });
  await page.click('#tab-register');
  await page.fill('#name', USER.name);
  await page.fill('#email', USER.email);
  await page.fill('#password', USER.password);
  await page.click('#register');
  await expect(page.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  await page.fill('#room-name', ROOM);
  await page.click('#join');
  await expect(page.locator('#room-title')).toHaveText(`#${ROOM}`);
  await expect(page.locator('#my-rooms .joining')).toHaveCount(0);
});

test('the chat socket is renewed in-band 3 times and never reconnects', async () => {
  test.setTimeout(lifetimes(4) + 30_000);
  await expect.poll(() => received(page, '"type":"authenticated"'), { message: 'authenticated frames', timeout: lifetimes(4) }).toBeGreaterThanOrEqual(3);
  const { opened, closes } = await probe(page);
  expect({ opened, closes }, 'chat sockets opened and closed').toEqual({ opened: 1, closes: [] });
  expect(await sent(page, '"type":"auth"'), 'auth frames sent').toBeGreaterThanOrEqual(3);
  await expect(page.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  const body = `still here after ${3 * TTL} s ${tag}`;
  await post(body);
  await expectMessage(page, body);
  await page.fill('#message-input', `and I can still send ${tag}`);
  await page.click('#send');
  await expectMessage(page, `and I can still send ${tag}`);
});

test('with renewals withheld the server closes the chat socket 4001: the page refreshes and reconnects', async () => {
  test.setTimeout(lifetimes(3) + 30_000);
  const before = await probe(page);
  const during = `posted around the 4001 ${tag}`;
  await withholdUntil4001(page, '"type":"auth"');
  await post(during);
  await expect(page.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  await expectMessage(page, during);
  expect((await probe(page)).opened, 'sockets opened after the 4001').toBe(before.opened + 1);
  const joins = await page.evaluate(() => window.__ws.sent.map((t) => JSON.parse(t)).filter((f) => f.type === 'join'));
  expect(Number.isInteger(joins.at(-1).since), `the re-join has a since: ${JSON.stringify(joins.at(-1))}`).toBe(true);
  await expectShownOnce(page);
  // And renewal works again on the new socket.
  const authenticated = await received(page, '"type":"authenticated"');
  await expect.poll(() => received(page, '"type":"authenticated"'), { message: 'a renewal on the new socket', timeout: lifetimes(1) }).toBeGreaterThan(authenticated);
  await shot(page, 'session-chat');
});

// ------------------------------------------------------------ /dashboard

test('/dashboard (same tab, same session): /ws/events is renewed in-band too', async () => {
  test.setTimeout(lifetimes(3) + 30_000);
  await page.goto('/dashboard', { waitUntil: 'domcontentloaded' });
  await expect(page.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  await expect.poll(() => received(page, '"type":"authenticated"'), { message: 'authenticated frames', timeout: lifetimes(3) }).toBeGreaterThanOrEqual(2);
  const { opened, closes } = await probe(page);
  expect({ opened, closes }, 'events sockets opened and closed').toEqual({ opened: 1, closes: [] });
});

test('/dashboard: a 4001 (renewals withheld) is followed by a refresh and a new live socket', async () => {
  test.setTimeout(lifetimes(2) + 30_000);
  await withholdUntil4001(page, '"type":"auth"');
  await expect(page.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  expect((await probe(page)).opened, 'events sockets opened').toBe(2);
  await expect(page.locator('#auth-view')).toBeHidden();
});

test('/dashboard in another tab: its session revoked elsewhere closes it 4003 and asks to sign in', async ({ browser }) => {
  const dash = await pages.open(browser, 'dashboard', { viewport: { width: 1024, height: 700 } }, { probes: [SOCKET_PROBE], consoleErrors: 'log' });
  await dash.goto('/dashboard', { waitUntil: 'domcontentloaded' });
  await dash.fill('#email', USER.email);
  await dash.fill('#password', USER.password);
  await dash.click('#signin');
  await expect(dash.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  await revoke(dash);
  await expect(dash.locator('#auth-view')).toBeVisible();
  await expect.poll(() => dash.evaluate(() => window.__ws.closes), { message: 'the events socket closes' }).toContain(4003);
  await expect(dash.locator('#auth-error')).toContainText('signed out elsewhere');
  await shot(dash, 'session-dashboard-ended');
  // The first tab's session is another one: still live.
  await expect(page.locator('#conn-status'), 'the other session').toHaveAttribute('data-state', 'online');
});

// ------------------------------------------------------------ /graphiql (GraphiQL + graphql-ws)

test('/graphiql: a subscription is renewed with ping payloads and keeps delivering', async () => {
  test.setTimeout(lifetimes(3) + 30_000);
  await page.goto('/graphiql', { waitUntil: 'domcontentloaded' });
  await expect(page.locator('#whoami')).toContainText(USER.name);
  await subscribe(page);
  await expect(page.locator('#ws-status')).toHaveAttribute('data-state', 'online');
  await expect.poll(() => received(page, '"type":"pong"', 'expires_at'), { message: 'renewal pongs', timeout: lifetimes(3) }).toBeGreaterThanOrEqual(2);
  expect(await sent(page, '"type":"ping"', 'Bearer '), 'ping frames with a token sent').toBeGreaterThanOrEqual(2);
  const { opened, closes } = await probe(page);
  expect({ opened, closes }, 'subscription sockets opened and closed').toEqual({ opened: 1, closes: [] });
  await postAndSee(page, `after renewals ${tag}`);
  await shot(page, 'session-graphiql-renewed');
});

test('/graphiql: after a 4001 (pings withheld) it refreshes and subscribes again', async () => {
  test.setTimeout(lifetimes(2) + 30_000);
  await withholdUntil4001(page, '"type":"ping"');
  await expect.poll(() => page.evaluate(() => window.__ws.opened), { message: 'sockets opened' }).toBe(2);
  await expect(page.locator('#ws-status')).toHaveAttribute('data-state', 'online');
  const tokens = await initTokens(page);
  expect(tokens.length, 'connection_init frames').toBe(2);
  expect(tokens[1], 'the new connection_init carries a fresh token').not.toBe(tokens[0]);
  expect(tokens[1]).toMatch(/^Bearer /);
  expect(await sent(page, '"type":"subscribe"'), 'subscribe frames').toBe(2);
  await postAndSee(page, `after the 4001 ${tag}`);
});

test('/graphiql: a token refused in connection_init (4403) is refreshed and the subscription retried', async () => {
  await page.click('.graphiql-execute-button'); // stop
  await expect.poll(() => probe(page).then(({ opened, closes }) => closes.length === opened), { message: 'every socket closed' }).toBe(true);
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
  await subscribe(page);
  await expect.poll(() => page.evaluate(() => window.__ws.closes), { message: 'a close 4403' }).toContain(4403);
  await expect.poll(() => page.evaluate(() => window.__ws.opened), { message: 'sockets opened' }).toBe(2);
  await expect(page.locator('#ws-status')).toHaveAttribute('data-state', 'online');
  await page.unroute('**/graphql');
  for (const route of held) await route.continue().catch(() => {});
  await postAndSee(page, `after the 4403 ${tag}`);
});

test('/graphiql: the session revoked elsewhere closes the subscription 4003 and signs the page out', async () => {
  const opened = await page.evaluate(() => window.__ws.opened);
  await revoke(page);
  await expect.poll(() => page.evaluate(() => window.__ws.closes), { message: 'a close 4003' }).toContain(4003);
  await expect(page.locator('#auth-toggle')).toBeVisible();
  await expect.poll(() => responseText(page), { message: 'the response pane' }).toContain('4003');
  await expect(page.locator('#toasts')).toContainText('Your session has ended');
  expect(await page.evaluate(() => sessionStorage.getItem('switchboard.auth')), 'the stored tokens').toBeNull();
  await expect(page.locator('.graphiql-execute-button'), 'the subscription ended').toHaveAttribute('aria-label', /execute/i);
  await shot(page, 'session-graphiql-ended');
  // No reconnect, shown by a later socket: the same subscription run again, now anonymously,
  // opens exactly one new socket (without a token) and is refused. Had the ended subscription
  // been retried, its socket would have come before this one.
  await page.$eval(RESPONSE, (cm) => cm.CodeMirror.setValue(''));
  await page.click('.graphiql-execute-button');
  await expect.poll(() => responseText(page), { message: 'the anonymous subscription is refused' }).toMatch(/UNAUTHENTICATED|FORBIDDEN/);
  await expect.poll(() => probe(page).then(({ opened: n, closes }) => closes.length === n), { message: 'every socket closed' }).toBe(true);
  expect(await page.evaluate(() => window.__ws.opened), 'sockets opened after the 4003').toBe(opened + 1);
  expect((await initTokens(page)).at(-1), "the new socket's connection_init").toBe('');
});
