// The /graphiql page (the real GraphiQL, vendored in static/vendor/graphiql/) in Chromium.
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
//
// Environment: as lib.mjs.

import { randomBytes } from 'node:crypto';
import { test, expect } from '@playwright/test';
import { BASE_URL, PHONE, SOCKET_PROBE, CSP_PROBE, Pages, shot } from './lib.mjs';

test.describe.configure({ mode: 'serial' });

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
const SUBSCRIPTION = 'subscription Messages($room: String!, $since: Int) {\n  messageAdded(room: $room, since: $since) {\n    id\n    seq\n    room\n    body\n    user { name }\n  }\n}';

/** Sets the text of one of GraphiQL's editors (CodeMirror 5), as typing would. */
async function setEditor(page, selector, text) {
  await expect(page.locator(selector)).toBeVisible();
  await page.$eval(selector, (cm, value) => cm.CodeMirror.setValue(value), text);
}

/**
 * Sets the operation editor and waits until GraphiQL has read the document (it parses it a
 * moment after each change): its tab is then named after the first operation.
 */
async function setQuery(page, text) {
  await setEditor(page, QUERY_EDITOR, text);
  const first = /^\s*(?:query|mutation|subscription)\s+(\w+)/m.exec(text);
  await expect(page.locator('.graphiql-tab-active')).toHaveText(first ? first[1] : '<untitled>');
}

const editorText = (page, selector) => page.$eval(selector, (cm) => cm.CodeMirror.getValue());

/** The response editor's JSON, or null while it holds none (empty, or still streaming). */
async function responseJson(page) {
  try {
    return JSON.parse(await editorText(page, RESPONSE));
  } catch {
    return null;
  }
}

/** Waits for the response editor to hold JSON that `accept(json)` agrees to; answers it. */
async function responseWhere(page, accept, what) {
  let json = null;
  await expect
    .poll(
      async () => {
        json = await responseJson(page);
        return Boolean(json && accept(json));
      },
      { message: `the response pane shows ${what}` },
    )
    .toBe(true);
  return json;
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
  expect(resp.status, `POST /api/v1/users: ${text}`).toBe(201);
  return String(JSON.parse(text).id);
}

/** Posts a chat message over HTTP (the sendMessage mutation), as another client would; answers its seq. */
async function sendMessage(token, room, body) {
  const resp = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation Say($room: String!, $body: String!) { sendMessage(room: $room, body: $body) { id seq } }',
      variables: { room, body },
    }),
  });
  const answer = await resp.json();
  expect(resp.status === 200 && answer.data && answer.data.sendMessage, `sendMessage: ${resp.status} ${JSON.stringify(answer)}`).toBeTruthy();
  return answer.data.sendMessage.seq;
}

/** Opens the docs explorer (the book in GraphiQL's sidebar) and waits for the schema's root types. */
async function openDocs(page) {
  await page.click('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
  await expect(page.locator('.graphiql-doc-explorer .graphiql-doc-explorer-root-type').first()).toBeVisible();
}

const docsTitle = (page) => page.locator('.graphiql-doc-explorer-title');
const tokenOf = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth')).access);
/** The frames the page's sockets sent (lib.mjs SOCKET_PROBE), parsed. */
const framesSent = (page) => page.evaluate(() => window.__ws.sent.map((f) => JSON.parse(f)));
const allSocketsClosed = (page) => expect.poll(() => page.evaluate(() => window.__ws.closes.length === window.__ws.opened), { message: 'every socket closed' }).toBe(true);

const pages = new Pages();
let page;
let userId;
// Every request the page makes, and every POST /graphql with whether it carried a token.
const requested = [];
const sent = [];
const lastSent = () => sent.filter((s) => s.operationName !== 'IntrospectionQuery').at(-1);

test.beforeAll(async ({ browser }) => {
  console.log(`graphiql e2e against ${BASE_URL} (room ${ROOM})`);
  page = await pages.open(browser, 'desktop', { viewport: { width: 1280, height: 800 } }, { probes: [CSP_PROBE, SOCKET_PROBE], ...WATCH });
  page.on('request', (req) => {
    requested.push(req.url());
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/graphql') {
      const body = JSON.parse(req.postData() || '{}');
      sent.push({ auth: req.headers().authorization || '', operationName: body.operationName || null, body });
    }
  });
});
test.afterEach(() => pages.check());
test.afterAll(() => pages.close());

