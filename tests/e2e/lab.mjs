// End-to-end test of the /lab page in a real browser (playwright-core + system Chromium).
//
//   BASE_URL=http://127.0.0.1:8080 node lab.mjs
//
// Checks, on a desktop-sized page: one request on each model (sync runs on the HTTP worker,
// blocking on a pool thread, cpu returns a digest); the "last bench results" section (the
// explanatory message and bench command when the server has none, the chart and tables when
// it has some); client-side validation of the live form (no request sent); a live comparison
// (ms=5, concurrency 1 and 4, 0.3 s: a line per model with a point per level, a table with
// numeric req/s, a tooltip on a point); a request the server rejects (the body is rewritten
// past the client's checks: its field errors are shown); a second run while one is going
// (409 shown). Then the same page at phone size: no horizontal scrolling. Any uncaught page
// error, console error, CSP violation, dialog or failed page asset fails the test.
// Exit status 0 on success, 1 on failure.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (optional: PNGs of both pages are saved there), LAB_RESULTS_EXPECTED=1
// (the server has bench results: require the results chart instead of accepting either).

import { BASE_URL, PHONE, step, shot, assert, assertNoProblems, openPage, problems, run } from './lib.mjs';

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

/** A watched page (lib.mjs openPage) on which an unexpected error answer or failed request is a problem too. */
async function openLabPage(browser, pages, who, contextOptions) {
  const page = await openPage(browser, pages, who, contextOptions, WATCH);
  page.on('response', (resp) => {
    const status = resp.status();
    if (status >= 400 && !expectedApiError(resp.url(), status) && !resp.url().endsWith('/favicon.ico')) {
      problems.push(`${who}: ${resp.request().method()} ${resp.url()} answered ${status}`);
    }
  });
  page.on('requestfailed', (req) => {
    if (!req.url().endsWith('/favicon.ico')) problems.push(`${who}: ${req.method()} ${req.url()} failed: ${req.failure()?.errorText}`);
  });
  return page;
}

const text = (page, sel) => page.locator(sel).textContent().then((t) => (t || '').trim());

async function openLab(page) {
  await page.goto(`${BASE_URL}/lab`, { waitUntil: 'domcontentloaded' });
  // The results request has settled one way or the other.
  await page.waitForFunction(
    () =>
      document.querySelector('#results-loading')?.hidden &&
      (!document.querySelector('#results-missing').hidden ||
        !document.querySelector('#results-body').hidden ||
        !document.querySelector('#results-error').hidden),
  );
}

