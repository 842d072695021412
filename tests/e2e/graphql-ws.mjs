// graphql-transport-ws as the reference client (`graphql-ws` on npm, over `ws`) sees it:
// a subscription that delivers and completes, and every close code the protocol defines.
// What a conforming client can meet (4403 bad token, 4406 no common sub-protocol, 4408
// no `connection_init` in time) is seen through `createClient`; what only a misbehaving
// client causes (4400, 4401, 4409, 4429) is sent over a bare socket with the package's own
// message types and close codes.
//
// Env: GRAPHQL_URL (http://host:port/graphql), TOKEN (a valid access token), ROOM (a room
// the token's user may read). The server's init timeout must be short (the test sets it).

import { createClient, CloseCode, MessageType, stringifyMessage } from 'graphql-ws';
import WebSocket from 'ws';

const httpUrl = process.env.GRAPHQL_URL;
const url = httpUrl.replace(/^http/, 'ws');
const token = process.env.TOKEN;
const room = process.env.ROOM;
const failures = [];
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  if (!ok) failures.push(name);
};
/** Gives up on a promise that would otherwise hang the test. */
const guard = (promise, what, ms = 10_000) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)),
  ]);

/** Opens a client eagerly and resolves with the code of the close it is handed. */
function closeCodeOf(options) {
  return guard(
    new Promise((resolve) => {
      createClient({
        url,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => {},
        on: { closed: (event) => resolve(event.code) },
        ...options,
      });
    }),
    'close',
  );
}

// 1. The reference client subscribes, gets a message posted over HTTP, then completes.
{
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { Authorization: `Bearer ${token}` },
  });
  // From seq 0 of the (new, empty) room: the message posted below is delivered whether the
  // server has registered the subscription by then or not (replayed, or live).
  const subscription = client.iterate({
    query: `subscription($room: String!) { messageAdded(room: $room, since: 0) { body seq } }`,
    variables: { room },
  });
  const first = subscription.next();
  const res = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: `mutation($room: String!) { sendMessage(room: $room, body: "over graphql-ws") { seq } }`,
      variables: { room },
    }),
  });
  check('sendMessage answers 200', res.status === 200);
  const result = await guard(first, 'subscription');
  check('a subscription delivers', result.value?.data?.messageAdded?.body === 'over graphql-ws', JSON.stringify(result.value));
  const ended = await guard(subscription.return(), 'complete');
  check('the client completes the subscription', ended.done === true);
  const single = await guard(
    new Promise((resolve, reject) => {
      let value;
      client.subscribe({ query: '{ __typename }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
    }),
    'query',
  );
  check('a query runs over the socket', single?.data?.__typename === 'Query', JSON.stringify(single));
  await client.dispose();
}

// 2. Close codes a conforming client can meet.
check(
  '4403 for a bad token in connection_init',
  (await closeCodeOf({ connectionParams: { Authorization: 'Bearer not.a.token' } })) === CloseCode.Forbidden,
);
// A client offering no sub-protocol (a client offering only others would itself fail the
// handshake, RFC 6455 4.1, before any close code could reach it).
class NoProtocol extends WebSocket {
  constructor(address) {
    super(address);
  }
}
check(
  '4406 when no common sub-protocol was offered',
  (await closeCodeOf({ webSocketImpl: NoProtocol })) === CloseCode.SubprotocolNotAcceptable,
);
class SilentInit extends WebSocket {
  send(data) {
    if (JSON.parse(data).type !== MessageType.ConnectionInit) super.send(data);
  }
}
check(
  '4408 when connection_init does not come in time',
  (await closeCodeOf({ webSocketImpl: SilentInit, connectionAckWaitTimeout: 60_000 })) ===
    CloseCode.ConnectionInitialisationTimeout,
);

// 3. Close codes only a misbehaving client causes, over a bare socket.
function rawCloseCode(messages) {
  return guard(
    new Promise((resolve, reject) => {
      const socket = new WebSocket(url, 'graphql-transport-ws');
      socket.on('error', reject);
      socket.on('close', (code) => resolve(code));
      socket.on('open', async () => {
        for (const message of messages) {
          if (message === 'await-ack') {
            await new Promise((r) => socket.once('message', r));
          } else {
            socket.send(typeof message === 'string' ? message : stringifyMessage(message));
          }
        }
      });
    }),
    'raw close',
  );
}
const init = { type: MessageType.ConnectionInit, payload: { Authorization: `Bearer ${token}` } };
const watch = (id) => ({
  id,
  type: MessageType.Subscribe,
  payload: { query: `subscription { messageAdded(room: "${room}") { seq } }` },
});
check('4400 for a message that is not JSON', (await rawCloseCode(['{nope'])) === CloseCode.BadRequest);
check(
  '4400 for an unknown message type',
  (await rawCloseCode([init, 'await-ack', '{"type":"hello"}'])) === CloseCode.BadRequest,
);
check('4401 for subscribe before connection_ack', (await rawCloseCode([watch('1')])) === CloseCode.Unauthorized);
check(
  '4409 for a second operation with a running id',
  (await rawCloseCode([init, 'await-ack', watch('1'), watch('1')])) === CloseCode.SubscriberAlreadyExists,
);
check(
  '4429 for a second connection_init',
  (await rawCloseCode([init, 'await-ack', init])) === CloseCode.TooManyInitialisationRequests,
);

if (failures.length) {
  console.error(`${failures.length} check(s) failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log("all graphql-ws checks passed");
process.exit(0);
