// End-to-end test of the /graphiql page (the offline GraphQL explorer) in a real browser
// (playwright-core + system Chromium).
//
//   BASE_URL=http://127.0.0.1:8080 node graphiql.mjs
//
// A desktop context loads the page and checks: the docs panel is built from introspection
// (root types first, Query's real fields, navigation by type name, search); the default
// example query runs and shows real data with the HTTP status and time; a public query
// returns a user registered for the test; invalid variables are refused before anything is
// sent; the editor's keys (indentation, Tab, Ctrl+Enter) work; an invalid query and a
// forbidden one show their errors (with extensions.code); signing in through the page sends
// the bearer token (me, a mutation with variables, the operation picker); a messageAdded
// subscription shows a chat message posted over /ws/chat (HTML in it as literal text), and
// Stop ends it; history and the docs' Insert button work; Sign out goes back to anonymous.
// A phone-sized context runs the default query, opens the docs, and must not scroll sideways.
// Any uncaught error, console error, dialog or CSP violation is a failure.
// Exit status 0 on success, 1 on failure.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (optional: PNGs of both pages are saved there).

import { randomBytes } from 'node:crypto';
import { BASE_URL, TIMEOUT, PHONE, step, shot, assert, assertNoProblems, openPage, watch, run } from './lib.mjs';

const tag = randomBytes(4).toString('hex');
const ROOM = `gql-${tag}`;
const USER = { name: `Grace ${tag}`, email: `grace-${tag}@example.com`, password: `pw-${randomBytes(6).toString('hex')}` };
const XSS = `<b>x</b><img src=x onerror=alert(1)> ${tag}`;

/** Dialogs mean server text was run as HTML; console errors fail the test too. */
const WATCH = { dialogNote: 'HTML from the server was executed' };

/** The parsed JSON shown in the results pane. */
async function resultJson(page) {
  const text = await page.textContent('#result');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`the results pane does not hold JSON: ${text.slice(0, 300)}`);
  }
}

/** Puts an operation and its variables in the editors, runs it and waits for the response. */
async function runOperation(page, query, variables = '{}', operation = null) {
  await page.fill('#query', query);
  await page.fill('#variables', variables);
  if (operation) await page.selectOption('#operation', operation);
  await page.click('#run');
  await page.waitForSelector('#result-meta[data-status]', { timeout: TIMEOUT });
  return resultJson(page);
}

async function fieldNames(page) {
  return page.$$eval('#docs [data-testid="fields"] > li', (lis) => lis.map((li) => li.dataset.field));
}

/** Registers a user over REST (the public POST /api/v1/users); answers its id. */
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

