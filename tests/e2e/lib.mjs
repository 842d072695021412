// What the browser specs (chat, session, graphiql, lab) share: the server's address, the
// phone context, the in-page probes, the problems that fail a test (uncaught page errors,
// dialogs, console errors, CSP violations) and optional screenshots. Chromium, timeouts and
// failure artifacts are playwright.config.mjs's.
//
// Environment: BASE_URL (as the config), SCREENSHOT_DIR (optional: PNGs of the pages at the
// points the specs name are saved there).

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from '@playwright/test';

/** For requests made outside the pages (Node's fetch); pages use the config's baseURL. */
export const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
export const TIMEOUT = 10_000;

/** A phone-sized browser context. */
export const PHONE = { viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true };

/** A locator's elements whose whole text is `text` (whitespace as Playwright normalizes it). */
export const exactly = (text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Saves a PNG of the page when SCREENSHOT_DIR is set (`fullPage`: all of it, from the top). */
export async function shot(page, name, { fullPage = false } = {}) {
  if (!SCREENSHOT_DIR) return;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0)).catch(() => {});
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage });
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

/**
 * The pages of one spec file (they live across its serial tests) and what went wrong in
 * them. `open` makes a page in a new context with the given init scripts (`probes`) and
 * watches it; `check` fails the running test on any problem so far (a spec calls it after
 * each test), counting the CSP violations the CSP probe recorded.
 */
export class Pages {
  constructor() {
    this.problems = [];
    this.pages = [];
    this.contexts = [];
  }

  async open(browser, who, contextOptions = {}, { probes = [CSP_PROBE], ...watchOptions } = {}) {
    const ctx = await browser.newContext(contextOptions);
    for (const probe of probes) await ctx.addInitScript(probe);
    const page = await ctx.newPage();
    this.contexts.push(ctx);
    this.pages.push([who, page]);
    this.watch(page, who, watchOptions);
    page.setDefaultTimeout(TIMEOUT);
    return page;
  }

  /**
   * Records a page's uncaught errors, dialogs (`dialogNote` says what one means) and console
   * errors as problems. Console errors are only printed with `consoleErrors: 'log'`;
   * `ignoreConsole(msg, url)` passes over expected ones; a missing favicon never counts.
   */
  watch(page, who, { dialogNote = '', consoleErrors = 'fail', ignoreConsole = () => false } = {}) {
    page.on('pageerror', (err) => this.problems.push(`${who}: uncaught error in the page: ${err.message}`));
    page.on('dialog', async (dialog) => {
      this.problems.push(`${who}: a ${dialog.type()} dialog opened (${dialog.message()})${dialogNote ? `: ${dialogNote}` : ''}`);
      await dialog.dismiss().catch(() => {});
    });
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const url = msg.location().url || '';
      if (url.endsWith('/favicon.ico') || ignoreConsole(msg, url)) return;
      if (consoleErrors === 'log') console.log(`  [${who} console] ${msg.text()}`);
      else this.problems.push(`${who}: console error: ${msg.text()}`);
    });
  }

  async check() {
    for (const [who, page] of this.pages) {
      const csp = await page.evaluate(() => window.__csp || []).catch(() => []);
      for (const v of csp) this.problems.push(`${who}: CSP violation: ${v}`);
      await page.evaluate(() => window.__csp && window.__csp.splice(0)).catch(() => {});
    }
    const found = this.problems.splice(0);
    expect(found, 'uncaught errors, dialogs, console errors or CSP violations in the pages').toEqual([]);
  }

  async close() {
    for (const ctx of this.contexts) await ctx.close().catch(() => {});
  }
}
