// End-to-end test of the /chat page in a real browser (playwright-core + system Chromium).
//
//   BASE_URL=http://127.0.0.1:8080 node chat.mjs
//
// Two browser contexts (a desktop one and a phone-sized one) each register a new user
// through the page, join the same new room, and talk to each other. Checks: messages arrive
// both ways and are acknowledged, presence lists both users, the typing indicator shows,
// and a message full of HTML is shown as literal text. Then:
//   - a private room: A creates it (marked private); B does not see it in the room list and
//     joining it shows an error; A adds B by user id in the members panel; B joins and they
//     talk; A removes B, and B's page says so and drops the room;
//   - the room's owner deletes a message: it disappears on both pages;
//   - A's socket drops (offline): what B sends meanwhile, and what A wrote offline, arrive
//     exactly once after the reconnect (join with `since`); a message whose answer was lost
//     with the connection is sent again under the same client_id and stored once;
//   - a third person's session is revoked elsewhere: their socket is closed 4003 and the page
//     asks them to sign in again.
// (Token renewal in-band and the 4001 recovery need short-lived tokens: session.mjs.)
// Exit status 0 on success, 1 on failure.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (optional: PNGs of both pages are saved there), ADMIN_EMAIL and
// ADMIN_PASSWORD (optional: an admin then watches /dashboard count the messages).

import { randomBytes } from 'node:crypto';
import { BASE_URL, TIMEOUT, PHONE, SOCKET_PROBE, assert, step, shot, watch, assertNoProblems, run } from './lib.mjs';

const tag = randomBytes(4).toString('hex');
const ROOM = `e2e-${tag}`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const XSS = '<b>x</b><img src=x onerror=alert(1)>';
const SECRET = `secret-${tag}`;

/** Registers a new user through the page's form and waits for the chat to be online. */
async function register(page, user) {
  await page.goto(`${BASE_URL}/chat`, { waitUntil: 'domcontentloaded' });
  await page.click('#tab-register');
  await page.fill('#name', user.name);
  await page.fill('#email', user.email);
  await page.fill('#password', PASSWORD);
  await page.click('#register');
  await page.waitForSelector('#chat-view:not([hidden])', { timeout: TIMEOUT });
  await page.waitForSelector('#conn-status[data-state="online"]', { timeout: TIMEOUT });
}

async function joinRoom(page, room) {
  await page.fill('#room-name', room);
  await page.click('#join');
  await page.waitForFunction(
    (name) => document.querySelector('#room-title')?.textContent === `#${name}` && !document.querySelector('#my-rooms .joining'),
    room,
    { timeout: TIMEOUT },
  );
}

/** Types a room name in the join form and presses Join (without waiting for the answer). */
async function tryJoin(page, room, { privateRoom = false } = {}) {
  await page.fill('#room-name', room);
  if (privateRoom) await page.check('#room-private');
  await page.click('#join');
}

async function openRoom(page, room) {
  await page.click(`#my-rooms button[data-room="${room}"]`);
  await page.waitForFunction((name) => document.querySelector('#room-title')?.textContent === `#${name}`, room);
}

async function send(page, text) {
  await page.fill('#message-input', text);
  await page.click('#send');
}

/** How often each stored message body is shown, and whether any message id is shown twice. */
async function shown(page) {
  return page.evaluate(() => {
    const items = [...document.querySelectorAll('#message-list .message[data-id]')];
    const ids = items.map((li) => li.dataset.id);
    const bodies = {};
    for (const li of items) {
      const text = li.querySelector('.body').textContent;
      bodies[text] = (bodies[text] || 0) + 1;
    }
    return { bodies, duplicateIds: ids.length - new Set(ids).size, pending: document.querySelectorAll('#message-list .message:not([data-id])').length };
  });
}