/** A /ws/chat client in a page of the site (same origin), joined to `room`, kept on window. */
async function openChat(page, token, room) {
  await page.evaluate(
    ({ token, room }) =>
      new Promise((resolve, reject) => {
        const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/chat`;
        const ws = new WebSocket(url, ['bearer', token]);
        window.__chat = { ws, acks: new Map() };
        const timer = setTimeout(() => reject(new Error('/ws/chat did not answer join within 8 s')), 8000);
        ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'join', room })));
        ws.addEventListener('message', (ev) => {
          const f = JSON.parse(ev.data);
          if (f.type === 'joined' && f.room === room) {
            clearTimeout(timer);
            resolve();
          }
          if (f.type === 'message' && f.client_id) {
            const done = window.__chat.acks.get(f.client_id);
            if (done) done(f.id);
          }
          if (f.type === 'error') reject(new Error(`/ws/chat error ${f.code}: ${f.message}`));
        });
        ws.addEventListener('close', (e) => reject(new Error(`/ws/chat closed (${e.code})`)));
      }),
    { token, room },
  );
}

/** Sends one chat message and waits until the server has stored it (its echo). */
async function say(page, room, body) {
  return page.evaluate(
    ({ room, body }) =>
      new Promise((resolve, reject) => {
        const clientId = `c-${Math.random().toString(36).slice(2)}`;
        const timer = setTimeout(() => reject(new Error('no echo for a chat message within 5 s')), 5000);
        window.__chat.acks.set(clientId, (id) => {
          clearTimeout(timer);
          resolve(id);
        });
        window.__chat.ws.send(JSON.stringify({ type: 'message', room, body, client_id: clientId }));
      }),
    { room, body },
  );
}

console.log(`switchboard graphiql e2e against ${BASE_URL} (room ${ROOM})`);
run({ name: 'graphiql', failurePrefix: 'failure-graphiql-' }, async (browser, pages) => {
  const page = await openPage(browser, pages, 'desktop', { viewport: { width: 1280, height: 800 } }, WATCH);

  // Every POST /graphql the page sends, with whether it carried a bearer token.
  const sent = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/graphql') {
      sent.push({ auth: req.headers().authorization || '', body: req.postData() || '' });
    }
  });

  await step('the docs panel lists the schema from introspection', async () => {
    await page.goto(`${BASE_URL}/graphiql`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#docs[data-loaded="true"]', { timeout: TIMEOUT });
    const roots = await page.$$eval('#docs [data-testid="root-types"] button', (bs) => bs.map((b) => b.dataset.type));
    assert(
      JSON.stringify(roots) === JSON.stringify(['Query', 'Mutation', 'Subscription']),
      `root types shown: ${roots.join(', ')}`,
    );
    const all = await page.$$eval('#docs button.room-item', (bs) => bs.map((b) => b.dataset.type));
    for (const t of ['Product', 'ProductConnection', 'PostInput', 'OrderStatus', 'DateTime']) {
      assert(all.includes(t), `the type list lacks ${t}`);
    }
    assert(!all.some((t) => t.startsWith('__')), 'introspection types are listed');
    await page.click('#docs button[data-type="Query"]');
    await page.waitForSelector('#docs [data-testid="fields"] > li[data-field="products"]');
    const fields = await fieldNames(page);
    for (const f of ['me', 'user', 'users', 'post', 'posts', 'product', 'products', 'order', 'orders']) {
      assert(fields.includes(f), `Query's fields lack ${f} (shown: ${fields.join(', ')})`);
    }
    const sig = await page.textContent('#docs li[data-field="products"] .gq-sig');
    assert(
      sig.includes('filter: ProductFilterInput') && sig.includes('first: Int') && sig.endsWith(': ProductConnection!'),
      `products is shown as ${sig}`,
    );
    const desc = await page.textContent('#docs li[data-field="me"]');
    assert(desc.includes('The signed-in user'), `me has no description: ${desc}`);
  });

  await step('a type name in the docs navigates to that type, and Back returns', async () => {
    await page.click('#docs li[data-field="products"] .gq-typelink[data-type="ProductConnection"]');
    await page.waitForFunction(() => document.querySelector('#docs h3')?.textContent === 'ProductConnection');
    const fields = await fieldNames(page);
    assert(['pageInfo', 'edges', 'nodes', 'totalCount'].every((f) => fields.includes(f)), `ProductConnection: ${fields}`);
    await page.click('#docs-back');
    await page.waitForFunction(() => document.querySelector('#docs h3')?.textContent === 'Query');
  });

  await step('the docs search finds types and fields', async () => {
    await page.fill('#docs-search', 'messageadd');
    await page.waitForSelector('#docs [data-testid="field-hits"] button');
    const hits = await page.$$eval('#docs [data-testid="field-hits"] button .gq-item-name', (ns) => ns.map((n) => n.textContent));
    assert(hits.includes('Subscription.messageAdded'), `search hits: ${hits.join(', ')}`);
    await page.fill('#docs-search', 'ORDERSTAT');
    await page.waitForSelector('#docs button.room-item[data-type="OrderStatus"]');
    await page.click('#docs button.room-item[data-type="OrderStatus"]');
    await page.waitForFunction(() => document.querySelector('#docs h3')?.textContent === 'OrderStatus');
    const values = await page.$$eval('#docs .gq-fields li', (lis) => lis.map((li) => li.textContent));
    assert(['PENDING', 'PAID', 'SHIPPED', 'CANCELLED'].every((v) => values.includes(v)), `OrderStatus values: ${values}`);
    await page.fill('#docs-search', '');
  });

  await step('the default example query runs and shows real data', async () => {
    const query = await page.inputValue('#query');
    assert(query.includes('products(first: $first, after: $after)'), 'the editor has no default example query');
    await page.click('#run');
    await page.waitForSelector('#result-meta[data-status="200"]');
    const body = await resultJson(page);
    assert(!body.errors, `the example query failed: ${JSON.stringify(body.errors)}`);
    const products = body.data && body.data.products;
    assert(products && typeof products.totalCount === 'number', `no products in ${JSON.stringify(body)}`);
    assert(products.edges.length === Math.min(5, products.totalCount), `${products.edges.length} edges of ${products.totalCount}`);
    assert(typeof products.pageInfo.hasNextPage === 'boolean', 'no pageInfo');
    const meta = await page.textContent('#result-meta');
    assert(/HTTP 200/.test(meta) && /\d(\.\d)? ms/.test(meta), `the status line says "${meta}"`);
    assert((await page.textContent('#auth-chip')) === 'anonymous', 'the page claims to be signed in');
    assert(!sent[sent.length - 1].auth, 'an anonymous request carried an Authorization header');
  });

  const userId = await registerOverRest(USER);

  await step('a public query with variables returns a user registered for the test', async () => {
    const body = await runOperation(
      page,
      'query User($id: ID!) {\n  user(id: $id) {\n    id\n    name\n    email\n  }\n}',
      JSON.stringify({ id: userId }),
    );
    assert(body.data && body.data.user, `user(id: ${userId}) is ${JSON.stringify(body)}`);
    assert(body.data.user.name === USER.name, `user name: ${body.data.user.name}`);
    assert(body.data.user.email === null, 'the email of another user is shown to an anonymous caller');
    const last = JSON.parse(sent[sent.length - 1].body);
    assert(last.variables.id === userId && last.operationName === 'User', `sent ${sent[sent.length - 1].body}`);
  });

  await step('invalid variables are refused with a message, and nothing is sent', async () => {
    const before = sent.length;
    await page.fill('#variables', '{"id": }');
    await page.click('#run');
    await page.waitForSelector('#variables-error:not([hidden])');
    const text = await page.textContent('#variables-error');
    assert(/not valid JSON/.test(text), `variables error: ${text}`);
    await page.fill('#variables', '[1, 2]');
    await page.click('#run');
    await page.waitForFunction(() => /must be a JSON object/.test(document.querySelector('#variables-error').textContent));
    await page.waitForTimeout(200);
    assert(sent.length === before, 'a request was sent with invalid variables');
    await page.fill('#variables', '{}');
    await page.waitForSelector('#variables-error', { state: 'hidden' });
  });

  await step('the editor keys: Enter keeps the indentation, Tab indents, Ctrl+Enter runs', async () => {
    await page.fill('#query', '');
    await page.fill('#variables', '');
    await page.click('#query');
    await page.keyboard.type('{');
    await page.keyboard.press('Enter');
    await page.keyboard.type('me {');
    await page.keyboard.press('Enter');
    await page.keyboard.type('id');
    await page.keyboard.press('Enter');
    await page.keyboard.type('}'); // on a blank line: one level back
    await page.keyboard.press('Enter');
    await page.keyboard.type('}');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await page.keyboard.type('# the end');
    const typed = await page.inputValue('#query');
    const expected = '{\n  me {\n    id\n  }\n}\n  # the end';
    assert(typed === expected, `the editor holds ${JSON.stringify(typed)}, not ${JSON.stringify(expected)}`);
    assert(await page.evaluate(() => document.activeElement.id === 'query'), 'Tab left the editor');
    const before = sent.length;
    await page.keyboard.press('Control+Enter');
    await page.waitForSelector('#result-meta[data-status="200"]');
    assert(sent.length === before + 1, 'Ctrl+Enter did not send the operation');
    const body = await resultJson(page);
    assert(body.data && body.data.me === null, `anonymous me: ${JSON.stringify(body)}`);
  });

  await step('an invalid query shows its GraphQL error with a location', async () => {
    const body = await runOperation(page, '{\n  products(first: 2) {\n    nope\n  }\n}');
    assert(Array.isArray(body.errors) && body.errors.length, `no errors in ${JSON.stringify(body)}`);
    await page.waitForSelector('#result-errors:not([hidden]) li');
    const shown = await page.textContent('#result-errors');
    assert(shown.includes('nope'), `the error list says: ${shown}`);
    assert(shown.includes('line 3:5'), `the error list has no location: ${shown}`);
    const meta = await page.textContent('#result-meta');
    assert(/error/.test(meta), `the status line does not mention the error: ${meta}`);
  });

  await step('an execution error shows its extensions.code', async () => {
    const body = await runOperation(page, '{ users(first: 5) { totalCount } }');
    const code = body.errors && body.errors[0] && body.errors[0].extensions && body.errors[0].extensions.code;
    assert(code === 'UNAUTHENTICATED' || code === 'FORBIDDEN', `users without a token: ${JSON.stringify(body)}`);
    const badge = await page.textContent('#result-errors li .gq-errcode');
    assert(badge === code, `the error badge says ${badge}, not ${code}`);
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
  });

  await step('an authenticated query (me) answers for the signed-in user', async () => {
    const body = await runOperation(page, '{\n  me {\n    id\n    name\n    email\n    role\n  }\n}');
    assert(body.data && body.data.me, `me is ${JSON.stringify(body)}`);
    assert(body.data.me.id === userId && body.data.me.email === USER.email && body.data.me.role === 'USER', JSON.stringify(body.data.me));
    assert(/^Bearer \S+/.test(sent[sent.length - 1].auth), 'the request carried no bearer token');
  });

  await step('with two operations the picker chooses which one runs (a mutation, then a query)', async () => {
    const title = `Written in GraphiQL ${tag}`;
    const doc = [
      'mutation NewPost($input: PostInput!) {',
      '  createPost(input: $input) { id title author { name } }',
      '}',
      '',
      'query MyPosts {',
      '  me { posts { id title } }',
      '}',
    ].join('\n');
    const vars = JSON.stringify({ input: { title, body: 'Posted by the e2e test.' } });
    await page.fill('#query', doc);
    await page.waitForSelector('#operation-field:not([hidden])');
    const options = await page.$$eval('#operation option', (os) => os.map((o) => o.value));
    assert(JSON.stringify(options) === '["NewPost","MyPosts"]', `operations offered: ${options}`);
    const created = await runOperation(page, doc, vars, 'NewPost');
    assert(created.data && created.data.createPost && created.data.createPost.title === title, JSON.stringify(created));
    assert(created.data.createPost.author.name === USER.name, 'the post has the wrong author');
    assert(JSON.parse(sent[sent.length - 1].body).operationName === 'NewPost', 'operationName NewPost was not sent');
    const mine = await runOperation(page, doc, vars, 'MyPosts');
    assert(mine.data.me.posts.some((p) => p.title === title), `me.posts: ${JSON.stringify(mine)}`);
  });

  let helper;
  await step('a messageAdded subscription shows a chat message as it is posted', async () => {
    await page.fill('#query', 'subscription Messages($room: String!) {\n  messageAdded(room: $room) {\n    id\n    room\n    body\n    sentAt\n    user { name }\n  }\n}');
    await page.fill('#variables', JSON.stringify({ room: ROOM }));
    await page.click('#run');
    await page.waitForFunction(() => document.querySelector('#sub-status')?.textContent === 'listening');
    assert(await page.isVisible('#stop'), 'no Stop button while subscribed');

    // Another client posts in the room over /ws/chat with the same account.
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.auth')).access);
    helper = await page.context().newPage();
    pages.push(['helper', helper]);
    watch(helper, 'helper', WATCH);
    await helper.goto(`${BASE_URL}/`, { waitUntil: 'domcontentloaded' });
    await openChat(helper, token, ROOM);
    await page.bringToFront(); // a background tab gets few animation frames: clicks would crawl
    // The server registers the subscription asynchronously: post until one arrives.
    const deadline = Date.now() + TIMEOUT;
    const seen = () =>
      page.evaluate(
        (body) => [...document.querySelectorAll('#events li.next pre')].some((p) => p.textContent.includes(JSON.stringify(body))),
        XSS,
      );
    for (;;) {
      await say(helper, ROOM, XSS);
      await page.waitForTimeout(400);
      if (await seen()) break;
      assert(Date.now() < deadline, 'no subscription event arrived within 10 s');
    }
    const first = await page.$eval('#events li.next', (li) => ({
      time: li.querySelector('time')?.textContent || '',
      kind: li.querySelector('.gq-event-kind')?.textContent || '',
      json: li.querySelector('pre')?.textContent || '',
    }));
    assert(/\d{2}:\d{2}:\d{2}\.\d{3}/.test(first.time), `the event has no timestamp: "${first.time}"`);
    assert(first.kind === 'next #1', `event label: ${first.kind}`);
    const event = JSON.parse(first.json);
    const m = event.data.messageAdded;
    assert(m.room === ROOM && m.body === XSS && m.user.name === USER.name, `event: ${first.json}`);
    const injected = await page.evaluate(() => document.querySelectorAll('#events b, #events img, #result-body img').length);
    assert(injected === 0, `the message created ${injected} element(s): server text was rendered as HTML`);
    await page.waitForTimeout(300); // an onerror handler would have fired by now
    await shot(page, 'graphiql-desktop-subscription');
  });

  await step('Stop sends complete and closes the subscription', async () => {
    const count = await page.$$eval('#events li.next', (lis) => lis.length);
    await page.click('#stop');
    await page.waitForFunction(() => document.querySelector('#sub-status')?.textContent === 'stopped');
    assert(!(await page.isVisible('#stop')), 'the Stop button is still shown');
    await say(helper, ROOM, `after stop ${tag}`);
    await page.waitForTimeout(600);
    const after = await page.$$eval('#events li.next', (lis) => lis.length);
    assert(after === count, `${after - count} event(s) arrived after Stop`);
    await assertNoProblems([['helper', helper]]);
    await helper.close();
    pages.splice(pages.findIndex(([name]) => name === 'helper'), 1);
  });

  await step('history keeps the operations and loads one back', async () => {
    await page.click('#tab-history');
    await page.waitForSelector('#history li button');
    const labels = await page.$$eval('#history li .gq-h-label', (ns) => ns.map((n) => n.textContent));
    assert(labels[0] === 'subscription Messages', `newest history entry: ${labels[0]}`);
    assert(labels.includes('mutation NewPost') && labels.includes('query User'), `history: ${labels.join(' | ')}`);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('switchboard.graphiql.history')));
    assert(Array.isArray(stored) && stored.length === labels.length && stored.length <= 20, 'history is not in localStorage');
    const index = labels.indexOf('query User');
    await page.click(`#history li:nth-child(${index + 1}) button`);
    assert((await page.inputValue('#query')).includes('user(id: $id)'), 'the history entry was not loaded');
    assert(JSON.parse(await page.inputValue('#variables')).id === userId, 'the history entry lost its variables');
    await page.click('#tab-docs');
  });

  await step('Insert in the docs writes a runnable operation', async () => {
    await page.fill('#docs-search', '');
    while (await page.isVisible('#docs-back')) await page.click('#docs-back');
    await page.click('#docs button[data-type="Query"]');
    await page.click('#docs li[data-field="products"] .gq-insert');
    const query = await page.inputValue('#query');
    assert(query.startsWith('query Products {') && query.includes('products(first: 10)'), `inserted: ${query}`);
    await page.click('#run');
    await page.waitForSelector('#result-meta[data-status="200"]');
    const body = await resultJson(page);
    assert(!body.errors && body.data.products, `the inserted query failed: ${JSON.stringify(body)}`);
    await page.click('#docs li[data-field="user"] .gq-insert');
    assert((await page.inputValue('#query')).includes('query User($id: ID!)'), 'user(id) was inserted without $id');
    assert('id' in JSON.parse(await page.inputValue('#variables')), 'no variables for the required id');
    await page.fill('#variables', JSON.stringify({ id: userId }));
    await page.click('#run');
    await page.waitForSelector('#result-meta[data-status="200"]');
    const user = await resultJson(page);
    assert(!user.errors && user.data.user.name === USER.name, `the inserted user query: ${JSON.stringify(user)}`);
    await page.click('#docs-back');
    await shot(page, 'graphiql-desktop');
  });

  await step('Sign out goes back to anonymous requests', async () => {
    await page.click('#signout');
    await page.waitForFunction(() => document.querySelector('#auth-chip')?.textContent === 'anonymous');
    const body = await runOperation(page, '{ me { id } }');
    assert(body.data && body.data.me === null, `me after sign-out: ${JSON.stringify(body)}`);
    assert(!sent[sent.length - 1].auth, 'a request after sign-out carried a token');
  });

  // A phone-sized context: a fresh browser profile, so the default query and no token.
  const mob = await openPage(browser, pages, 'phone', PHONE, WATCH);

  await step('on a phone the page fits the width, runs, and opens the docs', async () => {
    await mob.goto(`${BASE_URL}/graphiql`, { waitUntil: 'domcontentloaded' });
    await mob.waitForSelector('#docs[data-loaded="true"]', { state: 'attached' });
    assert(!(await mob.isVisible('#side')), 'the docs panel covers the editor on a phone at first');
    await mob.click('#run');
    await mob.waitForSelector('#result-meta[data-status="200"]');
    const body = await resultJson(mob);
    assert(body.data && body.data.products, `phone run: ${JSON.stringify(body)}`);
    const overflow = await mob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `the page scrolls sideways by ${overflow}px on a phone`);
    await shot(mob, 'graphiql-phone');
    await mob.click('#side-toggle');
    await mob.waitForSelector('#side', { state: 'visible' });
    await mob.click('#docs button[data-type="Query"]');
    await mob.waitForSelector('#docs li[data-field="products"]');
    await shot(mob, 'graphiql-phone-docs');
    await mob.click('#side-close');
    await mob.waitForSelector('#side', { state: 'hidden' });
  });

  await assertNoProblems(pages);
});
