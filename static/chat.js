// switchboard chat: REST sign-in (OAuth2 password grant), then /ws/chat (docs/PROTOCOL.md).
// No framework, no inline handlers, and user text only ever goes through textContent.

import { $, el, toast, AuthError, ApiError, LiveSocket, registerUser, Session } from '/static/session.js';

// ---------------------------------------------------------------- small helpers

const utf8 = new TextEncoder();
const ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const BODY_MAX_BYTES = 4096;
const TYPING_SEND_EVERY_MS = 2000;
const TYPING_SHOW_MS = 3000;
const JOIN_HISTORY = 50;
const ACK_TIMEOUT_MS = 10_000;

function randomHex(bytes) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a); // works outside secure contexts, unlike randomUUID
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

const newClientId = () => `c-${Date.now().toString(36)}-${randomHex(6)}`;

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

function shortTime(date) {
  if (Number.isNaN(date.getTime())) return '';
  return date.toDateString() === new Date().toDateString() ? timeFmt.format(date) : dateTimeFmt.format(date);
}

// ---------------------------------------------------------------- REST session (tokens)
// Shared with /dashboard and /graphiql: static/session.js.

const session = new Session();

// ---------------------------------------------------------------- sign-in form

let authMode = 'signin';

function setAuthMode(mode) {
  authMode = mode;
  const register = mode === 'register';
  $('tab-signin').setAttribute('aria-selected', String(!register));
  $('tab-register').setAttribute('aria-selected', String(register));
  $('name-field').hidden = !register;
  $('password-hint').hidden = !register;
  $('signin').hidden = register;
  $('register').hidden = !register;
  $('password').autocomplete = register ? 'new-password' : 'current-password';
  clearAuthErrors();
}

function clearAuthErrors() {
  $('auth-error').hidden = true;
  $('auth-error').textContent = '';
  for (const span of document.querySelectorAll('#auth-form .field-error')) {
    span.hidden = true;
    span.textContent = '';
  }
  for (const input of document.querySelectorAll('#auth-form .input')) input.classList.remove('invalid');
  $('password-hint').hidden = authMode !== 'register';
}

function showAuthErrors(message, fieldErrors = []) {
  let shown = 0;
  for (const { field, message: text } of fieldErrors) {
    const span = document.querySelector(`#auth-form .field-error[data-for="${CSS.escape(field)}"]`);
    const input = $(field);
    if (!span || !input) continue;
    span.textContent = text;
    span.hidden = false;
    input.classList.add('invalid');
    if (field === 'password') $('password-hint').hidden = true;
    shown += 1;
  }
  if (message && (shown === 0 || shown < fieldErrors.length || fieldErrors.length === 0)) {
    $('auth-error').textContent = message;
    $('auth-error').hidden = false;
  }
}

function validateAuthForm(register) {
  const errors = [];
  const email = $('email').value.trim();
  const password = $('password').value;
  if (register && !$('name').value.trim()) errors.push({ field: 'name', message: 'Tell the others your name.' });
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) errors.push({ field: 'email', message: 'Enter an email address like name@example.com.' });
  if (register ? [...password].length < 8 : password.length === 0) {
    errors.push({ field: 'password', message: register ? 'Too short: use at least 8 characters.' : 'Enter your password.' });
  }
  return errors;
}

