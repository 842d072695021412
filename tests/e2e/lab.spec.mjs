// The /lab page in Chromium. On a desktop-sized page: one request on each model (sync runs on
// the HTTP worker, blocking on a pool thread, cpu returns a digest); the "last bench results"
// section (the explanatory message and bench command when the server has none, the chart and
// tables when it has some); client-side validation of the live form (no request sent); a live
// comparison (ms=5, concurrency 1 and 4, 0.3 s: a line per model with a point per level, a
// table with numeric req/s, a tooltip on a point); a request the server rejects (the body is
// rewritten past the client's checks: its field errors are shown); a second run while one is
// going (409 shown). Then the same page at phone size: no horizontal scrolling. Any uncaught
// page error, console error, CSP violation, dialog or failed page asset fails the test.
//
// Environment: as lib.mjs, and LAB_RESULTS_EXPECTED=1 (the server has bench results: require
// the results chart instead of accepting either).

import { test, expect } from '@playwright/test';
import { BASE_URL, PHONE, Pages, shot } from './lib.mjs';

test.describe.configure({ mode: 'serial' });

const RESULTS_EXPECTED = process.env.LAB_RESULTS_EXPECTED === '1';
const RUN_TIMEOUT = 40_000; // a live comparison takes a few seconds; allow a slow machine
const MODELS = ['sync', 'blocking', 'async'];
const FULL = { fullPage: true }; // screenshots of the whole page

/** API answers the page expects to be errors (400/409 runs) are not problems. */
function expectedApiError(url, status) {
  const p = new URL(url).pathname;
  return p === '/api/v1/lab/runs' && (status === 400 || status === 409);
}

const WATCH = {
  // Chromium logs every 4xx fetch as "Failed to load resource"; the expected ones are fine
  // (responses are checked below), as is a missing favicon.
  ignoreConsole: (msg, url) => msg.text().startsWith('Failed to load resource') && url.includes('/api/v1/lab/'),
};

const pages = new Pages();

/** A watched page (lib.mjs Pages) on which an unexpected error answer or failed request is a problem too. */
async function openLabPage(browser, who, contextOptions) {
  const page = await pages.open(browser, who, contextOptions, WATCH);
  page.on('response', (resp) => {
    const status = resp.status();
    if (status >= 400 && !expectedApiError(resp.url(), status) && !resp.url().endsWith('/favicon.ico')) {
      pages.problems.push(`${who}: ${resp.request().method()} ${resp.url()} answered ${status}`);
    }
  });
  page.on('requestfailed', (req) => {
    if (!req.url().endsWith('/favicon.ico')) pages.problems.push(`${who}: ${req.method()} ${req.url()} failed: ${req.failure()?.errorText}`);
  });
  return page;
}

const text = (page, sel) => page.locator(sel).textContent().then((t) => (t || '').trim());

async function openLab(page) {
  await page.goto('/lab', { waitUntil: 'domcontentloaded' });
  // The results request has settled one way or the other.
  await expect(page.locator('#results-loading')).toBeHidden();
  await expect(page.locator('#results-missing:not([hidden]), #results-body:not([hidden]), #results-error:not([hidden])')).not.toHaveCount(0);
}

/** Clicks a model's button and waits for that model's answer. */
async function tryModel(page, model) {
  const before = await page.locator('#r-json').textContent();
  await page.click(`[data-testid="try-${model}"]`);
  await expect(page.locator('#r-json'), `${model}'s answer`).not.toHaveText(before || /^$/);
  await expect(page.locator('#try-result')).toBeVisible();
  await expect(page.locator('#try-result')).not.toHaveAttribute('aria-busy');
  await expect(page.locator('#try-error'), `the ${model} request's error`).toBeHidden();
  return {
    model: await text(page, '#r-model'),
    thread: await text(page, '#r-thread .thread-name'),
    threadKind: await text(page, '#r-thread .thread-kind'),
    handler: await text(page, '#r-handler-thread .thread-name'),
    work: await text(page, '#r-work'),
    timings: await page.locator('#r-legend li').allTextContents(),
  };
}