/** Clicks a model's button and waits for that model's answer. */
async function tryModel(page, model) {
  const before = await page.locator('#r-json').textContent();
  await page.click(`[data-testid="try-${model}"]`);
  await page.waitForFunction(
    (prev) => {
      const json = document.querySelector('#r-json')?.textContent;
      return json && json !== prev && !document.querySelector('#try-result').hidden && !document.querySelector('#try-result').hasAttribute('aria-busy');
    },
    before,
  );
  const err = await page.locator('#try-error').isVisible();
  assert(!err, `the ${model} request failed: ${await text(page, '#try-error')}`);
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
async function assertChart(page, figure, levels) {
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
  assert(info, `no chart in ${figure}`);
  for (const model of MODELS) {
    const line = info.lines.find((l) => l.model === model);
    assert(line, `${figure}: no line for ${model} (lines: ${JSON.stringify(info.lines)})`);
    if (levels) assert(line.points === levels.length, `${figure}: the ${model} line has ${line.points} points, expected ${levels.length}`);
    const pts = info.points.filter((p) => p.model === model);
    assert(pts.length === line.points, `${figure}: ${model} has ${pts.length} markers for ${line.points} points`);
    assert(pts.every((p) => /req\/s/.test(p.label || '')), `${figure}: a ${model} point has no description`);
    assert(info.legend.includes(model), `${figure}: the legend lacks ${model}`);
  }
  if (levels) {
    for (const c of levels) assert(info.ticks.includes(String(c)), `${figure}: no x tick for concurrency ${c}`);
  }
  assert(info.labels.some((l) => l.startsWith('concurrency')), `${figure}: no x axis label`);
  assert(info.labels.some((l) => l.includes('requests')), `${figure}: no y axis label`);
  return info;
}

/** The table has a row per model and level, each with a numeric req/s. */
async function assertTable(page, sel, expectedRows) {
  const rows = await page.evaluate(
    (s) =>
      [...document.querySelectorAll(`${s} tbody tr`)].map((tr) => ({
        model: tr.dataset.model,
        cells: [...tr.cells].map((c) => c.textContent.trim()),
      })),
    sel,
  );
  if (expectedRows !== undefined) assert(rows.length === expectedRows, `${sel}: ${rows.length} rows, expected ${expectedRows}`);
  assert(rows.length > 0, `${sel}: the table is empty`);
  for (const r of rows) {
    const rps = Number(r.cells[2].replace(/,/g, ''));
    assert(Number.isFinite(rps) && rps >= 0, `${sel}: req/s "${r.cells[2]}" is not a number (row ${r.cells.join(' | ')})`);
    for (const i of [3, 4, 5]) assert(Number.isFinite(Number(r.cells[i].replace(/,/g, ''))), `${sel}: latency "${r.cells[i]}" is not a number`);
  }
  assert(
    rows.some((r) => Number(r.cells[2].replace(/,/g, '')) > 0),
    `${sel}: every req/s is 0 (${rows.map((r) => r.cells.join(' | ')).join('; ')})`,
  );
  return rows;
}

async function fillLive(page, { ms, concurrency, seconds }) {
  await page.fill('#live-ms', String(ms));
  await page.fill('#live-concurrency', String(concurrency));
  await page.fill('#live-seconds', String(seconds));
}

console.log(`switchboard lab e2e against ${BASE_URL}${RESULTS_EXPECTED ? ' (bench results expected)' : ''}`);
run({ name: 'lab', seconds: 150, fullPage: true }, async (browser, pages) => {
  const page = await openLabPage(browser, pages, 'desktop', { viewport: { width: 1280, height: 900 } });

  await step('/lab loads under its CSP', async () => {
    await openLab(page);
    const title = await page.title();
    assert(title.includes('Lab'), `unexpected title ${title}`);
    const intro = await text(page, '.lab-intro .lead');
    for (const m of MODELS) assert(intro.includes(m), `the introduction does not mention ${m}`);
  });

  await step('one sync request runs on the HTTP worker', async () => {
    await page.fill('#try-ms', '5');
    const r = await tryModel(page, 'sync');
    assert(r.model === 'sync', `model shown is "${r.model}"`);
    assert(r.thread.length > 0, 'no thread name shown');
    assert(r.thread === r.handler, `sync work ran on "${r.thread}", not the handler's thread "${r.handler}"`);
    assert(r.threadKind === 'HTTP worker', `thread kind "${r.threadKind}"`);
    assert(r.work.includes('5 ms'), `work "${r.work}"`);
    assert(r.timings.some((t) => /waiting for a pool thread\s+0(\.0+)? ms/.test(t)), `timings ${JSON.stringify(r.timings)}`);
  });

  await step('one blocking request runs on a pool thread', async () => {
    const r = await tryModel(page, 'blocking');
    assert(r.model === 'blocking', `model shown is "${r.model}"`);
    assert(r.thread && r.thread !== r.handler, `blocking work ran on the handler's thread "${r.thread}"`);
    assert(r.threadKind === 'blocking pool', `thread kind "${r.threadKind}"`);
  });

  await step('one async request and one cpu request', async () => {
    const a = await tryModel(page, 'async');
    assert(a.model === 'async', `model shown is "${a.model}"`);
    await page.fill('#try-rounds', '20000');
    await page.selectOption('#try-cpu-model', 'blocking');
    const c = await tryModel(page, 'cpu');
    assert(c.model === 'blocking', `cpu on the pool shows model "${c.model}"`);
    assert(c.work.includes('20000 SHA-256'), `work "${c.work}"`);
    const digest = await text(page, '#r-digest');
    assert(/^[0-9a-f]{64}$/.test(digest), `digest "${digest}"`);
    const rows = await page.locator('#history tr').count();
    assert(rows === 4, `${rows} rows in the recent requests table, expected 4`);
  });

  await step('an out-of-range ms is caught before any request', async () => {
    await page.fill('#try-ms', '5000');
    await page.click('[data-testid="try-async"]');
    const msg = await text(page, '.field-error[data-for="try-ms"]');
    assert(msg.includes('0 to 1000'), `field error "${msg}"`);
    await page.fill('#try-ms', '5');
  });

  await step(RESULTS_EXPECTED ? 'the last bench results are drawn' : 'the last bench results, or what to run', async () => {
    const missing = await page.locator('#results-missing').isVisible();
    if (missing && !RESULTS_EXPECTED) {
      const msg = await text(page, '#results-missing-text');
      assert(/no bench results/i.test(msg), `message "${msg}"`);
      const cmd = await text(page, '#results-command');
      assert(cmd.startsWith('switchboard bench') && cmd.includes('lab'), `command "${cmd}"`);
      return;
    }
    assert(!missing, 'LAB_RESULTS_EXPECTED=1 but the page says there are none');
    assert(await page.locator('#results-body').isVisible(), `no results shown: ${await text(page, '#results-error')}`);
    await assertChart(page, '#results-chart');
    await assertTable(page, '#results-table');
    await page.click('[data-testid="results-metric-p99"]');
    await page.waitForSelector('#results-chart svg[data-metric="p99"]');
    await page.click('[data-testid="results-metric-rps"]');
    await page.waitForSelector('#results-chart svg[data-metric="rps"]');
  });

  let runRequests = 0;
  page.on('request', (req) => {
    if (req.url().endsWith('/api/v1/lab/runs')) runRequests += 1;
  });

  await step('invalid live settings are caught before any request', async () => {
    await fillLive(page, { ms: 5, concurrency: '1, 4, x', seconds: 5 });
    await page.click('#live-run');
    await page.locator('[data-testid="error-concurrency"]').waitFor({ state: 'visible' });
    await page.locator('[data-testid="error-seconds"]').waitFor({ state: 'visible' });
    assert(runRequests === 0, 'the page sent invalid settings to the server');
    assert((await page.getAttribute('#live-seconds', 'aria-invalid')) === 'true', 'the seconds input is not marked invalid');
  });

  const levels = [1, 4];
  await step('a live comparison (ms=5, c=1,4, 0.3 s) draws a line per model', async () => {
    await fillLive(page, { ms: 5, concurrency: '4, 1', seconds: 0.3 });
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/lab/runs'), { timeout: RUN_TIMEOUT });
    await page.click('#live-run');
    await page.locator('#live-progress').waitFor({ state: 'visible' });
    assert(await page.locator('#live-run').isDisabled(), 'the run button is not disabled while running');
    assert(await page.locator('#live-ms').isDisabled(), 'the inputs are not disabled while running');
    const resp = await answer;
    assert(resp.status() === 200, `POST /api/v1/lab/runs answered ${resp.status()}`);
    const sent = JSON.parse(resp.request().postData());
    assert(JSON.stringify(sent) === JSON.stringify({ ms: 5, concurrency: levels, seconds: 0.3 }), `sent ${JSON.stringify(sent)}`);
    await page.locator('#live-body').waitFor({ state: 'visible', timeout: RUN_TIMEOUT });
    await page.locator('#live-progress').waitFor({ state: 'hidden' });
    assert(!(await page.locator('#live-run').isDisabled()), 'the run button stays disabled');
    await assertChart(page, '#live-chart', levels);
    const rows = await assertTable(page, '#live-table', MODELS.length * levels.length);
    for (const m of MODELS) assert(rows.filter((r) => r.model === m).length === levels.length, `table rows for ${m}`);
    // Errors would mean the load was refused (a 429 from the rate limit, say): req/s then
    // measures the limiter, not the models.
    const failed = rows.filter((r) => r.cells[7] !== '0');
    assert(!failed.length, `requests failed during the live run: ${failed.map((r) => r.cells.join(' | ')).join('; ')}`);
    const ideal = await page.locator('#live-chart [data-testid="ideal-line"]').count();
    assert(ideal === 1, 'no ideal line');
  });

  await step('hovering a point shows its numbers', async () => {
    await page.locator('#live-chart .point[data-model="async"]').last().hover();
    await page.locator('#tooltip').waitFor({ state: 'visible' });
    const title = await text(page, '#tooltip strong');
    const rows = await page.locator('#tooltip .tip-row').allTextContents();
    assert(title === '4 connections', `tooltip title "${title}"`);
    assert(rows.length === MODELS.length && rows[0].startsWith('async'), `tooltip rows ${JSON.stringify(rows)}`);
    for (const m of MODELS) assert(rows.some((r) => r.startsWith(m) && /req\/s.*p99/.test(r)), `the tooltip lacks ${m}: ${JSON.stringify(rows)}`);
    await page.mouse.move(2, 2);
  });

  await step("the server's field errors are shown (client checks bypassed)", async () => {
    await page.route('**/api/v1/lab/runs', (route) =>
      route.continue({ postData: JSON.stringify({ ms: 500, concurrency: [0, 4], seconds: 9 }) }),
    );
    try {
      await fillLive(page, { ms: 5, concurrency: '1', seconds: 0.2 });
      const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/lab/runs'));
      await page.click('#live-run');
      const resp = await answer;
      assert(resp.status() === 400, `the rewritten body answered ${resp.status()}`);
      await page.locator('#live-error').waitFor({ state: 'visible' });
      const summary = await text(page, '#live-error');
      assert(summary.includes('rejected'), `error summary "${summary}"`);
      for (const field of ['ms', 'concurrency', 'seconds']) {
        const msg = await text(page, `[data-testid="error-${field}"]`);
        assert(msg.startsWith('must be'), `no server message under ${field} ("${msg}")`);
      }
      assert(!(await page.locator('#live-run').isDisabled()), 'the run button stays disabled after a 400');
    } finally {
      await page.unroute('**/api/v1/lab/runs');
    }
  });

  await step('a run while another is going shows "busy" (409)', async () => {
    // Another client starts a run (2 s a case), then the page asks for one.
    const other = page.evaluate(() =>
      fetch('/api/v1/lab/runs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ms: 0, concurrency: [1], seconds: 2 }),
      }).then((r) => r.status),
    );
    await page.waitForTimeout(400);
    await fillLive(page, { ms: 5, concurrency: '1', seconds: 0.2 });
    await page.click('#live-run');
    await page.locator('#live-error').waitFor({ state: 'visible', timeout: RUN_TIMEOUT });
    const msg = await text(page, '#live-error');
    assert(/busy|running/i.test(msg), `error "${msg}"`);
    assert((await page.locator('.field-error:visible').count()) === 0, 'field errors left over from the last attempt');
    const status = await other;
    assert(status === 200, `the other run answered ${status}`);
  });

  await assertNoProblems(pages);
  await shot(page, 'lab-desktop', FULL);

  const phone = await openLabPage(browser, pages, 'phone', { ...PHONE, deviceScaleFactor: 2 });

  await step('the page fits a phone screen', async () => {
    await openLab(phone);
    await phone.fill('#try-ms', '5');
    const r = await tryModel(phone, 'async');
    assert(r.model === 'async', `model shown is "${r.model}"`);
    if (await phone.locator('#results-body').isVisible()) await assertChart(phone, '#results-chart');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert(overflow <= 0, `the page scrolls sideways by ${overflow} px on a phone`);
    const svgWidth = await phone.evaluate(() => {
      const s = document.querySelector('#results-chart svg');
      return s ? s.getBoundingClientRect().right : 0;
    });
    assert(svgWidth <= 375, `the chart is wider than the screen (${svgWidth} px)`);
  });

  await shot(phone, 'lab-phone', FULL);
  await assertNoProblems(pages);
});
