// End-to-end test of the /chat page in a real browser (playwright-core + system Chromium).
//
//   BASE_URL=http://127.0.0.1:8080 node chat.mjs
//
// Two browser contexts (a desktop one and a phone-sized one) each register a new user
// through the page, join the same new room, and talk to each other. Checks: messages arrive
// both ways and are acknowledged, presence lists both users, the typing indicator shows,
// and a message full of HTML is shown as literal text. Exit status 0 on success, 1 on failure.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (optional: PNGs of both pages are saved there), ADMIN_EMAIL and
// ADMIN_PASSWORD (optional: an admin then watches /dashboard count the messages).

import { randomBytes } from 'node:crypto';
import { BASE_URL, TIMEOUT, PHONE, step, shot, watch, assertNoProblems, run } from './lib.mjs';

const tag = randomBytes(4).toString('hex');
const ROOM = `e2e-${tag}`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const XSS = '<b>x</b><img src=x onerror=alert(1)>';

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

async function send(page, text) {
  await page.fill('#message-input', text);
  await page.click('#send');
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
    await a.waitForTimeout(300); // an onerror handler would have fired by now
    await assertNoProblems();
  });

  await shot(a, 'chat-a-desktop');
  await shot(b, 'chat-b-phone');
  await assertNoProblems();
});
