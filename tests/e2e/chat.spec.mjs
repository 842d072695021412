// The /chat page in Chromium: two browser contexts (a desktop one and a phone-sized one) each
// register a new user through the page, join the same new room, and talk to each other.
// Checks: messages arrive both ways and are acknowledged, presence lists both users, the
// typing indicator shows, and a message full of HTML is shown as literal text. Then:
//   - a private room: A creates it (marked private); B does not see it in the room list and
//     joining it shows an error; A adds B by user id in the members panel; B joins and they
//     talk; A removes B, and B's page says so and drops the room;
//   - the room's owner deletes a message: it disappears on both pages;
//   - A's socket drops (offline): what B sends meanwhile, and what A wrote offline, arrive
//     exactly once after the reconnect (join with `since`); a message whose answer was lost
//     with the connection is sent again under the same client_id and stored once;
//   - a third person's session is revoked elsewhere: their socket is closed 4003 and the page
//     asks them to sign in again.
// (Token renewal in-band and the 4001 recovery need short-lived tokens: session.spec.mjs.)
//
// Environment: as lib.mjs, and ADMIN_EMAIL, ADMIN_PASSWORD (optional: an admin then watches
// /dashboard count the messages).

import { randomBytes } from 'node:crypto';
import { test, expect } from '@playwright/test';
import { BASE_URL, TIMEOUT, PHONE, SOCKET_PROBE, Pages, exactly, shot } from './lib.mjs';

test.describe.configure({ mode: 'serial' });

const tag = randomBytes(4).toString('hex');
const ROOM = `e2e-${tag}`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const XSS = '<b>x</b><img src=x onerror=alert(1)>';
const SECRET = `secret-${tag}`;
const ada = { name: `Ada ${tag}`, email: `ada-${tag}@example.com` };
const linus = { name: `Linus ${tag}`, email: `linus-${tag}@example.com` };
const grace = { name: `Grace ${tag}`, email: `grace-${tag}@example.com` };

/** Console errors are printed, not failures; any page error or dialog fails the test. */
const WATCH = { probes: [SOCKET_PROBE], dialogNote: 'HTML in a message was executed', consoleErrors: 'log' };

/** Registers a new user through the page's form and waits for the chat to be online. */
async function register(page, user) {
  await page.goto('/chat', { waitUntil: 'domcontentloaded' });
  await page.click('#tab-register');
  await page.fill('#name', user.name);
  await page.fill('#email', user.email);
  await page.fill('#password', PASSWORD);
  await page.click('#register');
  await expect(page.locator('#chat-view')).toBeVisible();
  await expect(page.locator('#conn-status')).toHaveAttribute('data-state', 'online');
}

/** The room is open (its title shown) and no join is still waiting for the server. */
async function expectInRoom(page, room) {
  await expect(page.locator('#room-title')).toHaveText(`#${room}`);
  await expect(page.locator('#my-rooms .joining')).toHaveCount(0);
}

/** Types a room name in the join form and presses Join (without waiting for the answer). */
async function tryJoin(page, room, { privateRoom = false } = {}) {
  await page.fill('#room-name', room);
  if (privateRoom) await page.check('#room-private');
  await page.click('#join');
}

async function joinRoom(page, room) {
  await tryJoin(page, room);
  await expectInRoom(page, room);
}

async function openRoom(page, room) {
  await page.click(`#my-rooms button[data-room="${room}"]`);
  await expect(page.locator('#room-title')).toHaveText(`#${room}`);
}

async function send(page, text) {
  await page.fill('#message-input', text);
  await page.click('#send');
}

/** The stored (acknowledged, not pending) messages shown with exactly this body. */
const stored = (page, text) => page.locator('#message-list .message[data-id] .body').filter({ hasText: exactly(text) });

/** Waits until the message is shown once, stored. */
const expectMessage = (page, text) => expect(stored(page, text), `"${text}" shown once`).toHaveCount(1);

/** Shown messages that are not stored yet (pending or failed). */
const unstored = (page) => page.locator('#message-list .message:not([data-id])');

/** Each stored message (by id and by body) is shown once, none is pending, and `texts` are there. */
async function expectShownOnce(page, who, texts) {
  const { ids, bodies } = await page.evaluate(() => {
    const items = [...document.querySelectorAll('#message-list .message[data-id]')];
    return { ids: items.map((li) => li.dataset.id), bodies: items.map((li) => li.querySelector('.body').textContent) };
  });
  expect(ids.length - new Set(ids).size, `${who}: message ids shown twice`).toBe(0);
  await expect(unstored(page), `${who}: messages still pending or failed`).toHaveCount(0);
  const counts = {};
  for (const body of bodies) counts[body] = (counts[body] || 0) + 1;
  for (const [text, n] of Object.entries(counts)) expect(n, `${who}: how often "${text}" is shown`).toBe(1);
  for (const text of texts) expect(counts[text] || 0, `${who}: how often "${text}" is shown`).toBe(1);
}