test('GraphiQL mounts, from this server only', async () => {
  await page.goto('/graphiql', { waitUntil: 'domcontentloaded' });
  await expect(page.locator(`.graphiql-container ${QUERY_EDITOR}`)).toBeVisible();
  await expect(page.locator(RUN)).toBeVisible();
  const version = await page.evaluate(() => `${window.React && window.React.version} ${typeof window.GraphiQL} ${typeof window.graphqlWs}`);
  expect(version, 'React, GraphiQL, graphqlWs').toMatch(/^18\..* function object$/);
  expect(requested.filter((u) => !u.startsWith(BASE_URL) && !u.startsWith('data:')), 'requests to elsewhere').toEqual([]);
  expect(await editorText(page, QUERY_EDITOR), 'the default example query').toContain('products(first: $first, after: $after)');
  await expect(page.locator('#auth-chip')).toHaveText('anonymous');
});

test('the docs explorer shows the schema from introspection', async () => {
  await openDocs(page);
  const roots = await page.$$eval('.graphiql-doc-explorer-root-type', (ss) => ss.map((s) => `${s.textContent}: ${s.nextElementSibling.textContent}`));
  expect(roots, 'root types').toEqual(['query: Query', 'mutation: Mutation', 'subscription: Subscription']);
  const types = await page.locator('.graphiql-doc-explorer-content .graphiql-doc-explorer-type-name').allTextContents();
  for (const t of ['Product', 'ProductConnection', 'PostInput', 'OrderStatus', 'DateTime', 'Message']) expect(types, 'the type list').toContain(t);
  const intro = sent.find((s) => s.operationName === 'IntrospectionQuery');
  expect(intro && !intro.auth, 'an anonymous introspection query was sent').toBe(true);
  await page.click('.graphiql-doc-explorer-root-type + a:text-is("Query")');
  await expect(docsTitle(page)).toHaveText('Query');
  const fields = await page.locator('.graphiql-doc-explorer-field-name').allTextContents();
  for (const f of ['me', 'user', 'users', 'post', 'posts', 'product', 'products', 'order', 'orders', 'rooms']) expect(fields, "Query's fields").toContain(f);
  const field = (name) => page.locator(`.graphiql-doc-explorer-item:has(> div > a.graphiql-doc-explorer-field-name:text-is("${name}"))`);
  await expect(field('me'), "me's description").toContainText('The signed-in user');
  await expect(field('products')).toContainText('first: Int');
  await expect(field('products')).toContainText('ProductConnection!');
});

test('a type in the docs opens that type, and back returns; the search finds fields', async () => {
  await page.click('.graphiql-doc-explorer-item:has(> div > a.graphiql-doc-explorer-field-name:text-is("products")) a.graphiql-doc-explorer-type-name:text-is("ProductConnection")');
  await expect(docsTitle(page)).toHaveText('ProductConnection');
  const fields = await page.locator('.graphiql-doc-explorer-field-name').allTextContents();
  for (const f of ['pageInfo', 'edges', 'nodes', 'totalCount']) expect(fields, 'ProductConnection').toContain(f);
  await page.click('.graphiql-doc-explorer-back');
  await expect(docsTitle(page)).toHaveText('Query');
  await page.click('.graphiql-doc-explorer-back');
  await expect(docsTitle(page)).toHaveText('Docs');
  await page.fill('.graphiql-doc-explorer-search-input input', 'messageAdd');
  const hits = page.locator('.graphiql-doc-explorer-search [role="option"]');
  await expect(hits.filter({ hasText: /^Subscription\.messageAdded$/ })).toHaveCount(1);
  expect(await hits.count(), 'search hits for "messageAdd"').toBeLessThan(5);
  await page.fill('.graphiql-doc-explorer-search-input input', '');
  await page.keyboard.press('Escape');
  await expect(docsTitle(page), 'the search left the docs where they were').toHaveText('Docs');
  await shot(page, 'graphiql-desktop-docs');
});