/** The chart inside `figure` has one line per model, each with one point per level. */
async function expectChart(page, figure, levels) {
  const info = await page.evaluate((sel) => {
    const root = document.querySelector(`${sel} svg.lab-svg`);
    if (!root) return null;
    const lines = [...root.querySelectorAll('polyline.series')].map((l) => ({
      model: l.dataset.model,
      points: l.getAttribute('points').trim().split(/\s+/).length,
    }));
    const points = [...root.querySelectorAll('.point')].map((p) => ({
      model: p.dataset.model,
      c: Number(p.dataset.concurrency),
      label: p.getAttribute('aria-label'),
    }));
    const legend = [...document.querySelectorAll(`${sel} .lab-legend li`)].map((li) => li.dataset.model);
    const labels = [...root.querySelectorAll('.axis-label')].map((t) => t.textContent);
    const ticks = [...root.querySelectorAll('.tick')].map((t) => t.textContent);
    return { lines, points, legend, labels, ticks };
  }, figure);
  expect(info, `a chart in ${figure}`).toBeTruthy();
  for (const model of MODELS) {
    const line = info.lines.find((l) => l.model === model);
    expect(line, `${figure}: a line for ${model} (lines: ${JSON.stringify(info.lines)})`).toBeTruthy();
    if (levels) expect(line.points, `${figure}: points of the ${model} line`).toBe(levels.length);
    const pts = info.points.filter((p) => p.model === model);
    expect(pts.length, `${figure}: ${model}'s markers`).toBe(line.points);
    expect(pts.every((p) => /req\/s/.test(p.label || '')), `${figure}: every ${model} point is described`).toBe(true);
    expect(info.legend, `${figure}: the legend`).toContain(model);
  }
  if (levels) for (const c of levels) expect(info.ticks, `${figure}: x ticks`).toContain(String(c));
  expect(info.labels.some((l) => l.startsWith('concurrency')), `${figure}: an x axis label`).toBe(true);
  expect(info.labels.some((l) => l.includes('requests')), `${figure}: a y axis label`).toBe(true);
  return info;
}

/** The table has a row per model and level, each with a numeric req/s. */
async function expectTable(page, sel, expectedRows) {
  const rows = await page.evaluate(
    (s) =>
      [...document.querySelectorAll(`${s} tbody tr`)].map((tr) => ({
        model: tr.dataset.model,
        cells: [...tr.cells].map((c) => c.textContent.trim()),
      })),
    sel,
  );
  if (expectedRows !== undefined) expect(rows.length, `${sel}: rows`).toBe(expectedRows);
  expect(rows.length, `${sel}: rows`).toBeGreaterThan(0);
  const number = (cell) => Number(cell.replace(/,/g, ''));
  for (const r of rows) {
    const rps = number(r.cells[2]);
    expect(Number.isFinite(rps) && rps >= 0, `${sel}: req/s "${r.cells[2]}" is a number (row ${r.cells.join(' | ')})`).toBe(true);
    for (const i of [3, 4, 5]) expect(Number.isFinite(number(r.cells[i])), `${sel}: latency "${r.cells[i]}" is a number`).toBe(true);
  }
  expect(rows.some((r) => number(r.cells[2]) > 0), `${sel}: some req/s above 0 (${rows.map((r) => r.cells.join(' | ')).join('; ')})`).toBe(true);
  return rows;
}

async function fillLive(page, { ms, concurrency, seconds }) {
  await page.fill('#live-ms', String(ms));
  await page.fill('#live-concurrency', String(concurrency));
  await page.fill('#live-seconds', String(seconds));
}

