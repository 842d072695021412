// End-to-end test of the /graphiql page (the real GraphiQL, vendored in static/vendor/graphiql/)
// in a real browser (playwright-core + system Chromium).
//
//   BASE_URL=http://127.0.0.1:8080 node graphiql.mjs
//
// A desktop context loads the page and checks: every script and style comes from this server;
// GraphiQL mounts and its docs explorer shows the schema read by introspection (root types,
// Query's fields with their descriptions, navigation to a type, search); the default example
// query runs and shows real data, anonymously; a query that does not validate and one that is
// refused show their errors (extensions.code); the settings dialog opens (GraphiQL's one
// inline <style>, allowed by its hash in the page's CSP); signing in through the page sends
// `Authorization: Bearer` (me, a mutation with variables chosen from GraphiQL's operation
// menu); a messageAdded subscription, over graphql-ws with the token in connection_init,
// shows a message posted over HTTP while it runs (HTML in it as text), and stopping it sends
// `complete`; Sign out goes back to anonymous requests. A phone-sized context runs the default
// query with the response under the editor, opens the docs over the whole width, and must
// not scroll sideways. Any uncaught error, console error, dialog or CSP violation is a failure.
// Exit status 0 on success, 1 on failure.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (optional: PNGs of both pages are saved there).

import { randomBytes } from 'node:crypto';
import { BASE_URL, TIMEOUT, PHONE, SOCKET_PROBE, step, shot, assert, assertNoProblems, openPage, run } from './lib.mjs';

const tag = randomBytes(4).toString('hex');
const ROOM = `gql-${tag}`;
const USER = { name: `Grace ${tag}`, email: `grace-${tag}@example.com`, password: `pw-${randomBytes(6).toString('hex')}` };
const XSS = `<b>x</b><img src=x onerror=alert(1)> ${tag}`;

/** Dialogs mean server text was run as HTML; console errors fail the test too. */
const WATCH = { dialogNote: 'HTML from the server was executed' };

const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const VARIABLES_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
const RESPONSE = '.graphiql-response .CodeMirror';
const RUN = '.graphiql-execute-button';

/** Sets the text of one of GraphiQL's editors (CodeMirror 5), as typing would. */
async function setEditor(page, selector, text) {
  await page.waitForSelector(selector);
  await page.$eval(selector, (cm, value) => cm.CodeMirror.setValue(value), text);
}

/**
 * Sets the operation editor and waits until GraphiQL has read the document (it parses it a
 * moment after each change): its tab is then named after the first operation.
 */
async function setQuery(page, text) {
  await setEditor(page, QUERY_EDITOR, text);
  const first = /^\s*(?:query|mutation|subscription)\s+(\w+)/m.exec(text);
  await page.waitForFunction((name) => document.querySelector('.graphiql-tab-active')?.textContent.trim() === name, first ? first[1] : '<untitled>');
}

const editorText = (page, selector) => page.$eval(selector, (cm) => cm.CodeMirror.getValue());

/** Waits for the response editor to hold JSON that `accept(json)` agrees to; answers it. */
async function responseWhere(page, accept, what, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let text = '';
  for (;;) {
    text = await editorText(page, RESPONSE).catch(() => '');
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* empty, or still streaming */
    }
    if (json && accept(json)) return json;
    if (Date.now() > deadline) throw new Error(`the response pane never showed ${what}: ${text.slice(0, 400)}`);
    await page.waitForTimeout(100);
  }
}

/** Puts an operation (and variables) in the editors, runs it and waits for a response that differs from the one before. */
async function runOperation(page, query, variables = '', accept = () => true) {
  await setQuery(page, query);
  await setEditor(page, VARIABLES_EDITOR, variables);
  await setEditor(page, RESPONSE, ''); // so the wait below sees this operation's answer
  await page.click(RUN);
  return responseWhere(page, accept, `an answer to ${query.slice(0, 40)}`);
}