/** The members panel lists exactly these names, in any order. */
async function expectMembers(page, names) {
  await expect
    .poll(async () => (await page.locator('#members li .member-name').allTextContents()).sort(), { message: 'the members shown' })
    .toEqual([...names].sort());
}

/** The page's tokens (sessionStorage, as static/session.js keeps them). */
const tokensOf = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth')));

async function api(page, path, init = {}) {
  const { access } = await tokensOf(page);
  return fetch(`${BASE_URL}${path}`, { ...init, headers: { authorization: `Bearer ${access}`, accept: 'application/json', ...init.headers } });
}

/** The frames of `type` the page sent (lib.mjs SOCKET_PROBE), parsed. */
const sentFrames = (page, type) => page.evaluate((t) => window.__ws.sent.map((s) => JSON.parse(s)).filter((f) => f.type === t), type);

const pages = new Pages();
let a;
let b;
let dash = null;
let messagesBefore = null;
let bId = null;
const fromA = `hello from A ${tag}`;
const fromB = `hi back from B ${tag}`;

test.beforeAll(async ({ browser }) => {
  console.log(`chat e2e against ${BASE_URL} (room ${ROOM})`);
  a = await pages.open(browser, 'A', { viewport: { width: 1280, height: 800 } }, WATCH);
  b = await pages.open(browser, 'B', PHONE, WATCH);
});
test.afterEach(() => pages.check());
test.afterAll(() => pages.close());

test('A and B register through /chat, connect and join a room', async () => {
  await register(a, ada);
  await register(b, linus);
  await joinRoom(a, ROOM);
  await joinRoom(b, ROOM);
});

