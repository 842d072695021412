// What the browser tests (chat.mjs, session.mjs, graphiql.mjs, lab.mjs) share: settings from the
// environment, the Chromium launch, steps, the problems that fail a test (uncaught page
// errors, dialogs, console errors, CSP violations), screenshots, and the run that turns it
// all into an exit status (0 on success, 1 on failure, with a watchdog).
//
// Environment: BASE_URL (default http://127.0.0.1:8080), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (optional: PNGs of the pages are saved there).

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
export const TIMEOUT = 10_000;
export const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A phone-sized browser context. */
export const PHONE = { viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true };

let currentStep = 'start';
export const problems = []; // any is a failure

export async function step(name, fn) {
  currentStep = name;
  const started = Date.now();
  await fn();
  console.log(`  ok  ${name} (${Date.now() - started} ms)`);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Saves a PNG of the page when SCREENSHOT_DIR is set (`fullPage`: all of it, from the top). */
export async function shot(page, name, { fullPage = false } = {}) {
  if (!SCREENSHOT_DIR) return;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0)).catch(() => {});
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage });
}

/**
 * Records a page's uncaught errors, dialogs (`dialogNote` says what one means) and console
 * errors as problems. Console errors are only printed with `consoleErrors: 'log'`;
 * `ignoreConsole(msg, url)` passes over expected ones; a missing favicon never counts.
 */
export function watch(page, who, { dialogNote = '', consoleErrors = 'fail', ignoreConsole = () => false } = {}) {
  page.on('pageerror', (err) => problems.push(`${who}: uncaught error in the page: ${err.message}`));
  page.on('dialog', async (dialog) => {
    problems.push(`${who}: a ${dialog.type()} dialog opened (${dialog.message()})${dialogNote ? `: ${dialogNote}` : ''}`);
    await dialog.dismiss().catch(() => {});
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location().url || '';
    if (url.endsWith('/favicon.ico') || ignoreConsole(msg, url)) return;
    if (consoleErrors === 'log') console.log(`  [${who} console] ${msg.text()}`);
    else problems.push(`${who}: console error: ${msg.text()}`);
  });
}

/** Records CSP violations in the page (window.__csp), from before any script of the page runs. */
export const CSP_PROBE = () => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile || '?'}:${e.lineNumber || 0})`);
  });
};

/**
 * Wraps the page's WebSocket (before any script of the page runs) so a test can watch and
 * break connections without hooks in the page: window.__ws counts `opened` sockets, keeps
 * `sockets`, the `closes` codes, the text frames `sent` and the last 200 `received`
 * (with the time, `at`); `dropAfterSend(text)` (set by the
 * test) closes the socket (1000) right after a frame it answers true for, as a connection
 * lost before the server's answer; `swallow(text)` drops outgoing frames it answers true for.
 */
export const SOCKET_PROBE = () => {
  const Native = window.WebSocket;
  const probe = { opened: 0, sockets: [], closes: [], sent: [], received: [], dropAfterSend: null, swallow: null };
  window.__ws = probe;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      probe.sockets.push(this);
      this.addEventListener('open', () => {
        probe.opened += 1;
      });
      this.addEventListener('close', (e) => probe.closes.push(e.code));
      this.addEventListener('message', (e) => {
        probe.received.push({ at: Date.now(), data: typeof e.data === 'string' ? e.data : '(binary)' });
        if (probe.received.length > 200) probe.received.shift();
      });
    }

    send(data) {
      if (typeof data === 'string') {
        if (probe.swallow && probe.swallow(data)) return;
        probe.sent.push(data);
      }
      super.send(data);
      if (typeof data === 'string' && probe.dropAfterSend && probe.dropAfterSend(data)) {
        probe.dropAfterSend = null;
        this.close(1000, 'dropped by the test');
      }
    }
  };
};

/** Throws if anything went wrong so far, counting the CSP violations recorded in `pages`. */
export async function assertNoProblems(pages = []) {
  for (const [who, page] of pages) {
    const csp = await page.evaluate(() => window.__csp || []).catch(() => []);
    for (const v of csp) problems.push(`${who}: CSP violation: ${v}`);
  }
  if (problems.length) throw new Error(problems.join('\n'));
}

/**
 * A page in a new browser context with the CSP probe, watched as `who` (with `watchOptions`),
 * added to `pages` (screenshots on failure, CSP checks).
 */
export async function openPage(browser, pages, who, contextOptions, watchOptions) {
  const ctx = await browser.newContext(contextOptions);
  await ctx.addInitScript(CSP_PROBE);
  const page = await ctx.newPage();
  pages.push([who, page]);
  watch(page, who, watchOptions);
  page.setDefaultTimeout(TIMEOUT);
  return page;
}

/**
 * Runs `body(browser, pages)` in a fresh Chromium and exits: 0 when it returns (after
 * printing `PASS: <name> e2e`), 1 when it throws or takes more than `seconds`. On a failure,
 * each page in `pages` is saved as `<failurePrefix><its name>` (see shot and `fullPage`).
 */
export function run({ name, seconds = 120, failurePrefix = 'failure-', fullPage = false }, body) {
  const watchdog = setTimeout(() => {
    console.error(`FAIL: the test did not finish within ${seconds} s (last step: ${currentStep})`);
    process.exit(1);
  }, seconds * 1000);

  const main = async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    const pages = [];
    try {
      await body(browser, pages);
      console.log(`PASS: ${name} e2e`);
      return 0;
    } catch (err) {
      console.error(`FAIL at step "${currentStep}": ${err && err.message ? err.message.split('\n')[0] : err}`);
      if (problems.length) console.error(problems.map((p) => `  - ${p}`).join('\n'));
      for (const [who, page] of pages) await shot(page, `${failurePrefix}${who}`, { fullPage }).catch(() => {});
      return 1;
    } finally {
      await browser.close().catch(() => {});
    }
  };

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
}