async function onAuthSubmit(event) {
  event.preventDefault();
  const register = authMode === 'register';
  clearAuthErrors();
  const invalid = validateAuthForm(register);
  if (invalid.length) {
    showAuthErrors('', invalid);
    return;
  }
  const email = $('email').value.trim();
  const password = $('password').value;
  const button = register ? $('register') : $('signin');
  const label = button.textContent;
  button.disabled = true;
  button.textContent = register ? 'Creating account…' : 'Signing in…';
  try {
    if (register) await registerUser(email, $('name').value.trim(), password);
    await session.signIn(email, password);
    $('password').value = '';
    await startChat();
  } catch (e) {
    if (e instanceof ApiError) showAuthErrors(e.message, e.problem.errors || []);
    else showAuthErrors('The server cannot be reached. Try again in a moment.');
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

// ---------------------------------------------------------------- chat state

/** @type {{id:number,name:string,email?:string,role?:string}|null} */
let me = null;
/** name -> room state, in the order the user joined them */
const rooms = new Map();
let current = null;
let allRooms = [];
let lastTypingSent = 0;
let roomsTimer = null;

const CHAT_KEY = 'switchboard.chat';

function saveChatState() {
  sessionStorage.setItem(CHAT_KEY, JSON.stringify({ rooms: [...rooms.keys()], current }));
}

function loadChatState() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(CHAT_KEY));
    if (saved && Array.isArray(saved.rooms)) return saved;
  } catch {
    /* nothing stored */
  }
  return { rooms: [], current: null };
}

function roomState(name) {
  let r = rooms.get(name);
  if (!r) {
    r = {
      name,
      status: 'joining', // joining | joined
      messages: new Map(), // id -> message
      pending: new Map(), // client_id -> {clientId, body, created, state: queued|sent|failed, error, afterId}
      members: new Map(), // user id -> user
      typing: new Map(), // user id -> {name, until}
      hasMore: true,
      loadingOlder: false,
      historyQueue: [], // purposes of outstanding history requests: 'older' | 'gap'
      gapUntil: null,
      unread: 0,
    };
    rooms.set(name, r);
  }
  return r;
}

function maxId(r) {
  let max = 0;
  for (const id of r.messages.keys()) if (id > max) max = id;
  return max;
}

function minId(r) {
  let min = Infinity;
  for (const id of r.messages.keys()) if (id < min) min = id;
  return min === Infinity ? null : min;
}

function mergeMessages(r, list) {
  let added = 0;
  for (const m of list || []) {
    if (!m || typeof m.id !== 'number') continue;
    if (!r.messages.has(m.id)) added += 1;
    r.messages.set(m.id, m);
  }
  return added;
}

// ---------------------------------------------------------------- WebSocket connection

function setStatus(state, text) {
  const s = $('conn-status');
  s.dataset.state = state;
  s.textContent = text;
  s.hidden = false;
}

const live = new LiveSocket(session, '/ws/chat', {
  onFrame: handleFrame,
  onStatus: setStatus,
  onClose: onDisconnected,
});

function send(frame) {
  return live.send(frame);
}

function onDisconnected(ev, wanted) {
  for (const r of rooms.values()) {
    r.status = 'joining';
    r.typing.clear();
    r.loadingOlder = false;
    r.historyQueue = [];
  }
  renderAll();
  if (wanted && ev.code === 1008) toast('The server closed the connection (too many messages).', { code: '1008' });
}

function sendJoin(r) {
  r.status = 'joining';
  send({ type: 'join', room: r.name });
}