async function assertShownOnce(page, who, texts) {
  const { bodies, duplicateIds, pending } = await shown(page);
  assert(duplicateIds === 0, `${who}: ${duplicateIds} message id(s) shown twice`);
  assert(pending === 0, `${who}: ${pending} message(s) still pending or failed`);
  for (const [text, n] of Object.entries(bodies)) assert(n === 1, `${who}: "${text}" is shown ${n} times`);
  for (const text of texts) assert(bodies[text] === 1, `${who}: "${text}" is shown ${bodies[text] || 0} times, not once`);
}

/** The page's tokens (sessionStorage, as static/session.js keeps them). */
const tokensOf = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth')));

async function api(page, path, init = {}) {
  const { access } = await tokensOf(page);
  const resp = await fetch(`${BASE_URL}${path}`, { ...init, headers: { authorization: `Bearer ${access}`, accept: 'application/json', ...init.headers } });
  return resp;
}

/** Waits until a stored (acknowledged, not pending) message with exactly this body is shown. */
async function waitForMessage(page, text) {
  await page.waitForFunction(
    (body) =>
      [...document.querySelectorAll('#message-list .message[data-id] .body')].some((b) => b.textContent === body),
    text,
    { timeout: TIMEOUT },
  );
}

async function waitForMembers(page, names) {
  await page.waitForFunction(
    (expected) => {
      const shown = [...document.querySelectorAll('#members li .member-name')].map((n) => n.textContent);
      return shown.length === expected.length && expected.every((n) => shown.includes(n));
    },
    names,
    { timeout: TIMEOUT },
  );
}