/** The response pane as a person sees it (its visible text, not CodeMirror's document). */
const shownResponse = (page) => page.innerText('.graphiql-response');

async function registerOverRest(user) {
  const resp = await fetch(`${BASE_URL}/api/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email: user.email, name: user.name, password: user.password }),
  });
  const text = await resp.text();
  assert(resp.status === 201, `POST /api/v1/users answered ${resp.status}: ${text}`);
  return String(JSON.parse(text).id);
}

/** Posts a chat message over HTTP (the sendMessage mutation), as another client would. */
async function sendMessage(token, room, body) {
  const resp = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation Say($room: String!, $body: String!) { sendMessage(room: $room, body: $body) { id } }',
      variables: { room, body },
    }),
  });
  const answer = await resp.json();
  assert(resp.status === 200 && answer.data && answer.data.sendMessage, `sendMessage: ${resp.status} ${JSON.stringify(answer)}`);
}

/** Opens the docs explorer (the book in GraphiQL's sidebar) and waits for the schema's root types. */
async function openDocs(page) {
  await page.click('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector('.graphiql-doc-explorer .graphiql-doc-explorer-root-type');
}

const docsTitle = (page) => page.textContent('.graphiql-doc-explorer-title');

console.log(`switchboard graphiql e2e against ${BASE_URL} (room ${ROOM})`);
run({ name: 'graphiql', failurePrefix: 'failure-graphiql-' }, async (browser, pages) => {
  const page = await openPage(browser, pages, 'desktop', { viewport: { width: 1280, height: 800 } }, WATCH);
  await page.addInitScript(SOCKET_PROBE);

  // Every request the page makes, and every POST /graphql with whether it carried a token.
  const requested = [];
  const sent = [];
  page.on('request', (req) => {
    requested.push(req.url());
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/graphql') {
      const body = JSON.parse(req.postData() || '{}');
      sent.push({ auth: req.headers().authorization || '', operationName: body.operationName || null, body });
    }
  });
  const lastSent = () => sent.filter((s) => s.operationName !== 'IntrospectionQuery').at(-1);

  await step('GraphiQL mounts, from this server only', async () => {
    await page.goto(`${BASE_URL}/graphiql`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector(`.graphiql-container ${QUERY_EDITOR}`);
    await page.waitForSelector(RUN);
    const version = await page.evaluate(() => `${window.React && window.React.version} ${typeof window.GraphiQL} ${typeof window.graphqlWs}`);
    assert(version.startsWith('18.') && version.endsWith('function object'), `React, GraphiQL, graphqlWs: ${version}`);
    const foreign = requested.filter((u) => !u.startsWith(BASE_URL) && !u.startsWith('data:'));
    assert(foreign.length === 0, `requests to elsewhere: ${foreign.join(', ')}`);
    assert((await editorText(page, QUERY_EDITOR)).includes('products(first: $first, after: $after)'), 'no default example query');
    assert((await page.textContent('#auth-chip')) === 'anonymous', 'the page claims to be signed in');
  });

  await step('the docs explorer shows the schema from introspection', async () => {
    await openDocs(page);
    const roots = await page.$$eval('.graphiql-doc-explorer-root-type', (ss) => ss.map((s) => `${s.textContent}: ${s.nextElementSibling.textContent}`));
    assert(JSON.stringify(roots) === JSON.stringify(['query: Query', 'mutation: Mutation', 'subscription: Subscription']), `root types: ${roots}`);
    const types = await page.$$eval('.graphiql-doc-explorer-content .graphiql-doc-explorer-type-name', (as) => as.map((a) => a.textContent));
    for (const t of ['Product', 'ProductConnection', 'PostInput', 'OrderStatus', 'DateTime', 'Message']) assert(types.includes(t), `the type list lacks ${t}`);
    const intro = sent.find((s) => s.operationName === 'IntrospectionQuery');
    assert(intro && !intro.auth, 'no anonymous introspection query was sent');
    await page.click('.graphiql-doc-explorer-root-type + a:text-is("Query")');
    await page.waitForFunction(() => document.querySelector('.graphiql-doc-explorer-title')?.textContent === 'Query');
    const fields = await page.$$eval('.graphiql-doc-explorer-field-name', (as) => as.map((a) => a.textContent));
    for (const f of ['me', 'user', 'users', 'post', 'posts', 'product', 'products', 'order', 'orders', 'rooms']) {
      assert(fields.includes(f), `Query's fields lack ${f} (shown: ${fields.join(', ')})`);
    }
    const me = await page.textContent('.graphiql-doc-explorer-item:has(> div > a.graphiql-doc-explorer-field-name:text-is("me"))');
    assert(me.includes('The signed-in user'), `me has no description: ${me}`);
    const products = await page.textContent('.graphiql-doc-explorer-item:has(> div > a.graphiql-doc-explorer-field-name:text-is("products"))');
    assert(products.includes('first: Int') && products.includes('ProductConnection!'), `products is shown as ${products}`);
  });

  await step('a type in the docs opens that type, and back returns; the search finds fields', async () => {
    await page.click('.graphiql-doc-explorer-item:has(> div > a.graphiql-doc-explorer-field-name:text-is("products")) a.graphiql-doc-explorer-type-name:text-is("ProductConnection")');
    await page.waitForFunction(() => document.querySelector('.graphiql-doc-explorer-title')?.textContent === 'ProductConnection');
    const fields = await page.$$eval('.graphiql-doc-explorer-field-name', (as) => as.map((a) => a.textContent));
    assert(['pageInfo', 'edges', 'nodes', 'totalCount'].every((f) => fields.includes(f)), `ProductConnection: ${fields}`);
    await page.click('.graphiql-doc-explorer-back');
    await page.waitForFunction(() => document.querySelector('.graphiql-doc-explorer-title')?.textContent === 'Query');
    await page.click('.graphiql-doc-explorer-back');
    await page.waitForFunction(() => document.querySelector('.graphiql-doc-explorer-title')?.textContent === 'Docs');
    await page.fill('.graphiql-doc-explorer-search-input input', 'messageAdd');
    await page.waitForFunction(() => {
      const hits = [...document.querySelectorAll('.graphiql-doc-explorer-search [role="option"]')].map((o) => o.textContent);
      return hits.length > 0 && hits.length < 5 && hits.includes('Subscription.messageAdded');
    });
    await page.fill('.graphiql-doc-explorer-search-input input', '');
    await page.keyboard.press('Escape');
    assert((await docsTitle(page)) === 'Docs', 'the search moved the docs');
    await shot(page, 'graphiql-desktop-docs');
  });

  await step('the default example query runs and shows real data', async () => {
    await page.click(RUN);
    const body = await responseWhere(page, (j) => j.data && j.data.products, 'the products');
    const products = body.data.products;
    assert(typeof products.totalCount === 'number', `no totalCount in ${JSON.stringify(body)}`);
    assert(products.edges.length === Math.min(5, products.totalCount), `${products.edges.length} edges of ${products.totalCount}`);
    assert(typeof products.pageInfo.hasNextPage === 'boolean', 'no pageInfo');
    const shown = await shownResponse(page);
    const sample = products.edges.length ? JSON.stringify(products.edges[0].node.name) : `"totalCount": ${products.totalCount}`;
    assert(shown.includes('"products"') && shown.includes(sample), `the response pane does not show ${sample}`);
    const last = lastSent();
    assert(last.operationName === 'Products' && !last.auth, `sent ${JSON.stringify(last)}`);
  });

  const userId = await registerOverRest(USER);

  await step('a public query with variables returns a user registered for the test', async () => {
    const body = await runOperation(page, 'query User($id: ID!) {\n  user(id: $id) {\n    id\n    name\n    email\n  }\n}', JSON.stringify({ id: userId }));
    assert(body.data && body.data.user && body.data.user.name === USER.name, `user(id: ${userId}) is ${JSON.stringify(body)}`);
    assert(body.data.user.email === null, 'the email of another user is shown to an anonymous caller');
    assert(lastSent().body.variables.id === userId, `sent ${JSON.stringify(lastSent().body)}`);
  });

  await step('a query that does not validate shows its error with a location', async () => {
    const body = await runOperation(page, '{\n  products(first: 2) {\n    nope\n  }\n}', '', (j) => Array.isArray(j.errors));
    assert(!body.data, `data beside a validation error: ${JSON.stringify(body)}`);
    assert(body.errors[0].message.includes('nope') && body.errors[0].locations[0].line === 3, JSON.stringify(body.errors));
    const shown = await shownResponse(page);
    assert(shown.includes('"errors"') && shown.includes('nope'), `the response pane shows: ${shown.slice(0, 300)}`);
  });

  await step('a refused query shows its extensions.code', async () => {
    const body = await runOperation(page, '{ users(first: 5) { totalCount } }', '', (j) => Array.isArray(j.errors));
    const code = body.errors[0].extensions && body.errors[0].extensions.code;
    assert(code === 'UNAUTHENTICATED' || code === 'FORBIDDEN', `users without a token: ${JSON.stringify(body)}`);
    assert((await shownResponse(page)).includes(code), 'the response pane does not show the code');
  });

  await step('an anonymous subscription shows the error the socket answers', async () => {
    const body = await runOperation(page, 'subscription Messages {\n  messageAdded(room: "lobby") {\n    body\n  }\n}', '', (j) => Array.isArray(j.errors));
    const code = body.errors[0].extensions && body.errors[0].extensions.code;
    assert(code === 'UNAUTHENTICATED' || code === 'FORBIDDEN', `an anonymous subscription: ${JSON.stringify(body)}`);
    await page.waitForFunction(() => /execute/i.test(document.querySelector('.graphiql-execute-button')?.getAttribute('aria-label')));
    const init = await page.evaluate(() => window.__ws.sent.map((f) => JSON.parse(f)).find((f) => f.type === 'connection_init'));
    assert(init && !(init.payload && init.payload.Authorization), `an anonymous connection_init: ${JSON.stringify(init)}`);
    await page.waitForFunction(() => window.__ws.closes.length === window.__ws.opened);
  });

  await step("GraphiQL's settings dialog opens and closes (within the page's CSP)", async () => {
    await page.click('.graphiql-sidebar button[aria-label="Open settings dialog"]');
    await page.waitForSelector('.graphiql-dialog:has-text("Settings")');
    await page.waitForFunction(() => document.body.hasAttribute('data-scroll-locked'));
    await page.keyboard.press('Escape');
    await page.waitForSelector('.graphiql-dialog', { state: 'detached' });
    await assertNoProblems([['desktop', page]]);
  });

  await step('signing in through the page shows who is signed in and sends the token', async () => {
    await page.click('#auth-toggle');
    await page.waitForSelector('#auth-panel:not([hidden])');
    await page.fill('#email', USER.email);
    await page.fill('#password', USER.password);
    await page.click('#auth-submit');
    await page.waitForSelector('#auth-panel', { state: 'hidden' });
    await page.waitForFunction((name) => document.querySelector('#whoami')?.textContent.includes(name), USER.name);
    assert((await page.textContent('#auth-chip')) === `as ${USER.name}`, 'the auth chip does not name the user');
    assert(await page.isVisible('#signout'), 'no Sign out button');
    const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth') || 'null'));
    assert(stored && stored.access && stored.refresh, 'no tokens under sessionStorage "switchboard.auth" (the chat key)');
    const body = await runOperation(page, '{\n  me {\n    id\n    name\n    email\n    role\n  }\n}', '', (j) => j.data && 'me' in j.data);
    assert(body.data.me && body.data.me.id === userId && body.data.me.email === USER.email, `me is ${JSON.stringify(body)}`);
    assert(lastSent().auth === `Bearer ${stored.access}`, `the request carried ${lastSent().auth || 'no token'}`);
  });

  await step("with two operations, GraphiQL's menu chooses which runs (a mutation, then a query)", async () => {
    const doc = [
      'mutation NewRoom($input: RoomInput!) {',
      '  createRoom(input: $input) { name visibility }',
      '}',
      '',
      'query MyRooms {',
      '  rooms(first: 100) { edges { node { name } } }',
      '}',
    ].join('\n');
    await setQuery(page, doc);
    await setEditor(page, VARIABLES_EDITOR, JSON.stringify({ input: { name: ROOM } }));
    await setEditor(page, RESPONSE, '');
    await page.click(RUN);
    await page.click('[role="menuitem"]:text-is("NewRoom")');
    const created = await responseWhere(page, (j) => j.data || j.errors, 'createRoom');
    assert(created.data && created.data.createRoom && created.data.createRoom.name === ROOM, JSON.stringify(created));
    assert(lastSent().operationName === 'NewRoom' && /^Bearer /.test(lastSent().auth), `sent ${JSON.stringify(lastSent())}`);
    await setEditor(page, RESPONSE, '');
    await page.click(RUN);
    await page.click('[role="menuitem"]:text-is("MyRooms")');
    const mine = await responseWhere(page, (j) => j.data && j.data.rooms, 'rooms');
    assert(mine.data.rooms.edges.some((e) => e.node.name === ROOM), `rooms: ${JSON.stringify(mine)}`);
  });

  await step('a messageAdded subscription shows a message posted while it runs', async () => {
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth')).access);
    const opened = await page.evaluate(() => window.__ws.opened);
    await setQuery(page, 'subscription Messages($room: String!) {\n  messageAdded(room: $room) {\n    id\n    room\n    body\n    user { name }\n  }\n}');
    await setEditor(page, VARIABLES_EDITOR, JSON.stringify({ room: ROOM }));
    await setEditor(page, RESPONSE, '');
    await page.click(RUN);
    await page.waitForFunction((n) => window.__ws.opened === n + 1, opened);
    await page.waitForFunction(() => document.querySelector('#ws-status')?.dataset.state === 'online');
    const frames = await page.evaluate(() => window.__ws.sent.map((f) => JSON.parse(f)));
    const init = frames.filter((f) => f.type === 'connection_init').at(-1);
    assert(init && init.payload && init.payload.Authorization === `Bearer ${token}`, `connection_init: ${JSON.stringify(init)}`);
    const protocol = await page.evaluate(() => window.__ws.sockets.at(-1).protocol);
    assert(protocol === 'graphql-transport-ws', `sub-protocol ${protocol}`);

    // The server registers the subscription asynchronously: post until one arrives.
    const deadline = Date.now() + TIMEOUT;
    let event = null;
    for (;;) {
      await sendMessage(token, ROOM, XSS);
      event = await responseWhere(page, (j) => j.data && j.data.messageAdded, 'a messageAdded event', 500).catch(() => null);
      if (event) break;
      assert(Date.now() < deadline, 'no subscription event arrived within 10 s');
    }
    const m = event.data.messageAdded;
    assert(m.room === ROOM && m.body === XSS && m.user.name === USER.name, `event: ${JSON.stringify(event)}`);
    assert((await shownResponse(page)).includes('onerror=alert(1)'), 'the event is not shown');
    const injected = await page.evaluate(() => document.querySelectorAll('.graphiql-response b, .graphiql-response img').length);
    assert(injected === 0, `the message created ${injected} element(s): server text was rendered as HTML`);
    const stop = await page.getAttribute(RUN, 'aria-label');
    assert(/stop/i.test(stop), `the run button says "${stop}" while subscribed`);
    await shot(page, 'graphiql-desktop-subscription');
  });

  await step('stopping the subscription sends complete and closes the socket', async () => {
    const before = await editorText(page, RESPONSE);
    await page.click(RUN);
    await page.waitForFunction(() => window.__ws.sent.some((f) => JSON.parse(f).type === 'complete'));
    await page.waitForFunction(() => window.__ws.closes.length === window.__ws.opened);
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth')).access);
    await sendMessage(token, ROOM, `after stop ${tag}`);
    await page.waitForTimeout(600);
    assert((await editorText(page, RESPONSE)) === before, 'an event arrived after Stop');
    assert(/execute/i.test(await page.getAttribute(RUN, 'aria-label')), 'the run button did not come back');
  });

  await step("GraphiQL's history lists the operations run", async () => {
    await page.click('.graphiql-sidebar button[aria-label="Show History"]');
    await page.waitForSelector('.graphiql-history-item');
    const labels = await page.$$eval('.graphiql-history-item', (lis) => lis.map((li) => li.textContent));
    assert(['Messages', 'NewRoom', 'User', 'Products'].every((l) => labels.some((x) => x.includes(l))), `history: ${labels.join(' | ')}`);
    await shot(page, 'graphiql-desktop-history');
    await page.click('.graphiql-sidebar button[aria-label="Hide History"]');
  });

  await step('Sign out goes back to anonymous requests', async () => {
    await page.click('#signout');
    await page.waitForFunction(() => document.querySelector('#auth-chip')?.textContent === 'anonymous');
    const body = await runOperation(page, '{ me { id } }', '', (j) => j.data && 'me' in j.data);
    assert(body.data.me === null, `me after sign-out: ${JSON.stringify(body)}`);
    assert(!lastSent().auth, 'a request after sign-out carried a token');
    await setQuery(page, 'query Products {\n  products(first: 3) {\n    totalCount\n    nodes { id name priceCents }\n  }\n}');
    await page.click(RUN);
    await responseWhere(page, (j) => j.data && j.data.products && j.data.products.nodes, 'products');
    await shot(page, 'graphiql-desktop');
  });

  // A phone-sized context: a fresh browser profile, so the default query and no token.
  const mob = await openPage(browser, pages, 'phone', PHONE, WATCH);

  await step('on a phone the page fits the width, runs, and opens the docs', async () => {
    await mob.goto(`${BASE_URL}/graphiql`, { waitUntil: 'domcontentloaded' });
    await mob.waitForSelector(QUERY_EDITOR);
    await mob.tap(RUN);
    const body = await responseWhere(mob, (j) => j.data && j.data.products, 'the products');
    assert(typeof body.data.products.totalCount === 'number', `phone run: ${JSON.stringify(body)}`);
    const overflow = await mob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `the page scrolls sideways by ${overflow}px on a phone`);
    const [editor, response] = await Promise.all([mob.locator('.graphiql-editors').boundingBox(), mob.locator('.graphiql-response').boundingBox()]);
    assert(response.y >= editor.y + editor.height - 1 && response.width > 250, `the response is not under the editor: ${JSON.stringify({ editor, response })}`);
    assert(editor.height > 200 && response.height > 140, `editor ${editor.height}px, response ${response.height}px high`);
    await shot(mob, 'graphiql-phone');
    await mob.tap('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
    await mob.waitForSelector('.graphiql-doc-explorer-root-type');
    const docs = await mob.locator('.graphiql-plugin').boundingBox();
    assert(docs.width > 300, `the docs are ${docs.width}px wide on a phone`);
    assert(!(await mob.isVisible('.graphiql-sessions')), 'the editor stays beside the docs on a phone');
    await mob.tap('.graphiql-doc-explorer-root-type + a:text-is("Query")');
    await mob.waitForSelector('.graphiql-doc-explorer-field-name:text-is("products")');
    await shot(mob, 'graphiql-phone-docs');
    await mob.tap('.graphiql-sidebar button[aria-label="Hide Documentation Explorer"]');
    await mob.waitForSelector('.graphiql-sessions', { state: 'visible' });
    const after = await mob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(after <= 1, `the page scrolls sideways by ${after}px after the docs`);
  });

  await assertNoProblems(pages);
});