test('the default example query runs and shows real data', async () => {
  await page.click(RUN);
  const body = await responseWhere(page, (j) => j.data && j.data.products, 'the products');
  const products = body.data.products;
  expect(typeof products.totalCount, `totalCount in ${JSON.stringify(body)}`).toBe('number');
  expect(products.edges.length, 'edges').toBe(Math.min(5, products.totalCount));
  expect(typeof products.pageInfo.hasNextPage, 'pageInfo.hasNextPage').toBe('boolean');
  const shown = await shownResponse(page);
  const sample = products.edges.length ? JSON.stringify(products.edges[0].node.name) : `"totalCount": ${products.totalCount}`;
  expect(shown, 'the response pane').toContain('"products"');
  expect(shown, 'the response pane').toContain(sample);
  expect(lastSent().operationName, `sent ${JSON.stringify(lastSent())}`).toBe('Products');
  expect(lastSent().auth, 'the anonymous request carried a token').toBe('');
});

test('a public query with variables returns a user registered for the test', async () => {
  userId = await registerOverRest(USER);
  const body = await runOperation(page, 'query User($id: ID!) {\n  user(id: $id) {\n    id\n    name\n    email\n  }\n}', JSON.stringify({ id: userId }));
  expect(body.data && body.data.user && body.data.user.name, `user(id: ${userId}) is ${JSON.stringify(body)}`).toBe(USER.name);
  expect(body.data.user.email, 'the email of another user, to an anonymous caller').toBeNull();
  expect(lastSent().body.variables.id, `sent ${JSON.stringify(lastSent().body)}`).toBe(userId);
});

test('a query that does not validate shows its error with a location', async () => {
  const body = await runOperation(page, '{\n  products(first: 2) {\n    nope\n  }\n}', '', (j) => Array.isArray(j.errors));
  expect(body.data, 'data beside a validation error').toBeFalsy();
  expect(body.errors[0].message, JSON.stringify(body.errors)).toContain('nope');
  expect(body.errors[0].locations[0].line, JSON.stringify(body.errors)).toBe(3);
  const shown = await shownResponse(page);
  expect(shown, 'the response pane').toContain('"errors"');
  expect(shown, 'the response pane').toContain('nope');
});

test('a refused query shows its extensions.code', async () => {
  const body = await runOperation(page, '{ users(first: 5) { totalCount } }', '', (j) => Array.isArray(j.errors));
  const code = body.errors[0].extensions && body.errors[0].extensions.code;
  expect(code, `users without a token: ${JSON.stringify(body)}`).toMatch(/^(UNAUTHENTICATED|FORBIDDEN)$/);
  expect(await shownResponse(page), 'the response pane').toContain(code);
});

test('an anonymous subscription shows the error the socket answers', async () => {
  const body = await runOperation(page, 'subscription Messages {\n  messageAdded(room: "lobby") {\n    body\n  }\n}', '', (j) => Array.isArray(j.errors));
  const code = body.errors[0].extensions && body.errors[0].extensions.code;
  expect(code, `an anonymous subscription: ${JSON.stringify(body)}`).toMatch(/^(UNAUTHENTICATED|FORBIDDEN)$/);
  await expect(page.locator(RUN)).toHaveAttribute('aria-label', /execute/i);
  const init = (await framesSent(page)).find((f) => f.type === 'connection_init');
  expect(init && !(init.payload && init.payload.Authorization), `an anonymous connection_init: ${JSON.stringify(init)}`).toBe(true);
  await allSocketsClosed(page);
});

test("GraphiQL's settings dialog opens and closes (within the page's CSP)", async () => {
  await page.click('.graphiql-sidebar button[aria-label="Open settings dialog"]');
  await expect(page.locator('.graphiql-dialog:has-text("Settings")')).toBeVisible();
  await expect(page.locator('body')).toHaveAttribute('data-scroll-locked');
  await page.keyboard.press('Escape');
  await expect(page.locator('.graphiql-dialog')).toHaveCount(0);
  await pages.check();
});