function requestHistory(r, before, purpose, limit = JOIN_HISTORY) {
  const frame = { type: 'history', room: r.name, limit };
  if (before) frame.before = before;
  if (send(frame)) {
    r.historyQueue.push(purpose);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- server frames

function handleFrame(f) {
  switch (f.type) {
    case 'ready':
      return onReady(f);
    case 'joined':
      return onJoined(f);
    case 'message':
      return onMessage(f);
    case 'presence':
      return onPresence(f);
    case 'typing':
      return onTyping(f);
    case 'history':
      return onHistory(f);
    case 'left':
      return onLeft();
    case 'error':
      return onError(f);
    default:
      return undefined;
  }
}

function onReady(f) {
  live.ready();
  if (f.user) me = { ...me, ...f.user };
  showWhoami();
  setStatus('online', 'online');
  for (const r of rooms.values()) sendJoin(r);
  renderAll();
}

function onJoined(f) {
  const r = rooms.get(f.room);
  if (!r) return; // left meanwhile
  const history = Array.isArray(f.history) ? f.history : [];
  const knownMax = maxId(r);
  const hadMessages = r.messages.size > 0;
  const before = new Set(r.messages.keys());
  r.status = 'joined';
  r.members = new Map((f.members || []).map((u) => [u.id, u]));
  mergeMessages(r, history);
  if (!hadMessages) {
    r.hasMore = history.length >= JOIN_HISTORY;
  } else if (history.length >= JOIN_HISTORY && history[0].id > knownMax + 1) {
    // A long gap since the drop: page back until we meet what we had.
    r.gapUntil = knownMax;
    requestHistory(r, history[0].id, 'gap', 100);
  }
  reconcilePending(r, before);
  for (const p of r.pending.values()) {
    if (p.state === 'queued') sendPending(r, p);
  }
  if (f.room === current) renderCurrent({ toBottom: !hadMessages });
  renderRoomList();
  saveChatState();
  if (!allRooms.some((x) => x.name === f.room)) loadAllRooms();
}

/** Messages sent on a connection that dropped before their echo: delivered if history has them. */
function reconcilePending(r, knownBefore) {
  const fresh = [...r.messages.values()]
    .filter((m) => !knownBefore.has(m.id) && me && m.user && m.user.id === me.id)
    .sort((a, b) => a.id - b.id);
  const used = new Set();
  for (const p of [...r.pending.values()]) {
    if (p.state !== 'sent') continue;
    const hit = fresh.find((m) => !used.has(m.id) && m.id > p.afterId && m.body === p.body);
    if (hit) {
      used.add(hit.id);
      r.pending.delete(p.clientId);
    } else {
      p.state = 'failed';
      p.error = 'Not delivered (connection lost).';
    }
  }
}

function onMessage(f) {
  const r = rooms.get(f.room);
  if (!r) return;
  if (f.client_id) r.pending.delete(f.client_id);
  const isNew = !r.messages.has(f.id);
  r.messages.set(f.id, { id: f.id, user: f.user, body: f.body, sent_at: f.sent_at });
  if (f.user) r.typing.delete(f.user.id);
  const mine = me && f.user && f.user.id === me.id;
  if (isNew && !mine && (f.room !== current || document.hidden)) r.unread += 1;
  if (f.room === current) renderCurrent({ toBottom: mine });
  renderRoomList();
}

function onPresence(f) {
  const r = rooms.get(f.room);
  if (!r) return;
  if (f.joined) r.members.set(f.joined.id, f.joined);
  if (f.left) {
    r.members.delete(f.left.id);
    r.typing.delete(f.left.id);
  }
  if (f.room === current) {
    renderMembers();
    renderTyping();
  }
}

function onTyping(f) {
  const r = rooms.get(f.room);
  if (!r || !f.user || (me && f.user.id === me.id)) return;
  r.typing.set(f.user.id, { name: f.user.name, until: Date.now() + TYPING_SHOW_MS });
  if (f.room === current) renderTyping();
  setTimeout(() => {
    if (f.room === current) renderTyping();
  }, TYPING_SHOW_MS + 50);
}

function onHistory(f) {
  const r = rooms.get(f.room);
  if (!r) return;
  const purpose = r.historyQueue.shift() || 'older';
  const list = Array.isArray(f.messages) ? f.messages : [];
  mergeMessages(r, list);
  if (purpose === 'gap') {
    const oldest = list.length ? list[0].id : null;
    if (f.has_more && oldest !== null && r.gapUntil !== null && oldest > r.gapUntil + 1) {
      requestHistory(r, oldest, 'gap', 100);
    } else {
      r.gapUntil = null;
    }
    if (f.room === current) renderCurrent({});
    return;
  }
  r.loadingOlder = false;
  r.hasMore = Boolean(f.has_more) && list.length > 0;
  if (f.room === current) renderCurrent({ keepAnchor: true });
}

function onLeft() {
  loadAllRooms();
}

function onError(f) {
  const code = f.code || 'ERROR';
  if (f.client_id) {
    for (const r of rooms.values()) {
      const p = r.pending.get(f.client_id);
      if (!p) continue;
      p.state = 'failed';
      p.error = code === 'RATE_LIMITED' ? 'Not sent: slow down a little.' : f.message || code;
      if (r.name === current) renderCurrent({});
    }
  }
  if (code === 'NOT_A_MEMBER') {
    // Our idea of membership is stale (e.g. a race with leave): join again.
    for (const r of rooms.values()) if (r.status === 'joined' && String(f.message || '').endsWith(` ${r.name} first`)) sendJoin(r);
  }
  const text = code === 'RATE_LIMITED' ? 'You are sending too fast; some frames were dropped.' : f.message || 'The server refused a frame.';
  toast(text, { code, kind: code === 'INTERNAL_SERVER_ERROR' || code === 'UNAVAILABLE' ? 'error' : 'warn' });
}

// ---------------------------------------------------------------- user actions

function joinRoom(raw) {
  const name = String(raw || '').trim().toLowerCase();
  if (!ROOM_RE.test(name)) {
    toast('Room names are 1–64 characters: a–z, 0–9, - and _, starting with a letter or digit.', { code: 'ROOM' });
    return false;
  }
  const existing = rooms.get(name);
  if (existing) {
    if (existing.status !== 'joined') sendJoin(existing); // a lost join: ask again
    switchTo(name);
    return true;
  }
  const r = roomState(name);
  sendJoin(r);
  switchTo(name);
  saveChatState();
  return true;
}

function leaveRoom(name) {
  if (!rooms.has(name)) return;
  // Forget it locally at once (frames still in flight for it are ignored); `left` only confirms.
  send({ type: 'leave', room: name });
  rooms.delete(name);
  switchTo(rooms.keys().next().value || null);
  renderAllRooms();
}

function switchTo(name) {
  current = name;
  lastTypingSent = 0;
  const r = name ? rooms.get(name) : null;
  if (r) r.unread = 0;
  saveChatState();
  renderAll({ toBottom: true });
  if (r && window.matchMedia('(min-width: 701px)').matches) $('message-input').focus();
}

function sendPending(r, p) {
  if (r.status === 'joined' && send({ type: 'message', room: r.name, body: p.body, client_id: p.clientId })) {
    p.state = 'sent';
    p.afterId = maxId(r);
    p.sentAt = Date.now();
    // The echo (or an error frame with our client_id) normally comes within milliseconds. A
    // frame refused without its client_id would otherwise stay "Sending…" for ever.
    const ws = live.ws;
    setTimeout(() => {
      if (r.pending.get(p.clientId) === p && p.state === 'sent' && live.ws === ws && ws) {
        p.state = 'failed';
        p.error = 'No answer from the server; it may have dropped this message.';
        if (rooms.get(r.name) === r && r.name === current) renderCurrent({});
      }
    }, ACK_TIMEOUT_MS);
  } else {
    p.state = 'queued';
  }
}

function onComposerSubmit(event) {
  event.preventDefault();
  const r = current ? rooms.get(current) : null;
  const input = $('message-input');
  if (!r) return;
  const body = input.value.trim();
  if (!body) return;
  if (utf8.encode(body).length > BODY_MAX_BYTES) {
    toast(`A message is at most ${BODY_MAX_BYTES} bytes.`, { code: 'TOO_LONG' });
    return;
  }
  const p = { clientId: newClientId(), body, created: Date.now(), state: 'queued', error: '', afterId: maxId(r) };
  r.pending.set(p.clientId, p);
  sendPending(r, p);
  input.value = '';
  autoGrow();
  // Let the next "typing" go out a second after a send, not two: one extra frame at most,
  // so quick senders stay well inside the server's frame budget.
  lastTypingSent = Date.now() - TYPING_SEND_EVERY_MS + 1000;
  renderCurrent({ toBottom: true });
}

function onComposerInput() {
  autoGrow();
  const r = current ? rooms.get(current) : null;
  if (!r || r.status !== 'joined' || !$('message-input').value.trim()) return;
  const now = Date.now();
  if (now - lastTypingSent >= TYPING_SEND_EVERY_MS) {
    lastTypingSent = now;
    send({ type: 'typing', room: r.name });
  }
}

function autoGrow() {
  const input = $('message-input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight + 2, 144)}px`;
}

function loadOlder() {
  const r = current ? rooms.get(current) : null;
  if (!r || r.loadingOlder || !r.hasMore || r.status !== 'joined') return;
  const oldest = minId(r);
  if (oldest === null) {
    r.hasMore = false;
    renderCurrent({});
    return;
  }
  if (requestHistory(r, oldest, 'older')) {
    r.loadingOlder = true;
    const name = r.name;
    setTimeout(() => {
      const again = rooms.get(name);
      if (again && again.loadingOlder) {
        again.loadingOlder = false;
        if (name === current) renderCurrent({});
      }
    }, 10_000);
    renderCurrent({});
  }
}

function onMessageListClick(event) {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const r = current ? rooms.get(current) : null;
  const p = r && r.pending.get(button.dataset.clientId);
  if (!p) return;
  if (button.dataset.action === 'retry') {
    p.error = '';
    sendPending(r, p);
  } else if (button.dataset.action === 'discard') {
    r.pending.delete(p.clientId);
  }
  renderCurrent({});
}

async function loadAllRooms() {
  if (!session.signedIn) return;
  try {
    const body = await session.json('/api/v1/rooms?limit=100');
    const list = Array.isArray(body) ? body : body.data || body.items || [];
    allRooms = list.filter((x) => x && typeof x.name === 'string');
    renderAllRooms();
  } catch (e) {
    if (!(e instanceof AuthError)) $('all-count').textContent = '(unavailable)';
  }
}

// ---------------------------------------------------------------- rendering

function renderAll(opts = {}) {
  renderRoomList();
  renderAllRooms();
  renderCurrent(opts);
}

function updateTitle() {
  let unread = 0;
  for (const r of rooms.values()) unread += r.unread;
  document.title = unread ? `(${unread}) Chat · switchboard` : 'Chat · switchboard';
}

function roomButton(name, { currentRoom, unread = 0, note = '', title = '' }) {
  const b = el('button', 'room-item');
  b.type = 'button';
  b.dataset.room = name;
  b.dataset.testid = `room-${name}`;
  if (title) b.title = title;
  if (currentRoom) b.setAttribute('aria-current', 'true');
  b.append(el('span', 'room-label', name));
  if (note) b.append(el('span', 'joining', note));
  if (unread > 0) {
    const u = el('span', 'unread', unread > 99 ? '99+' : unread);
    u.setAttribute('aria-label', `${unread} unread`);
    b.append(u);
  }
  return b;
}

function renderRoomList() {
  const ul = $('my-rooms');
  ul.replaceChildren();
  for (const r of rooms.values()) {
    const li = el('li');
    li.append(roomButton(r.name, { currentRoom: r.name === current, unread: r.unread, note: r.status === 'joined' ? '' : '…' }));
    ul.append(li);
  }
  if (!ul.children.length) ul.append(el('li', 'empty', 'None yet.'));
  updateTitle();
}

function renderAllRooms() {
  const ul = $('all-rooms');
  ul.replaceChildren();
  const others = allRooms.filter((x) => !rooms.has(x.name));
  $('all-count').textContent = allRooms.length ? `(${allRooms.length})` : '';
  for (const room of others) {
    const li = el('li');
    li.append(roomButton(room.name, { title: room.topic || `Join #${room.name}` }));
    ul.append(li);
  }
  if (!others.length) ul.append(el('li', 'empty', allRooms.length ? 'You are in every room.' : 'No rooms yet: create one.'));
}

function renderCurrent({ toBottom = false, keepAnchor = false } = {}) {
  const r = current ? rooms.get(current) : null;
  $('room-title').textContent = r ? `#${r.name}` : 'No room yet';
  $('leave').hidden = !r;
  $('empty-room').hidden = Boolean(r);
  const ready = Boolean(r && r.status === 'joined');
  $('message-input').disabled = !r;
  $('send').disabled = !r;
  $('message-input').placeholder = !r ? 'Join a room to talk' : ready ? `Message #${r.name}` : 'Connecting… (messages wait and are sent on join)';
  renderMessages(r, { toBottom, keepAnchor });
  renderMembers();
  renderTyping();
}

function renderMessages(r, { toBottom, keepAnchor }) {
  const box = $('messages');
  const list = $('message-list');
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const oldHeight = box.scrollHeight;
  const oldTop = box.scrollTop;

  const older = $('older');
  const start = $('history-start');
  if (!r) {
    list.replaceChildren();
    older.hidden = true;
    start.hidden = true;
    return;
  }
  const joined = r.status === 'joined';
  older.hidden = !(joined && r.hasMore && r.messages.size > 0);
  start.hidden = !(joined && !r.hasMore);
  $('load-older').disabled = r.loadingOlder;
  $('load-older').textContent = r.loadingOlder ? 'Loading…' : 'Load older messages';

  const items = [...r.messages.values()].sort((a, b) => a.id - b.id);
  const frag = document.createDocumentFragment();
  let prev = null;
  for (const m of items) {
    frag.append(messageItem(m, prev));
    prev = m;
  }
  for (const p of r.pending.values()) {
    const m = { user: me, body: p.body, sent_at: new Date(p.created).toISOString(), pending: p };
    frag.append(messageItem(m, prev));
    prev = m;
  }
  list.replaceChildren(frag);

  if (keepAnchor) box.scrollTop = box.scrollHeight - oldHeight + oldTop;
  else if (toBottom || nearBottom) box.scrollTop = box.scrollHeight;
}

function messageItem(m, prev) {
  const li = el('li', 'message');
  const userId = m.user ? m.user.id : null;
  const sent = new Date(m.sent_at);
  const mine = me && userId === me.id;
  if (mine) li.classList.add('mine');
  if (
    prev &&
    prev.user &&
    prev.user.id === userId &&
    !(prev.pending && prev.pending.state === 'failed') &&
    sent - new Date(prev.sent_at) < 5 * 60_000
  ) {
    li.classList.add('continued');
  }
  if (m.pending) {
    li.classList.add(m.pending.state === 'failed' ? 'failed' : 'pending');
    li.dataset.clientId = m.pending.clientId;
  } else {
    li.dataset.id = String(m.id);
  }

  const meta = el('div', 'meta');
  meta.append(el('span', 'author', m.user ? m.user.name : 'someone'));
  const time = el('time', '', shortTime(sent));
  if (!Number.isNaN(sent.getTime())) {
    time.dateTime = sent.toISOString();
    time.title = fullFmt.format(sent);
  }
  meta.append(time);
  li.append(meta, el('div', 'body', m.body));

  if (m.pending) {
    const state = el('div', 'state');
    if (m.pending.state === 'failed') {
      state.append(document.createTextNode(m.pending.error || 'Not delivered.'));
      for (const [action, label] of [
        ['retry', 'Retry'],
        ['discard', 'Discard'],
      ]) {
        const b = el('button', 'btn btn-ghost btn-small', label);
        b.type = 'button';
        b.dataset.action = action;
        b.dataset.clientId = m.pending.clientId;
        state.append(b);
      }
    } else {
      state.textContent = m.pending.state === 'queued' ? 'Waiting for the connection…' : 'Sending…';
    }
    li.append(state);
  }
  return li;
}

function renderMembers() {
  const r = current ? rooms.get(current) : null;
  const ul = $('members');
  ul.replaceChildren();
  const members = r ? [...r.members.values()].sort((a, b) => a.name.localeCompare(b.name)) : [];
  for (const u of members) {
    const li = el('li');
    li.dataset.userId = String(u.id);
    li.append(el('span', 'member-name', u.name));
    if (me && u.id === me.id) li.append(el('span', 'you', '(you)'));
    ul.append(li);
  }
  $('member-count').textContent = r ? `(${members.length})` : '';
  $('member-strip').textContent = r && members.length ? `${members.length} here: ${members.map((u) => u.name).join(', ')}` : '';
}

function renderTyping() {
  const r = current ? rooms.get(current) : null;
  const box = $('typing');
  if (!r) {
    box.textContent = '';
    return;
  }
  const now = Date.now();
  for (const [id, t] of r.typing) if (t.until <= now) r.typing.delete(id);
  const names = [...r.typing.values()].map((t) => t.name);
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names[0]}, ${names[1]} and ${names.length - 2} more are typing…`;
  box.textContent = text;
}

function showWhoami() {
  const w = $('whoami');
  w.textContent = me ? me.name : '';
  w.title = me && me.email ? me.email : '';
  w.hidden = !me;
}

// ---------------------------------------------------------------- views

function showAuth(message) {
  live.stop();
  clearInterval(roomsTimer);
  rooms.clear();
  current = null;
  me = null;
  allRooms = [];
  $('chat-view').hidden = true;
  $('auth-view').hidden = false;
  $('signout').hidden = true;
  $('whoami').hidden = true;
  $('conn-status').hidden = true;
  document.title = 'Chat · switchboard';
  setAuthMode(authMode);
  if (message) showAuthErrors(message);
  $(authMode === 'register' ? 'name' : 'email').focus();
}

async function startChat() {
  try {
    me = await session.json('/api/v1/users/me');
  } catch (e) {
    if (e instanceof AuthError || (e instanceof ApiError && e.status === 401)) {
      session.clear();
      showAuth('Your session has ended: sign in again.');
      return;
    }
    me = null; // offline: the ready frame will tell us who we are
  }
  $('auth-view').hidden = true;
  $('chat-view').hidden = false;
  $('signout').hidden = false;
  showWhoami();

  const saved = loadChatState();
  for (const name of saved.rooms) if (ROOM_RE.test(name)) roomState(name);
  current = saved.current && rooms.has(saved.current) ? saved.current : rooms.keys().next().value || null;
  if (window.matchMedia('(max-width: 700px)').matches) $('browse').open = false;
  renderAll({ toBottom: true });
  live.start();
  loadAllRooms();
  clearInterval(roomsTimer);
  roomsTimer = setInterval(() => {
    if (!document.hidden) loadAllRooms();
  }, 30_000);
}

async function signOut() {
  sessionStorage.removeItem(CHAT_KEY);
  live.stop();
  await session.signOut();
  showAuth();
}

// ---------------------------------------------------------------- wiring

function init() {
  $('tab-signin').addEventListener('click', () => setAuthMode('signin'));
  $('tab-register').addEventListener('click', () => setAuthMode('register'));
  $('auth-form').addEventListener('submit', onAuthSubmit);
  $('signout').addEventListener('click', signOut);

  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (joinRoom($('room-name').value)) $('room-name').value = '';
  });
  for (const id of ['my-rooms', 'all-rooms']) {
    $(id).addEventListener('click', (e) => {
      const b = e.target.closest('button[data-room]');
      if (b) joinRoom(b.dataset.room);
    });
  }
  $('leave').addEventListener('click', () => current && leaveRoom(current));
  $('load-older').addEventListener('click', loadOlder);
  $('message-list').addEventListener('click', onMessageListClick);
  $('composer').addEventListener('submit', onComposerSubmit);
  $('message-input').addEventListener('input', onComposerInput);
  $('message-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && current && rooms.get(current)) {
      rooms.get(current).unread = 0;
      renderRoomList();
    }
  });

  session.onExpired = () => showAuth('Your session has ended: sign in again.');

  if (session.signedIn) startChat();
  else showAuth();
}

init();