console.log(`switchboard chat e2e against ${BASE_URL} (room ${ROOM})`);
run({ name: 'chat' }, async (browser, pages) => {
  const ada = { name: `Ada ${tag}`, email: `ada-${tag}@example.com` };
  const linus = { name: `Linus ${tag}`, email: `linus-${tag}@example.com` };

  const ctxA = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const ctxB = await browser.newContext(PHONE);
  await ctxA.addInitScript(SOCKET_PROBE);
  await ctxB.addInitScript(SOCKET_PROBE);
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  pages.push(['a', a], ['b', b]);
  // Console errors are printed, not failures; any page error or dialog fails the test.
  const dialogNote = 'HTML in a message was executed';
  watch(a, 'A', { dialogNote, consoleErrors: 'log' });
  watch(b, 'B', { dialogNote, consoleErrors: 'log' });
  a.setDefaultTimeout(TIMEOUT);
  b.setDefaultTimeout(TIMEOUT);

  await step('A registers through /chat and connects', () => register(a, ada));
  await step('B registers through /chat and connects', () => register(b, linus));
  await step(`A joins #${ROOM}`, () => joinRoom(a, ROOM));
  await step(`B joins #${ROOM}`, () => joinRoom(b, ROOM));

  // An admin watches /dashboard while they talk (ADMIN_EMAIL / ADMIN_PASSWORD from the test).
  let dash = null;
  let messagesBefore = null;
  if (process.env.ADMIN_EMAIL) {
    const ctxD = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    dash = await ctxD.newPage();
    pages.push(['dashboard', dash]);
    watch(dash, 'dashboard', { consoleErrors: 'log' });
    dash.setDefaultTimeout(TIMEOUT);
    await step('an admin signs in to /dashboard and sees live metrics', async () => {
      await dash.goto(`${BASE_URL}/dashboard`, { waitUntil: 'domcontentloaded' });
      await dash.fill('#email', process.env.ADMIN_EMAIL);
      await dash.fill('#password', process.env.ADMIN_PASSWORD);
      await dash.click('#signin');
      await dash.waitForSelector('#conn-status[data-state="online"]');
      await dash.waitForFunction(() => /since start/.test(document.querySelector('#t-msg-total')?.textContent || ''));
      messagesBefore = parseInt((await dash.textContent('#t-msg-total')).replace(/\D/g, ''), 10);
    });
  }

  await step('presence lists both users on both sides', async () => {
    await waitForMembers(a, [ada.name, linus.name]);
    await waitForMembers(b, [ada.name, linus.name]);
  });

  const fromA = `hello from A ${tag}`;
  await step('a message from A reaches B (and A gets its echo)', async () => {
    await send(a, fromA);
    await waitForMessage(b, fromA);
    await waitForMessage(a, fromA);
    const pending = await a.locator('#message-list .message.pending').count();
    if (pending) throw new Error(`${pending} message(s) still pending in A after the echo`);
  });

  const fromB = `hi back from B ${tag}`;
  await step('a message from B reaches A', async () => {
    await send(b, fromB);
    await waitForMessage(a, fromB);
    await waitForMessage(b, fromB);
  });

  if (dash) {
    await step('the dashboard counts the two messages', async () => {
      await dash.waitForFunction(
        (before) => parseInt((document.querySelector('#t-msg-total')?.textContent || '').replace(/\D/g, ''), 10) >= before + 2,
        messagesBefore,
      );
    });
  }

  await step('typing in B shows "… is typing" in A', async () => {
    await b.click('#message-input');
    const shown = (name) => document.querySelector('#typing')?.textContent.includes(`${name} is typing`);
    const deadline = Date.now() + TIMEOUT;
    // Keep typing like a person would (the page throttles its typing frames).
    for (;;) {
      await b.keyboard.type('typing ', { delay: 30 });
      if (await a.evaluate(shown, linus.name)) break;
      if (Date.now() > deadline) throw new Error('A never showed that B is typing');
    }
    await b.fill('#message-input', '');
  });

  await step('HTML in a message is shown as literal text', async () => {
    await send(a, XSS);
    await waitForMessage(b, XSS);
    await waitForMessage(a, XSS);
    for (const [who, page] of [
      ['A', a],
      ['B', b],
    ]) {
      const injected = await page.evaluate(() => document.querySelectorAll('#message-list b, #message-list img').length);
      if (injected) throw new Error(`${who}: the message created ${injected} <b>/<img> element(s)`);
    }
    await assertNoProblems();
  });

  // ------------------------------------------------------------ private rooms

  await step('A creates a private room: it is joined and marked private', async () => {
    await tryJoin(a, SECRET, { privateRoom: true });
    await a.waitForFunction(
      (name) => document.querySelector('#room-title')?.textContent === `#${name}` && !document.querySelector('#my-rooms .joining'),
      SECRET,
    );
    await a.waitForSelector(`#my-rooms button[data-room="${SECRET}"][data-private="true"] svg.lock`);
    await a.waitForSelector('#room-private-badge:not([hidden])');
    await a.waitForSelector(`#roster li[data-user-id] .owner-badge`);
    assert(!(await a.isChecked('#room-private')), 'the private checkbox stays ticked after creating the room');
  });

  await step('B does not see the private room in the room list', async () => {
    await b.reload({ waitUntil: 'domcontentloaded' });
    await b.waitForSelector('#conn-status[data-state="online"]');
    await b.waitForFunction(() => /\(\d+\)/.test(document.querySelector('#all-count')?.textContent || ''));
    await b.waitForSelector(`#my-rooms button[data-room="${ROOM}"]`); // restored after the reload
    const listed = await b.locator(`button[data-room="${SECRET}"]`).count();
    assert(listed === 0, `B's page lists the private room #${SECRET}`);
    const rest = await (await api(b, '/api/v1/rooms?limit=100')).json();
    assert(!rest.data.some((r) => r.name === SECRET), 'GET /api/v1/rooms shows B the private room');
  });

  await step('B joining the private room by name sees an error on the page', async () => {
    await tryJoin(b, SECRET);
    await b.waitForSelector('#room-notice:not([hidden])');
    const text = await b.textContent('#room-notice-text');
    assert(text.includes(SECRET) && /private/.test(text), `the notice says: ${text}`);
    await b.waitForFunction((name) => !document.querySelector(`#my-rooms button[data-room="${name}"]`), SECRET);
    await shot(b, 'chat-b-private-refused');
  });

  const bId = await b.getAttribute('#whoami', 'data-user-id');
  await step(`A adds B (user #${bId}) by id in the members panel`, async () => {
    assert(/^\d+$/.test(bId || ''), `B's page shows no user id (${bId})`);
    await a.fill('#add-member-id', bId);
    await a.click('#add-member');
    await a.waitForSelector(`#roster li[data-user-id="${bId}"] button.remove`);
    await a.waitForFunction(() => document.querySelector('#roster-count')?.textContent === '(2)');
  });

  const inSecretA = `only for members ${tag}`;
  const inSecretB = `glad to be in ${tag}`;
  await step('B can join the private room now, and they exchange messages', async () => {
    await b.click('#room-notice-close');
    await joinRoom(b, SECRET);
    await b.waitForSelector(`#my-rooms button[data-room="${SECRET}"][data-private="true"]`);
    await waitForMembers(a, [ada.name, linus.name]);
    await send(a, inSecretA);
    await waitForMessage(b, inSecretA);
    await send(b, inSecretB);
    await waitForMessage(a, inSecretB);
    await waitForMessage(b, inSecretB);
    assert((await b.locator('#add-member-form:not([hidden])').count()) === 0, 'B, not the owner, may add members');
    assert((await b.locator('#message-list .msg-delete').count()) === 0, 'B, not the owner, gets delete buttons');
    await shot(a, 'chat-a-private-room');
  });

  await step('A removes B: B is told, and the room is gone from B\'s rooms', async () => {
    await a.click(`#roster li[data-user-id="${bId}"] button.remove`);
    await b.waitForSelector('#room-notice:not([hidden])');
    const text = await b.textContent('#room-notice-text');
    assert(/removed/.test(text) && text.includes(SECRET), `B's notice says: ${text}`);
    await b.waitForFunction((name) => !document.querySelector(`button[data-room="${name}"]`), SECRET);
    await a.waitForFunction((id) => !document.querySelector(`#roster li[data-user-id="${id}"]`), bId);
    await waitForMembers(a, [ada.name]);
    await shot(b, 'chat-b-removed');
  });

  // ------------------------------------------------------------ moderation

  await step('the room\'s owner deletes a message: it disappears on both pages', async () => {
    await openRoom(a, ROOM);
    await b.click('#room-notice-close');
    await openRoom(b, ROOM);
    await waitForMessage(a, fromB);
    const target = a.locator('#message-list .message[data-id]', { hasText: fromB });
    const id = await target.getAttribute('data-id');
    await a.click(`#message-list .message[data-id="${id}"] .msg-delete`); // arms it
    await a.click(`#message-list .message[data-id="${id}"] .msg-delete.confirm`);
    await a.waitForFunction((mid) => !document.querySelector(`#message-list .message[data-id="${mid}"]`), id);
    await b.waitForFunction((mid) => !document.querySelector(`#message-list .message[data-id="${mid}"]`), id);
  });

  // ------------------------------------------------------------ reconnect

  const away = [1, 2, 3].map((i) => `sent while A was away ${i} ${tag}`);
  const fromOfflineA = `written by A offline ${tag}`;
  await step('A\'s socket drops; what B sends meanwhile and what A wrote offline arrive exactly once', async () => {
    const openedBefore = await a.evaluate(() => window.__ws.opened);
    await ctxA.setOffline(true);
    await a.evaluate(() => {
      for (const ws of window.__ws.sockets) if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'test: connection lost');
    });
    await a.waitForSelector('#conn-status:not([data-state="online"])');
    for (const text of away) {
      await send(b, text);
      await waitForMessage(b, text);
    }
    await send(a, fromOfflineA);
    await a.waitForSelector('#message-list .message.pending');
    await ctxA.setOffline(false);
    await a.waitForSelector('#conn-status[data-state="online"]');
    for (const text of away) await waitForMessage(a, text);
    await waitForMessage(a, fromOfflineA);
    await waitForMessage(b, fromOfflineA);
    await a.waitForFunction(() => !document.querySelector('#message-list .message:not([data-id])'));
    const openedAfter = await a.evaluate(() => window.__ws.opened);
    assert(openedAfter === openedBefore + 1, `A opened ${openedAfter - openedBefore} sockets to come back, not 1`);
    const joins = await a.evaluate(
      (room) => window.__ws.sent.map((t) => JSON.parse(t)).filter((f) => f.type === 'join' && f.room === room),
      ROOM,
    );
    const rejoin = joins[joins.length - 1];
    assert(Number.isInteger(rejoin.since) && rejoin.since > 0, `A re-joined without since: ${JSON.stringify(rejoin)}`);
    await assertShownOnce(a, 'A', [...away, fromOfflineA, fromA]);
    await assertShownOnce(b, 'B', [...away, fromOfflineA, fromA]);
  });

  const lostAck = `answer lost with the connection ${tag}`;
  await step('a message whose acknowledgement was lost is sent again under the same client_id, and stored once', async () => {
    const openedBefore = await a.evaluate(() => window.__ws.opened);
    await a.evaluate((body) => {
      window.__ws.dropAfterSend = (text) => text.includes('"type":"message"') && text.includes(body);
    }, lostAck);
    await send(a, lostAck);
    await a.waitForFunction((n) => window.__ws.opened > n, openedBefore);
    await waitForMessage(a, lostAck);
    await waitForMessage(b, lostAck);
    await a.waitForFunction(() => !document.querySelector('#message-list .message:not([data-id])'));
    const ids = await a.evaluate(
      (body) => window.__ws.sent.map((t) => JSON.parse(t)).filter((f) => f.type === 'message' && f.body === body).map((f) => f.client_id),
      lostAck,
    );
    assert(ids.length === 2 && ids[0] === ids[1], `A sent it ${ids.length} time(s) with client_ids ${ids.join(', ')}`);
    await assertShownOnce(a, 'A', [lostAck]);
    await assertShownOnce(b, 'B', [lostAck]);
    const page = await (await api(b, `/api/v1/rooms/${ROOM}/messages?since=0&limit=100`)).json();
    const copies = page.data.filter((m) => m.body === lostAck).length;
    assert(copies === 1, `the server stored it ${copies} times`);
    const seqs = page.data.map((m) => m.seq);
    assert(seqs.every((v, i) => i === 0 || v > seqs[i - 1]), `seqs out of order: ${seqs.join(',')}`);
  });

  await shot(a, 'chat-a-desktop');
  await shot(b, 'chat-b-phone');

  // ------------------------------------------------------------ session ended elsewhere

  // A third person, idle in the room (no REST call of the page races the socket's close).
  const grace = { name: `Grace ${tag}`, email: `grace-${tag}@example.com` };
  const ctxC = await browser.newContext({ viewport: { width: 1024, height: 700 } });
  await ctxC.addInitScript(SOCKET_PROBE);
  const c = await ctxC.newPage();
  pages.push(['c', c]);
  watch(c, 'C', { consoleErrors: 'log' });
  c.setDefaultTimeout(TIMEOUT);
  await step('C registers and joins the room', async () => {
    await register(c, grace);
    await joinRoom(c, ROOM);
    await c.waitForFunction(() => /\(\d+\)/.test(document.querySelector('#roster-count')?.textContent || ''));
  });

  await step('C\'s session is revoked elsewhere: the socket closes 4003 and C is asked to sign in', async () => {
    const { access, refresh } = await tokensOf(c);
    const resp = await fetch(`${BASE_URL}/api/v1/auth/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access}` },
      body: new URLSearchParams({ token: refresh, token_type_hint: 'refresh_token' }),
    });
    assert(resp.ok, `revoke answered ${resp.status}`);
    await c.waitForSelector('#auth-view:not([hidden])');
    await c.waitForFunction(() => window.__ws.closes.length > 0);
    const closes = await c.evaluate(() => window.__ws.closes);
    const text = await c.textContent('#auth-error');
    assert(closes.includes(4003), `C's socket closes: ${closes.join(', ')}`);
    assert(/signed out elsewhere/.test(text), `C's sign-in form says: ${text}`);
    assert((await tokensOf(c)) === null, 'C\'s tokens are still stored');
    await waitForMembers(a, [ada.name, linus.name]);
    await shot(c, 'chat-c-session-ended');
  });

  await assertNoProblems();
});