test('signing in through the page shows who is signed in and sends the token', async () => {
  await page.click('#auth-toggle');
  await expect(page.locator('#auth-panel')).toBeVisible();
  await page.fill('#email', USER.email);
  await page.fill('#password', USER.password);
  await page.click('#auth-submit');
  await expect(page.locator('#auth-panel')).toBeHidden();
  await expect(page.locator('#whoami')).toContainText(USER.name);
  await expect(page.locator('#auth-chip')).toHaveText(`as ${USER.name}`);
  await expect(page.locator('#signout')).toBeVisible();
  const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth') || 'null'));
  expect(stored && stored.access && stored.refresh, 'tokens under sessionStorage "switchboard.auth" (the chat key)').toBeTruthy();
  const body = await runOperation(page, '{\n  me {\n    id\n    name\n    email\n    role\n  }\n}', '', (j) => j.data && 'me' in j.data);
  expect(body.data.me, `me is ${JSON.stringify(body)}`).toMatchObject({ id: userId, email: USER.email });
  expect(lastSent().auth, 'the token the request carried').toBe(`Bearer ${stored.access}`);
});

test("with two operations, GraphiQL's menu chooses which runs (a mutation, then a query)", async () => {
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
  expect(created.data && created.data.createRoom && created.data.createRoom.name, JSON.stringify(created)).toBe(ROOM);
  expect(lastSent().operationName, `sent ${JSON.stringify(lastSent())}`).toBe('NewRoom');
  expect(lastSent().auth).toMatch(/^Bearer /);
  await setEditor(page, RESPONSE, '');
  await page.click(RUN);
  await page.click('[role="menuitem"]:text-is("MyRooms")');
  const mine = await responseWhere(page, (j) => j.data && j.data.rooms, 'rooms');
  expect(mine.data.rooms.edges.map((e) => e.node.name), 'rooms').toContain(ROOM);
});

test('a messageAdded subscription shows a message posted while it runs', async () => {
  const token = await tokenOf(page);
  const opened = await page.evaluate(() => window.__ws.opened);
  await setQuery(page, SUBSCRIPTION);
  // From seq 0 of the new room: the message posted below arrives whether the server has
  // registered the subscription by then or not (replayed, or live).
  await setEditor(page, VARIABLES_EDITOR, JSON.stringify({ room: ROOM, since: 0 }));
  await setEditor(page, RESPONSE, '');
  await page.click(RUN);
  await expect.poll(() => page.evaluate(() => window.__ws.opened), { message: 'sockets opened' }).toBe(opened + 1);
  await expect(page.locator('#ws-status')).toHaveAttribute('data-state', 'online');
  const init = (await framesSent(page)).filter((f) => f.type === 'connection_init').at(-1);
  expect(init && init.payload && init.payload.Authorization, `connection_init: ${JSON.stringify(init)}`).toBe(`Bearer ${token}`);
  expect(await page.evaluate(() => window.__ws.sockets.at(-1).protocol), 'sub-protocol').toBe('graphql-transport-ws');

  await sendMessage(token, ROOM, XSS);
  const event = await responseWhere(page, (j) => j.data && j.data.messageAdded, 'a messageAdded event');
  expect(event.data.messageAdded, `event: ${JSON.stringify(event)}`).toMatchObject({ room: ROOM, body: XSS, user: { name: USER.name } });
  expect(await shownResponse(page), 'the event shown').toContain('onerror=alert(1)');
  await expect(page.locator('.graphiql-response b, .graphiql-response img'), 'elements made from server text').toHaveCount(0);
  await expect(page.locator(RUN), 'the run button while subscribed').toHaveAttribute('aria-label', /stop/i);
  await shot(page, 'graphiql-desktop-subscription');
});

test('stopping the subscription sends complete and closes the socket', async () => {
  const token = await tokenOf(page);
  const before = await editorText(page, RESPONSE);
  await page.click(RUN);
  await expect.poll(async () => (await framesSent(page)).some((f) => f.type === 'complete'), { message: 'a complete frame sent' }).toBe(true);
  await allSocketsClosed(page);
  await expect(page.locator(RUN), 'the run button after Stop').toHaveAttribute('aria-label', /execute/i);
  const afterStop = `after stop ${tag}`;
  const seq = await sendMessage(token, ROOM, afterStop);
  // Nothing comes for the stopped subscription. Shown by a marker: the subscription run
  // again from the seq of that message gets the next message, and nothing of this one,
  // on any socket; and the pane still showed the last event until then.
  expect(await editorText(page, RESPONSE), 'the response pane after Stop').toBe(before);
  await setEditor(page, VARIABLES_EDITOR, JSON.stringify({ room: ROOM, since: seq }));
  await setEditor(page, RESPONSE, '');
  await page.click(RUN);
  const marker = `marker ${tag}`;
  await sendMessage(token, ROOM, marker);
  const event = await responseWhere(page, (j) => j.data && j.data.messageAdded, 'the marker event');
  expect(event.data.messageAdded.body, 'the first event after the restart').toBe(marker);
  expect(await page.evaluate((t) => window.__ws.received.filter((r) => r.data.includes(t)).length, afterStop), 'frames with the message posted after Stop').toBe(0);
  await page.click(RUN);
  await allSocketsClosed(page);
  await expect(page.locator(RUN), 'the run button came back').toHaveAttribute('aria-label', /execute/i);
});