test('an admin signs in to /dashboard and sees live metrics', async ({ browser }) => {
  test.skip(!process.env.ADMIN_EMAIL, 'ADMIN_EMAIL is not set');
  dash = await pages.open(browser, 'dashboard', { viewport: { width: 1280, height: 900 } }, { probes: [], consoleErrors: 'log' });
  await dash.goto('/dashboard', { waitUntil: 'domcontentloaded' });
  await dash.fill('#email', process.env.ADMIN_EMAIL);
  await dash.fill('#password', process.env.ADMIN_PASSWORD);
  await dash.click('#signin');
  await expect(dash.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  await expect(dash.locator('#t-msg-total')).toContainText('since start');
  messagesBefore = parseInt((await dash.textContent('#t-msg-total')).replace(/\D/g, ''), 10);
});

test('presence lists both users on both sides', async () => {
  await expectMembers(a, [ada.name, linus.name]);
  await expectMembers(b, [ada.name, linus.name]);
});

test('a message from A reaches B (and A gets its echo)', async () => {
  await send(a, fromA);
  await expectMessage(b, fromA);
  await expectMessage(a, fromA);
  expect(await a.locator('#message-list .message.pending').count(), 'messages still pending in A after the echo').toBe(0);
});

test('a message from B reaches A', async () => {
  await send(b, fromB);
  await expectMessage(a, fromB);
  await expectMessage(b, fromB);
});

test('the dashboard counts the two messages', async () => {
  test.skip(!dash, 'no dashboard (ADMIN_EMAIL is not set)');
  await expect
    .poll(async () => parseInt(((await dash.textContent('#t-msg-total')) || '').replace(/\D/g, ''), 10), { message: 'messages counted' })
    .toBeGreaterThanOrEqual(messagesBefore + 2);
});

test('typing in B shows "… is typing" in A', async () => {
  await b.click('#message-input');
  // Keep typing like a person would (the page throttles its typing frames).
  await expect(async () => {
    await b.keyboard.type('typing ', { delay: 30 });
    await expect(a.locator('#typing')).toContainText(`${linus.name} is typing`, { timeout: 500 });
  }, 'A shows that B is typing').toPass({ timeout: TIMEOUT, intervals: [0] });
  await b.fill('#message-input', '');
});

test('HTML in a message is shown as literal text', async () => {
  await send(a, XSS);
  await expectMessage(b, XSS);
  await expectMessage(a, XSS);
  for (const [who, page] of [
    ['A', a],
    ['B', b],
  ]) {
    await expect(page.locator('#message-list b, #message-list img'), `${who}: elements made from the message`).toHaveCount(0);
  }
});

// ------------------------------------------------------------ private rooms

test('A creates a private room: it is joined and marked private', async () => {
  await tryJoin(a, SECRET, { privateRoom: true });
  await expectInRoom(a, SECRET);
  await expect(a.locator(`#my-rooms button[data-room="${SECRET}"][data-private="true"] svg.lock`)).toBeVisible();
  await expect(a.locator('#room-private-badge')).toBeVisible();
  await expect(a.locator('#roster li[data-user-id] .owner-badge')).toBeVisible();
  await expect(a.locator('#room-private'), 'the private checkbox stays ticked after creating the room').not.toBeChecked();
});

test('B does not see the private room in the room list', async () => {
  await b.reload({ waitUntil: 'domcontentloaded' });
  await expect(b.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  await expect(b.locator('#all-count')).toHaveText(/\(\d+\)/);
  await expect(b.locator(`#my-rooms button[data-room="${ROOM}"]`)).toBeVisible(); // restored after the reload
  await expect(b.locator(`button[data-room="${SECRET}"]`), `B's page lists the private room #${SECRET}`).toHaveCount(0);
  const rest = await (await api(b, '/api/v1/rooms?limit=100')).json();
  expect(rest.data.map((r) => r.name), 'GET /api/v1/rooms as B').not.toContain(SECRET);
});

test('B joining the private room by name sees an error on the page', async () => {
  await tryJoin(b, SECRET);
  await expect(b.locator('#room-notice')).toBeVisible();
  await expect(b.locator('#room-notice-text')).toContainText(SECRET);
  await expect(b.locator('#room-notice-text')).toContainText('private');
  await expect(b.locator(`#my-rooms button[data-room="${SECRET}"]`)).toHaveCount(0);
  await shot(b, 'chat-b-private-refused');
});

test('A adds B by id in the members panel', async () => {
  bId = await b.getAttribute('#whoami', 'data-user-id');
  expect(bId || '', "B's page shows its user id").toMatch(/^\d+$/);
  await a.fill('#add-member-id', bId);
  await a.click('#add-member');
  await expect(a.locator(`#roster li[data-user-id="${bId}"] button.remove`)).toBeVisible();
  await expect(a.locator('#roster-count')).toHaveText('(2)');
});

test('B can join the private room now, and they exchange messages', async () => {
  const inSecretA = `only for members ${tag}`;
  const inSecretB = `glad to be in ${tag}`;
  await b.click('#room-notice-close');
  await joinRoom(b, SECRET);
  await expect(b.locator(`#my-rooms button[data-room="${SECRET}"][data-private="true"]`)).toBeVisible();
  await expectMembers(a, [ada.name, linus.name]);
  await send(a, inSecretA);
  await expectMessage(b, inSecretA);
  await send(b, inSecretB);
  await expectMessage(a, inSecretB);
  await expectMessage(b, inSecretB);
  await expect(b.locator('#add-member-form:not([hidden])'), 'B, not the owner, may add members').toHaveCount(0);
  await expect(b.locator('#message-list .msg-delete'), 'B, not the owner, gets delete buttons').toHaveCount(0);
  await shot(a, 'chat-a-private-room');
});

test("A removes B: B is told, and the room is gone from B's rooms", async () => {
  await a.click(`#roster li[data-user-id="${bId}"] button.remove`);
  await expect(b.locator('#room-notice')).toBeVisible();
  await expect(b.locator('#room-notice-text')).toContainText('removed');
  await expect(b.locator('#room-notice-text')).toContainText(SECRET);
  await expect(b.locator(`button[data-room="${SECRET}"]`)).toHaveCount(0);
  await expect(a.locator(`#roster li[data-user-id="${bId}"]`)).toHaveCount(0);
  await expectMembers(a, [ada.name]);
  await shot(b, 'chat-b-removed');
});

// ------------------------------------------------------------ moderation

test("the room's owner deletes a message: it disappears on both pages", async () => {
  await openRoom(a, ROOM);
  await b.click('#room-notice-close');
  await openRoom(b, ROOM);
  await expectMessage(a, fromB);
  const id = await a.locator('#message-list .message[data-id]', { hasText: fromB }).getAttribute('data-id');
  await a.click(`#message-list .message[data-id="${id}"] .msg-delete`); // arms it
  await a.click(`#message-list .message[data-id="${id}"] .msg-delete.confirm`);
  await expect(a.locator(`#message-list .message[data-id="${id}"]`)).toHaveCount(0);
  await expect(b.locator(`#message-list .message[data-id="${id}"]`)).toHaveCount(0);
});

// ------------------------------------------------------------ reconnect

test("A's socket drops; what B sends meanwhile and what A wrote offline arrive exactly once", async () => {
  const away = [1, 2, 3].map((i) => `sent while A was away ${i} ${tag}`);
  const fromOfflineA = `written by A offline ${tag}`;
  const openedBefore = await a.evaluate(() => window.__ws.opened);
  await a.context().setOffline(true);
  await a.evaluate(() => {
    for (const ws of window.__ws.sockets) if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'test: connection lost');
  });
  await expect(a.locator('#conn-status')).not.toHaveAttribute('data-state', 'online');
  for (const text of away) {
    await send(b, text);
    await expectMessage(b, text);
  }
  await send(a, fromOfflineA);
  await expect(a.locator('#message-list .message.pending')).not.toHaveCount(0);
  await a.context().setOffline(false);
  await expect(a.locator('#conn-status')).toHaveAttribute('data-state', 'online');
  for (const text of away) await expectMessage(a, text);
  await expectMessage(a, fromOfflineA);
  await expectMessage(b, fromOfflineA);
  await expect(unstored(a)).toHaveCount(0);
  expect(await a.evaluate(() => window.__ws.opened), 'sockets A opened to come back').toBe(openedBefore + 1);
  const rejoin = (await sentFrames(a, 'join')).filter((f) => f.room === ROOM).at(-1);
  expect(Number.isInteger(rejoin.since) && rejoin.since > 0, `A re-joined with since: ${JSON.stringify(rejoin)}`).toBe(true);
  await expectShownOnce(a, 'A', [...away, fromOfflineA, fromA]);
  await expectShownOnce(b, 'B', [...away, fromOfflineA, fromA]);
});

test('a message whose acknowledgement was lost is sent again under the same client_id, and stored once', async () => {
  const lostAck = `answer lost with the connection ${tag}`;
  const openedBefore = await a.evaluate(() => window.__ws.opened);
  await a.evaluate((body) => {
    window.__ws.dropAfterSend = (text) => text.includes('"type":"message"') && text.includes(body);
  }, lostAck);
  await send(a, lostAck);
  await expect.poll(() => a.evaluate(() => window.__ws.opened), { message: 'A reconnected' }).toBeGreaterThan(openedBefore);
  await expectMessage(a, lostAck);
  await expectMessage(b, lostAck);
  await expect(unstored(a)).toHaveCount(0);
  const ids = (await sentFrames(a, 'message')).filter((f) => f.body === lostAck).map((f) => f.client_id);
  expect(ids.length, `A sent it with client_ids ${ids.join(', ')}`).toBe(2);
  expect(ids[1], 'the client_id of the second send').toBe(ids[0]);
  await expectShownOnce(a, 'A', [lostAck]);
  await expectShownOnce(b, 'B', [lostAck]);
  const page = await (await api(b, `/api/v1/rooms/${ROOM}/messages?since=0&limit=100`)).json();
  expect(page.data.filter((m) => m.body === lostAck).length, 'copies stored by the server').toBe(1);
  const seqs = page.data.map((m) => m.seq);
  expect(seqs, 'seqs in order').toEqual([...seqs].sort((x, y) => x - y));
  expect(new Set(seqs).size, 'distinct seqs').toBe(seqs.length);
  await shot(a, 'chat-a-desktop');
  await shot(b, 'chat-b-phone');
});

// ------------------------------------------------------------ session ended elsewhere

// A third person, idle in the room (no REST call of the page races the socket's close).
test("C's session is revoked elsewhere: the socket closes 4003 and C is asked to sign in", async ({ browser }) => {
  const c = await pages.open(browser, 'C', { viewport: { width: 1024, height: 700 } }, { probes: [SOCKET_PROBE], consoleErrors: 'log' });
  await register(c, grace);
  await joinRoom(c, ROOM);
  await expect(c.locator('#roster-count')).toHaveText(/\(\d+\)/);

  const { access, refresh } = await tokensOf(c);
  const resp = await fetch(`${BASE_URL}/api/v1/auth/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access}` },
    body: new URLSearchParams({ token: refresh, token_type_hint: 'refresh_token' }),
  });
  expect(resp.ok, `revoke answered ${resp.status}`).toBe(true);
  await expect(c.locator('#auth-view')).toBeVisible();
  await expect.poll(() => c.evaluate(() => window.__ws.closes), { message: "C's socket closes" }).toContain(4003);
  await expect(c.locator('#auth-error')).toContainText('signed out elsewhere');
  expect(await tokensOf(c), "C's stored tokens").toBeNull();
  await expectMembers(a, [ada.name, linus.name]);
  await shot(c, 'chat-c-session-ended');
});
