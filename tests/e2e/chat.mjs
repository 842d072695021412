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
// SCREENSHOT_DIR (optional: PNGs of both pages are saved there).

import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
const TIMEOUT = 10_000;
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const tag = randomBytes(4).toString('hex');
const ROOM = `e2e-${tag}`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const XSS = '<b>x</b><img src=x onerror=alert(1)>';

let currentStep = 'start';
const problems = []; // page errors, dialogs, failed requests: any is a failure

async function step(name, fn) {
  currentStep = name;
  const started = Date.now();
  await fn();
  console.log(`  ok  ${name} (${Date.now() - started} ms)`);
}

async function shot(page, name) {
  if (!SCREENSHOT_DIR) return;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}

function watch(page, who) {
  page.on('pageerror', (err) => problems.push(`${who}: uncaught error in the page: ${err.message}`));
  page.on('dialog', async (dialog) => {
    problems.push(`${who}: a ${dialog.type()} dialog opened (${dialog.message()}): HTML in a message was executed`);
    await dialog.dismiss().catch(() => {});
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.location().url.endsWith('/favicon.ico')) console.log(`  [${who} console] ${msg.text()}`);
  });
}

function assertNoProblems() {
  if (problems.length) throw new Error(problems.join('\n'));
}

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

async function main() {
  console.log(`switchboard chat e2e against ${BASE_URL} (room ${ROOM})`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const pages = [];
  try {
    const ada = { name: `Ada ${tag}`, email: `ada-${tag}@example.com` };
    const linus = { name: `Linus ${tag}`, email: `linus-${tag}@example.com` };

    const ctxA = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const ctxB = await browser.newContext({ viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true });
    const a = await ctxA.newPage();
    const b = await ctxB.newPage();
    pages.push(['a', a], ['b', b]);
    watch(a, 'A');
    watch(b, 'B');
    a.setDefaultTimeout(TIMEOUT);
    b.setDefaultTimeout(TIMEOUT);

    await step('A registers through /chat and connects', () => register(a, ada));
    await step('B registers through /chat and connects', () => register(b, linus));
    await step(`A joins #${ROOM}`, () => joinRoom(a, ROOM));
    await step(`B joins #${ROOM}`, () => joinRoom(b, ROOM));

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
      assertNoProblems();
    });

    await shot(a, 'chat-a-desktop');
    await shot(b, 'chat-b-phone');
    assertNoProblems();
    console.log('PASS: chat e2e');
    return 0;
  } catch (err) {
    console.error(`FAIL at step "${currentStep}": ${err && err.message ? err.message.split('\n')[0] : err}`);
    if (problems.length) console.error(problems.map((p) => `  - ${p}`).join('\n'));
    for (const [name, page] of pages) await shot(page, `failure-${name}`).catch(() => {});
    return 1;
  } finally {
    await browser.close().catch(() => {});
  }
}

const watchdog = setTimeout(() => {
  console.error(`FAIL: the test did not finish within 120 s (last step: ${currentStep})`);
  process.exit(1);
}, 120_000);

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exit(code);
  },
  (err) => {
    console.error(`FAIL: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