test("GraphiQL's history lists the operations run", async () => {
  await page.click('.graphiql-sidebar button[aria-label="Show History"]');
  await expect(page.locator('.graphiql-history-item').first()).toBeVisible();
  const labels = await page.locator('.graphiql-history-item').allTextContents();
  for (const l of ['Messages', 'NewRoom', 'User', 'Products']) expect(labels.some((x) => x.includes(l)), `history has ${l}: ${labels.join(' | ')}`).toBe(true);
  await shot(page, 'graphiql-desktop-history');
  await page.click('.graphiql-sidebar button[aria-label="Hide History"]');
});

test('Sign out goes back to anonymous requests', async () => {
  await page.click('#signout');
  await expect(page.locator('#auth-chip')).toHaveText('anonymous');
  const body = await runOperation(page, '{ me { id } }', '', (j) => j.data && 'me' in j.data);
  expect(body.data.me, 'me after sign-out').toBeNull();
  expect(lastSent().auth, 'a request after sign-out carried a token').toBe('');
  await setQuery(page, 'query Products {\n  products(first: 3) {\n    totalCount\n    nodes { id name priceCents }\n  }\n}');
  await page.click(RUN);
  await responseWhere(page, (j) => j.data && j.data.products && j.data.products.nodes, 'products');
  await shot(page, 'graphiql-desktop');
});

// A phone-sized context: a fresh browser profile, so the default query and no token.
test('on a phone the page fits the width, runs, and opens the docs', async ({ browser }) => {
  const mob = await pages.open(browser, 'phone', PHONE, WATCH);
  await mob.goto('/graphiql', { waitUntil: 'domcontentloaded' });
  await expect(mob.locator(QUERY_EDITOR)).toBeVisible();
  await mob.tap(RUN);
  const body = await responseWhere(mob, (j) => j.data && j.data.products, 'the products');
  expect(typeof body.data.products.totalCount, `phone run: ${JSON.stringify(body)}`).toBe('number');
  const overflow = await mob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'sideways scroll on a phone (px)').toBeLessThanOrEqual(1);
  const [editor, response] = await Promise.all([mob.locator('.graphiql-editors').boundingBox(), mob.locator('.graphiql-response').boundingBox()]);
  const where = JSON.stringify({ editor, response });
  expect(response.y, `the response under the editor: ${where}`).toBeGreaterThanOrEqual(editor.y + editor.height - 1);
  expect(response.width, `the response's width: ${where}`).toBeGreaterThan(250);
  expect(editor.height, "the editor's height").toBeGreaterThan(200);
  expect(response.height, "the response's height").toBeGreaterThan(140);
  await shot(mob, 'graphiql-phone');
  await mob.tap('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
  await expect(mob.locator('.graphiql-doc-explorer-root-type').first()).toBeVisible();
  const docs = await mob.locator('.graphiql-plugin').boundingBox();
  expect(docs.width, "the docs' width on a phone").toBeGreaterThan(300);
  await expect(mob.locator('.graphiql-sessions'), 'the editor beside the docs on a phone').toBeHidden();
  await mob.tap('.graphiql-doc-explorer-root-type + a:text-is("Query")');
  await expect(mob.locator('.graphiql-doc-explorer-field-name:text-is("products")')).toBeVisible();
  await shot(mob, 'graphiql-phone-docs');
  await mob.tap('.graphiql-sidebar button[aria-label="Hide Documentation Explorer"]');
  await expect(mob.locator('.graphiql-sessions')).toBeVisible();
  const after = await mob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(after, 'sideways scroll after the docs (px)').toBeLessThanOrEqual(1);
});