/** Requests the server has answered so far (its own /metrics). */
async function answered() {
  const metrics = await (await fetch(`${BASE_URL}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith('switchboard_http_request_duration_seconds_count'));
  return Number(line.split(' ').at(-1));
}

let page;
let runRequests = 0;
const levels = [1, 4];

test.beforeAll(async ({ browser }) => {
  console.log(`lab e2e against ${BASE_URL}${RESULTS_EXPECTED ? ' (bench results expected)' : ''}`);
  page = await openLabPage(browser, 'desktop', { viewport: { width: 1280, height: 900 } });
});
test.afterEach(() => pages.check());
test.afterAll(() => pages.close());

test('/lab loads under its CSP', async () => {
  await openLab(page);
  await expect(page).toHaveTitle(/Lab/);
  const intro = page.locator('.lab-intro .lead');
  for (const m of MODELS) await expect(intro, 'the introduction').toContainText(m);
});

test('one sync request runs on the HTTP worker', async () => {
  await page.fill('#try-ms', '5');
  const r = await tryModel(page, 'sync');
  expect(r.model, 'the model shown').toBe('sync');
  expect(r.thread.length, 'the thread name shown').toBeGreaterThan(0);
  expect(r.thread, "sync work's thread is the handler's").toBe(r.handler);
  expect(r.threadKind, 'thread kind').toBe('HTTP worker');
  expect(r.work, 'work').toContain('5 ms');
  expect(r.timings.some((t) => /waiting for a pool thread\s+0(\.0+)? ms/.test(t)), `timings ${JSON.stringify(r.timings)}`).toBe(true);
});

test('one blocking request runs on a pool thread', async () => {
  const r = await tryModel(page, 'blocking');
  expect(r.model, 'the model shown').toBe('blocking');
  expect(r.thread, 'the thread of blocking work').toBeTruthy();
  expect(r.thread, "blocking work's thread is not the handler's").not.toBe(r.handler);
  expect(r.threadKind, 'thread kind').toBe('blocking pool');
});

test('one async request and one cpu request', async () => {
  const a = await tryModel(page, 'async');
  expect(a.model, 'the model shown').toBe('async');
  await page.fill('#try-rounds', '20000');
  await page.selectOption('#try-cpu-model', 'blocking');
  const c = await tryModel(page, 'cpu');
  expect(c.model, 'cpu on the pool shows model').toBe('blocking');
  expect(c.work, 'work').toContain('20000 SHA-256');
  await expect(page.locator('#r-digest')).toHaveText(/^\s*[0-9a-f]{64}\s*$/);
  await expect(page.locator('#history tr'), 'rows in the recent requests table').toHaveCount(4);
});

test('an out-of-range ms is caught before any request', async () => {
  await page.fill('#try-ms', '5000');
  await page.click('[data-testid="try-async"]');
  await expect(page.locator('.field-error[data-for="try-ms"]')).toContainText('0 to 1000');
  await page.fill('#try-ms', '5');
});

test(RESULTS_EXPECTED ? 'the last bench results are drawn' : 'the last bench results, or what to run', async () => {
  const missing = await page.locator('#results-missing').isVisible();
  if (missing && !RESULTS_EXPECTED) {
    await expect(page.locator('#results-missing-text')).toHaveText(/no bench results/i);
    await expect(page.locator('#results-command')).toHaveText(/^\s*switchboard bench[\s\S]*lab/);
    return;
  }
  expect(missing, 'LAB_RESULTS_EXPECTED=1 but the page says there are none').toBe(false);
  await expect(page.locator('#results-body'), `results shown (error: ${await text(page, '#results-error')})`).toBeVisible();
  await expectChart(page, '#results-chart');
  await expectTable(page, '#results-table');
  await page.click('[data-testid="results-metric-p99"]');
  await expect(page.locator('#results-chart svg[data-metric="p99"]')).toBeVisible();
  await page.click('[data-testid="results-metric-rps"]');
  await expect(page.locator('#results-chart svg[data-metric="rps"]')).toBeVisible();
});

test('invalid live settings are caught before any request', async () => {
  page.on('request', (req) => {
    if (req.url().endsWith('/api/v1/lab/runs')) runRequests += 1;
  });
  await fillLive(page, { ms: 5, concurrency: '1, 4, x', seconds: 5 });
  await page.click('#live-run');
  await expect(page.locator('[data-testid="error-concurrency"]')).toBeVisible();
  await expect(page.locator('[data-testid="error-seconds"]')).toBeVisible();
  expect(runRequests, 'requests with invalid settings').toBe(0);
  await expect(page.locator('#live-seconds')).toHaveAttribute('aria-invalid', 'true');
});

test('a live comparison (ms=5, c=1,4, 0.3 s) draws a line per model', async () => {
  await fillLive(page, { ms: 5, concurrency: '4, 1', seconds: 0.3 });
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/lab/runs'), { timeout: RUN_TIMEOUT });
  await page.click('#live-run');
  await expect(page.locator('#live-progress')).toBeVisible();
  await expect(page.locator('#live-run'), 'the run button while running').toBeDisabled();
  await expect(page.locator('#live-ms'), 'the inputs while running').toBeDisabled();
  const resp = await answer;
  expect(resp.status(), 'POST /api/v1/lab/runs').toBe(200);
  expect(JSON.parse(resp.request().postData()), 'the settings sent').toEqual({ ms: 5, concurrency: levels, seconds: 0.3 });
  await expect(page.locator('#live-body')).toBeVisible({ timeout: RUN_TIMEOUT });
  await expect(page.locator('#live-progress')).toBeHidden();
  await expect(page.locator('#live-run'), 'the run button after the run').toBeEnabled();
  await expectChart(page, '#live-chart', levels);
  const rows = await expectTable(page, '#live-table', MODELS.length * levels.length);
  for (const m of MODELS) expect(rows.filter((r) => r.model === m).length, `table rows for ${m}`).toBe(levels.length);
  // Errors would mean the load was refused (a 429 from the rate limit, say): req/s then
  // measures the limiter, not the models.
  const failed = rows.filter((r) => r.cells[7] !== '0');
  expect(failed.map((r) => r.cells.join(' | ')), 'rows with failed requests during the live run').toEqual([]);
  await expect(page.locator('#live-chart [data-testid="ideal-line"]'), 'the ideal line').toHaveCount(1);
});

test('hovering a point shows its numbers', async () => {
  await page.locator('#live-chart .point[data-model="async"]').last().hover();
  await expect(page.locator('#tooltip')).toBeVisible();
  await expect(page.locator('#tooltip strong')).toHaveText('4 connections');
  const rows = await page.locator('#tooltip .tip-row').allTextContents();
  expect(rows.length, `tooltip rows ${JSON.stringify(rows)}`).toBe(MODELS.length);
  expect(rows[0], 'the first tooltip row').toMatch(/^async/);
  for (const m of MODELS) expect(rows.some((r) => r.startsWith(m) && /req\/s.*p99/.test(r)), `the tooltip's row for ${m}: ${JSON.stringify(rows)}`).toBe(true);
  await page.mouse.move(2, 2);
});

test("the server's field errors are shown (client checks bypassed)", async () => {
  await page.route('**/api/v1/lab/runs', (route) => route.continue({ postData: JSON.stringify({ ms: 500, concurrency: [0, 4], seconds: 9 }) }));
  try {
    await fillLive(page, { ms: 5, concurrency: '1', seconds: 0.2 });
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/lab/runs'));
    await page.click('#live-run');
    expect((await answer).status(), 'the rewritten body').toBe(400);
    await expect(page.locator('#live-error')).toBeVisible();
    await expect(page.locator('#live-error')).toContainText('rejected');
    for (const field of ['ms', 'concurrency', 'seconds']) {
      await expect(page.locator(`[data-testid="error-${field}"]`), `the server's message under ${field}`).toHaveText(/^\s*must be/);
    }
    await expect(page.locator('#live-run'), 'the run button after a 400').toBeEnabled();
  } finally {
    await page.unroute('**/api/v1/lab/runs');
  }
});

test('a run while another is going shows "busy" (409)', async () => {
  // Another client starts a run (2 s a case), then the page asks for one once the other
  // run's load reaches the server (its request count climbs past this test's own polls).
  const start = await answered();
  let polls = 0;
  const other = fetch(`${BASE_URL}/api/v1/lab/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ms: 0, concurrency: [1], seconds: 2 }),
  }).then((r) => r.status);
  await expect
    .poll(
      async () => {
        polls += 1;
        return (await answered()) - start - polls;
      },
      { message: "requests of the other run's load answered" },
    )
    .toBeGreaterThan(20);
  await fillLive(page, { ms: 5, concurrency: '1', seconds: 0.2 });
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/lab/runs'));
  await page.click('#live-run');
  expect((await answer).status(), "the page's run while the other goes on").toBe(409);
  await expect(page.locator('#live-error')).toBeVisible({ timeout: RUN_TIMEOUT });
  await expect(page.locator('#live-error')).toHaveText(/busy|running/i);
  await expect(page.locator('.field-error:visible'), 'field errors left over from the last attempt').toHaveCount(0);
  expect(await other, 'the other run').toBe(200);
  await pages.check();
  await shot(page, 'lab-desktop', FULL);
});

test('the page fits a phone screen', async ({ browser }) => {
  const phone = await openLabPage(browser, 'phone', { ...PHONE, deviceScaleFactor: 2 });
  await openLab(phone);
  await phone.fill('#try-ms', '5');
  const r = await tryModel(phone, 'async');
  expect(r.model, 'the model shown').toBe('async');
  if (await phone.locator('#results-body').isVisible()) await expectChart(phone, '#results-chart');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, 'sideways scroll on a phone (px)').toBeLessThanOrEqual(0);
  const svgRight = await phone.evaluate(() => {
    const s = document.querySelector('#results-chart svg');
    return s ? s.getBoundingClientRect().right : 0;
  });
  expect(svgRight, "the chart's right edge (px)").toBeLessThanOrEqual(375);
  await shot(phone, 'lab-phone', FULL);
});
