// switchboard chat: REST sign-in (OAuth2 password grant), then /ws/chat (docs/PROTOCOL.md).
// No framework, no inline handlers, and user text only ever goes through textContent.

import {
  $,
  el,
  svg,
  toast,
  errorText,
  formatFullTime,
  formatShortTime,
  okOrThrow,
  sessionEndedText,
  setConnStatus,
  AuthError,
  AuthForm,
  ApiError,
  LiveSocket,
  Session,
} from '/static/session.js';

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

// ---------------------------------------------------------------- REST session (tokens)
// Shared with /dashboard and /graphiql, as is the sign-in form: static/session.js.

const session = new Session();
const authForm = new AuthForm(session, { onSignedIn: () => startChat() });

// ---------------------------------------------------------------- chat state

/** @type {{id:number,name:string,email?:string,role?:string}|null} */
let me = null;
/** name -> room state, in the order the user joined them */
const rooms = new Map();
let current = null;
let allRooms = [];
/** name -> the room as REST shows it ({visibility, created_by, last_seq, ...}) */
const roomInfo = new Map();
let lastTypingSent = 0;
let roomsTimer = null;
/** A notice about a room that is gone from the list (removed, not found): {text, kind}. */
let notice = null;
/** The message whose Delete button was pressed once: {id, until}. */
let confirmDelete = null;

const CHAT_KEY = 'switchboard.chat';

/** Rooms, the current one and unacknowledged messages survive a reload of the tab. */
function saveChatState() {
  const outbox = {};
  for (const r of rooms.values()) {
    const list = [...r.pending.values()].map((p) => ({ clientId: p.clientId, body: p.body, created: p.created }));
    if (list.length) outbox[r.name] = list;
  }
  sessionStorage.setItem(CHAT_KEY, JSON.stringify({ user: me ? me.id : null, rooms: [...rooms.keys()], current, outbox }));
}

function loadChatState() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(CHAT_KEY));
    if (saved && Array.isArray(saved.rooms)) return saved;
  } catch {
    /* nothing stored */
  }
  return { rooms: [], current: null, outbox: {} };
}

function roomState(name) {
  let r = rooms.get(name);
  if (!r) {
    r = {
      name,
      status: 'joining', // joining | joined
      messages: new Map(), // id -> message
      lastSeq: 0, // the newest seq this view has (what a re-join asks to resume after)
      synced: false, // whether `messages` and `lastSeq` are a view of the room to resume from
      pending: new Map(), // client_id -> {clientId, body, created, state: queued|sent|failed, error, retryable}
      members: new Map(), // user id -> user, online now
      roster: null, // [{user, joined_at}] from GET members, or null before it loaded
      rosterError: '',
      rosterStale: true,
      typing: new Map(), // user id -> {name, until}
      hasMore: true,
      loadingOlder: false,
      unread: 0,
    };
    rooms.set(name, r);
  }
  return r;
}

const seqOf = (m) => (typeof m.seq === 'number' ? m.seq : m.id);

function oldestId(r) {
  let min = Infinity;
  for (const id of r.messages.keys()) if (id < min) min = id;
  return min === Infinity ? null : min;
}

/** A message as this page keeps it (the server's message object, without its frame fields). */
function stored(m) {
  return { id: m.id, seq: m.seq, room: m.room, user: m.user, body: m.body, sent_at: m.sent_at };
}

function mergeMessages(r, list) {
  let added = 0;
  for (const m of list || []) {
    if (!m || typeof m.id !== 'number') continue;
    if (!r.messages.has(m.id)) added += 1;
    r.messages.set(m.id, stored(m));
    if (typeof m.seq === 'number' && m.seq > r.lastSeq) r.lastSeq = m.seq;
  }
  return added;
}

function info(name) {
  return roomInfo.get(name) || null;
}

function isPrivate(name) {
  return info(name)?.visibility === 'private';
}

/** Owners and admins moderate a room: members, deleting messages. */
function isModerator(name) {
  const room = info(name);
  if (!me) return false;
  return me.role === 'admin' || Boolean(room && room.created_by === me.id);
}

// ---------------------------------------------------------------- WebSocket connection

const live = new LiveSocket(session, '/ws/chat', {
  onFrame: handleFrame,
  onStatus: setConnStatus,
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
    // Not acknowledged: sent again, with the same client_id, once the room is joined again.
    for (const p of r.pending.values()) if (p.state === 'sent') p.state = 'queued';
  }
  renderAll();
  if (wanted && ev.code === 1008) toast('The server closed the connection (too many messages).', { code: '1008' });
}

/** Joins (again): with `since`, the server sends only what this view has not seen. */
function sendJoin(r) {
  r.status = 'joining';
  const frame = { type: 'join', room: r.name };
  if (r.synced) frame.since = r.lastSeq;
  send(frame);
}

// ---------------------------------------------------------------- server frames

/** What each server frame type does; others are ignored. */
const FRAME_HANDLERS = new Map([
  ['ready', onReady],
  ['joined', onJoined],
  ['message', onMessage],
  ['deleted', onDeleted],
  ['presence', onPresence],
  ['typing', onTyping],
  ['history', onHistory],
  ['left', onLeft],
  ['error', onError],
]);

function handleFrame(f) {
  FRAME_HANDLERS.get(f.type)?.(f);
}

function onReady(f) {
  live.ready();
  if (f.user) me = { ...me, ...f.user };
  showWhoami();
  setConnStatus('online', 'online');
  for (const r of rooms.values()) sendJoin(r);
  renderAll();
}

function onJoined(f) {
  const r = rooms.get(f.room);
  if (!r) return; // left meanwhile
  const history = Array.isArray(f.history) ? f.history : [];
  const hadMessages = r.messages.size > 0;
  r.status = 'joined';
  r.members = new Map((f.members || []).map((u) => [u.id, u]));
  if (f.recovered === true && r.synced) {
    // Exactly what came after our last seq: nothing missing, nothing twice.
    mergeMessages(r, history);
  } else {
    // Too much missed (or a first join): the view starts again from the newest page.
    r.messages = new Map();
    r.lastSeq = 0;
    mergeMessages(r, history);
    r.hasMore = history.length >= JOIN_HISTORY;
    r.loadingOlder = false;
  }
  if (typeof f.last_seq === 'number' && f.last_seq > r.lastSeq) r.lastSeq = f.last_seq;
  r.synced = true;
  // Unacknowledged messages go again under their client_id: one already stored is only
  // acknowledged (same id and seq), never stored twice.
  for (const p of r.pending.values()) {
    if (p.state === 'queued' || p.state === 'sent' || (p.state === 'failed' && p.retryable)) sendPending(r, p);
  }
  r.rosterStale = true;
  if (f.room === current) {
    renderCurrent({ toBottom: !hadMessages });
    loadRoster(r);
  }
  renderRoomList();
  saveChatState();
  if (!roomInfo.has(f.room)) loadRoomInfo(f.room);
}

function onMessage(f) {
  const r = rooms.get(f.room);
  if (!r) return;
  if (f.client_id && r.pending.delete(f.client_id)) saveChatState();
  const isNew = !r.messages.has(f.id);
  mergeMessages(r, [f]);
  if (f.user) r.typing.delete(f.user.id);
  const mine = me && f.user && f.user.id === me.id;
  if (isNew && !mine && (f.room !== current || document.hidden)) r.unread += 1;
  if (f.room === current) renderCurrent({ toBottom: mine });
  renderRoomList();
}

function onDeleted(f) {
  const r = rooms.get(f.room);
  if (!r || !r.messages.delete(f.id)) return;
  if (f.room === current) renderCurrent({});
}

function onPresence(f) {
  const r = rooms.get(f.room);
  if (!r) return;
  if (f.joined) r.members.set(f.joined.id, f.joined);
  if (f.left) {
    r.members.delete(f.left.id);
    r.typing.delete(f.left.id);
  }
  // Someone new in a room is a member now (public rooms); someone gone may have been removed.
  r.rosterStale = true;
  if (f.room === current) {
    renderMembers();
    renderTyping();
    loadRosterSoon(r);
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
  const list = Array.isArray(f.messages) ? f.messages : [];
  mergeMessages(r, list);
  r.loadingOlder = false;
  r.hasMore = Boolean(f.has_more) && list.length > 0;
  if (f.room === current) renderCurrent({ keepAnchor: true });
}

function onLeft(f) {
  if (f.reason === 'removed' && rooms.has(f.room)) {
    dropRoom(f.room, `You were removed from #${f.room}: only its owner or an admin can add you again.`, 'warn');
  }
  loadAllRooms();
}

/** Takes a room off "Your rooms" (it is gone for us), saying why in the room notice. */
function dropRoom(name, text, kind) {
  const r = rooms.get(name);
  if (r) rooms.delete(name);
  roomInfo.delete(name);
  notice = text ? { text, kind } : null;
  if (current === name || !current) current = rooms.keys().next().value || null;
  saveChatState();
  renderAll({ toBottom: true });
}

/** The room a NOT_FOUND answers: the one named in its message, or the only one joining. */
/** The room a refused join was for: the error frame names it. */
function refusedRoom(f) {
  const r = f.room ? rooms.get(f.room) : null;
  return r && r.status === 'joining' ? r : null;
}

function onError(f) {
  const code = f.code || 'ERROR';
  if (f.client_id) {
    for (const r of rooms.values()) {
      const p = r.pending.get(f.client_id);
      if (!p) continue;
      p.state = 'failed';
      p.retryable = code === 'RATE_LIMITED' || code === 'NOT_A_MEMBER' || code === 'UNAVAILABLE' || code === 'INTERNAL_SERVER_ERROR';
      p.error = code === 'RATE_LIMITED' ? 'Not sent: slow down a little.' : f.message || code;
      if (r.name === current) renderCurrent({});
    }
  }
  if (code === 'NOT_FOUND' && !f.client_id) {
    const r = refusedRoom(f);
    if (r) {
      dropRoom(r.name, `You cannot join #${r.name}: it does not exist, or it is private and you are not a member (ask its owner to add you).`, 'error');
      return;
    }
  }
  if (code === 'NOT_A_MEMBER') {
    // Our idea of membership is stale (e.g. a race with leave): join again.
    const r = f.room ? rooms.get(f.room) : null;
    if (r && r.status === 'joined') sendJoin(r);
  }
  const text = code === 'RATE_LIMITED' ? 'You are sending too fast; some frames were dropped.' : f.message || 'The server refused a frame.';
  toast(text, { code, kind: code === 'INTERNAL_SERVER_ERROR' || code === 'UNAVAILABLE' ? 'error' : 'warn' });
}

// ---------------------------------------------------------------- user actions

function roomNameOf(raw) {
  const name = String(raw || '').trim().toLowerCase();
  if (!ROOM_RE.test(name)) {
    toast('Room names are 1–64 characters: a–z, 0–9, - and _, starting with a letter or digit.', { code: 'ROOM' });
    return null;
  }
  return name;
}

function joinRoom(raw) {
  const name = roomNameOf(raw);
  if (!name) return false;
  notice = null;
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

/** POST /api/v1/rooms as a private room (you are its owner), then joins it. */
async function createPrivateRoom(raw) {
  const name = roomNameOf(raw);
  if (!name) return false;
  const button = $('join');
  button.disabled = true;
  try {
    const room = await session.json('/api/v1/rooms', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, visibility: 'private' }),
    });
    roomInfo.set(room.name, room);
    joinRoom(room.name);
    notice = { text: `#${room.name} is private: only you can see it until you add members by their user id (Members panel).`, kind: 'info' };
    renderNotice();
    loadAllRooms();
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) toast(`#${name} already exists: pick another name for a private room.`, { code: 'CONFLICT' });
    else if (e instanceof ApiError) toast(e.message, { code: e.problem.code || `HTTP ${e.status}` });
    else if (!(e instanceof AuthError)) toast(errorText(e), { kind: 'error' });
    return false;
  } finally {
    button.disabled = false;
  }
}

function leaveRoom(name) {
  if (!rooms.has(name)) return;
  // Forget it locally at once (frames still in flight for it are ignored); `left` only confirms.
  send({ type: 'leave', room: name });
  rooms.delete(name);
  notice = null;
  switchTo(rooms.keys().next().value || null);
  renderAllRooms();
}

function switchTo(name) {
  current = name;
  lastTypingSent = 0;
  confirmDelete = null;
  const r = name ? rooms.get(name) : null;
  if (r) r.unread = 0;
  saveChatState();
  renderAll({ toBottom: true });
  if (r && r.status === 'joined' && r.rosterStale) loadRoster(r);
  if (r && window.matchMedia('(min-width: 701px)').matches) $('message-input').focus();
}

function sendPending(r, p) {
  if (r.status === 'joined' && send({ type: 'message', room: r.name, body: p.body, client_id: p.clientId })) {
    p.state = 'sent';
    p.error = '';
    p.retryable = false;
    // The echo (or an error frame with our client_id) normally comes within milliseconds. A
    // frame refused without its client_id would otherwise stay "Sending…" for ever.
    const ws = live.ws;
    setTimeout(() => {
      if (r.pending.get(p.clientId) === p && p.state === 'sent' && live.ws === ws && ws) {
        p.state = 'failed';
        p.retryable = true; // the same client_id again cannot store it twice
        p.error = 'No answer from the server yet.';
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
  const p = { clientId: newClientId(), body, created: Date.now(), state: 'queued', error: '', retryable: false };
  r.pending.set(p.clientId, p);
  sendPending(r, p);
  saveChatState();
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
  const oldest = oldestId(r);
  if (oldest === null) {
    r.hasMore = false;
    renderCurrent({});
    return;
  }
  if (send({ type: 'history', room: r.name, before: oldest, limit: JOIN_HISTORY })) {
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
  if (!r) return;
  if (button.dataset.action === 'delete') {
    const id = Number(button.dataset.id);
    if (confirmDelete && confirmDelete.id === id && Date.now() < confirmDelete.until) {
      confirmDelete = null;
      deleteMessage(r, id);
    } else {
      confirmDelete = { id, until: Date.now() + 4000 };
      setTimeout(() => {
        if (confirmDelete && confirmDelete.id === id && Date.now() >= confirmDelete.until) {
          confirmDelete = null;
          if (rooms.get(current) === r) renderCurrent({});
        }
      }, 4050);
    }
    renderCurrent({});
    return;
  }
  const p = r.pending.get(button.dataset.clientId);
  if (!p) return;
  if (button.dataset.action === 'retry') {
    p.error = '';
    sendPending(r, p); // the same client_id: a message that did arrive is not stored twice
  } else if (button.dataset.action === 'discard') {
    r.pending.delete(p.clientId);
    saveChatState();
  }
  renderCurrent({});
}

/** DELETE a message (owners and admins); every member's page drops it on `deleted`. */
async function deleteMessage(r, id) {
  try {
    const resp = await session.fetch(`/api/v1/rooms/${encodeURIComponent(r.name)}/messages/${id}`, { method: 'DELETE' });
    if (resp.status !== 404) await okOrThrow(resp); // already gone: as good as deleted
    r.messages.delete(id);
    if (rooms.get(current) === r) renderCurrent({});
  } catch (e) {
    if (e instanceof ApiError) toast(e.message, { code: `HTTP ${e.status}` });
    else if (!(e instanceof AuthError)) toast('The server cannot be reached: the message was not deleted.', { kind: 'error' });
  }
}

async function loadAllRooms() {
  if (!session.signedIn) return;
  try {
    const body = await session.json('/api/v1/rooms?limit=100');
    const list = Array.isArray(body) ? body : body.data || body.items || [];
    allRooms = list.filter((x) => x && typeof x.name === 'string');
    for (const room of allRooms) roomInfo.set(room.name, room);
    renderAllRooms();
    renderRoomList();
    if (current) renderRoomChrome();
  } catch (e) {
    if (!(e instanceof AuthError)) $('all-count').textContent = '(unavailable)';
  }
}

/** One room's REST view (visibility, owner) when the list did not have it. */
async function loadRoomInfo(name) {
  try {
    const room = await session.json(`/api/v1/rooms/${encodeURIComponent(name)}`);
    roomInfo.set(room.name, room);
    renderRoomList();
    if (name === current) renderCurrent({});
  } catch {
    /* shown without its badge; the next list load fills it in */
  }
}

// ---------------------------------------------------------------- members (REST)

function membersUrl(name, userId) {
  const base = `/api/v1/rooms/${encodeURIComponent(name)}/members`;
  return userId === undefined ? base : `${base}/${encodeURIComponent(userId)}`;
}

let rosterTimer = null;

function loadRosterSoon(r) {
  clearTimeout(rosterTimer);
  rosterTimer = setTimeout(() => {
    if (rooms.get(r.name) === r && r.name === current) loadRoster(r);
  }, 300);
}

async function loadRoster(r) {
  r.rosterStale = false;
  try {
    const body = await session.json(membersUrl(r.name));
    r.roster = Array.isArray(body.data) ? body.data.filter((m) => m && m.user) : [];
    r.rosterError = '';
  } catch (e) {
    if (e instanceof AuthError) return;
    r.rosterError = e instanceof ApiError && e.status === 404 ? 'This room is gone.' : 'The member list cannot be loaded right now.';
    r.rosterStale = true;
  }
  if (rooms.get(r.name) === r && r.name === current) renderRoster();
}

async function addMember(event) {
  event.preventDefault();
  const r = current ? rooms.get(current) : null;
  const input = $('add-member-id');
  const raw = input.value.trim().replace(/^#/, '');
  if (!r) return;
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) {
    input.classList.add('invalid');
    toast('Enter a user id: a whole number (people see theirs under their name at the top).', { code: 'USER_ID' });
    return;
  }
  input.classList.remove('invalid');
  $('add-member').disabled = true;
  try {
    const resp = await session.fetch(membersUrl(r.name, raw), { method: 'PUT' });
    if (resp.status === 201) toast(`User #${raw} is now a member of #${r.name}.`, { kind: 'info' });
    else if (resp.status === 204) toast(`User #${raw} already is a member of #${r.name}.`, { kind: 'info' });
    else if (resp.status === 404) toast(`There is no user #${raw}.`, { code: 'NOT_FOUND' });
    else if (resp.status === 403) toast('Only the room’s owner or an admin can add members.', { code: 'FORBIDDEN' });
    else toast(`The member was not added (HTTP ${resp.status}).`, { code: `HTTP ${resp.status}` });
    if (resp.ok) {
      input.value = '';
      if (notice && notice.kind === 'info') notice = null; // "only you can see it" no longer holds
      renderNotice();
    }
    await loadRoster(r);
  } catch (e) {
    if (!(e instanceof AuthError)) toast('The server cannot be reached: nobody was added.', { kind: 'error' });
  } finally {
    $('add-member').disabled = false;
  }
}

/** DELETE a membership: a moderator removing someone, or a member leaving a private room. */
async function removeMember(r, userId) {
  const self = me && userId === me.id;
  try {
    const resp = await session.fetch(membersUrl(r.name, userId), { method: 'DELETE' });
    if (!resp.ok && resp.status !== 404) {
      toast(resp.status === 403 ? 'Only the room’s owner or an admin can remove members.' : `Not removed (HTTP ${resp.status}).`, {
        code: `HTTP ${resp.status}`,
      });
      return;
    }
    if (self) {
      send({ type: 'leave', room: r.name });
      dropRoom(r.name, `You left the private room #${r.name}.`, 'info');
      loadAllRooms();
      return;
    }
    await loadRoster(r);
  } catch (e) {
    if (!(e instanceof AuthError)) toast('The server cannot be reached: nothing changed.', { kind: 'error' });
  }
}

let confirmLeave = 0;

function onLeavePrivate() {
  const r = current ? rooms.get(current) : null;
  if (!r || !me) return;
  if (Date.now() < confirmLeave) {
    confirmLeave = 0;
    removeMember(r, me.id);
    return;
  }
  confirmLeave = Date.now() + 4000;
  $('leave-private').textContent = 'Click again to leave (you must be added back to return)';
  setTimeout(() => {
    if (Date.now() >= confirmLeave) {
      confirmLeave = 0;
      renderRoster();
    }
  }, 4050);
}

function onRosterClick(event) {
  const button = event.target.closest('button[data-remove]');
  const r = current ? rooms.get(current) : null;
  if (!button || !r) return;
  button.disabled = true;
  removeMember(r, Number(button.dataset.remove));
}

function setMembersPanel(open) {
  $('chat-view').dataset.members = open ? 'open' : 'closed';
  $('members-toggle').setAttribute('aria-expanded', String(open));
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

function lockIcon() {
  const icon = svg('svg', { class: 'lock', viewBox: '0 0 16 16', 'aria-hidden': 'true', focusable: 'false' });
  icon.append(
    svg('rect', { x: 3, y: 7, width: 10, height: 7, rx: 1.5 }),
    svg('path', { d: 'M5.5 7V5a2.5 2.5 0 0 1 5 0v2', fill: 'none', 'stroke-width': 1.6 }),
  );
  return icon;
}

function roomButton(name, { currentRoom, unread = 0, note = '', title = '' }) {
  const b = el('button', 'room-item');
  b.type = 'button';
  b.dataset.room = name;
  b.dataset.testid = `room-${name}`;
  const priv = isPrivate(name);
  if (priv) b.dataset.private = 'true';
  if (title) b.title = title;
  if (currentRoom) b.setAttribute('aria-current', 'true');
  b.append(el('span', 'room-label', name));
  if (priv) {
    b.append(lockIcon(), el('span', 'visually-hidden', ' (private)'));
  }
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
    const hint = room.visibility === 'private' ? 'private' : '';
    li.append(roomButton(room.name, { title: [room.topic || `Join #${room.name}`, hint].filter(Boolean).join(' · ') }));
    ul.append(li);
  }
  if (!others.length) ul.append(el('li', 'empty', allRooms.length ? 'You are in every room.' : 'No rooms yet: create one.'));
}

function renderNotice() {
  const box = $('room-notice');
  box.hidden = !notice;
  if (!notice) return;
  box.dataset.kind = notice.kind || 'warn';
  $('room-notice-text').textContent = notice.text;
}

/** The header and panel parts that depend on the room's REST view (private, owner). */
function renderRoomChrome() {
  const r = current ? rooms.get(current) : null;
  $('room-private-badge').hidden = !(r && isPrivate(r.name));
  renderRoster();
}

function renderCurrent({ toBottom = false, keepAnchor = false } = {}) {
  const r = current ? rooms.get(current) : null;
  $('room-title').textContent = r ? `#${r.name}` : 'No room yet';
  $('leave').hidden = !r;
  $('members-toggle').hidden = !r;
  $('empty-room').hidden = Boolean(r);
  const ready = Boolean(r && r.status === 'joined');
  $('message-input').disabled = !r;
  $('send').disabled = !r;
  $('message-input').placeholder = !r ? 'Join a room to talk' : ready ? `Message #${r.name}` : 'Connecting… (messages wait and are sent on join)';
  renderNotice();
  renderMessages(r, { toBottom, keepAnchor });
  renderMembers();
  renderRoomChrome();
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

  const moderator = isModerator(r.name);
  const items = [...r.messages.values()].sort((a, b) => seqOf(a) - seqOf(b) || a.id - b.id);
  const frag = document.createDocumentFragment();
  let prev = null;
  for (const m of items) {
    frag.append(messageItem(m, prev, moderator));
    prev = m;
  }
  for (const p of r.pending.values()) {
    const m = { user: me, body: p.body, sent_at: new Date(p.created).toISOString(), pending: p };
    frag.append(messageItem(m, prev, false));
    prev = m;
  }
  list.replaceChildren(frag);

  if (keepAnchor) box.scrollTop = box.scrollHeight - oldHeight + oldTop;
  else if (toBottom || nearBottom) box.scrollTop = box.scrollHeight;
}

function messageItem(m, prev, moderator) {
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
    if (typeof m.seq === 'number') li.dataset.seq = String(m.seq);
  }

  const meta = el('div', 'meta');
  meta.append(el('span', 'author', m.user ? m.user.name : 'someone'));
  const time = el('time', '', formatShortTime(sent));
  if (!Number.isNaN(sent.getTime())) {
    time.dateTime = sent.toISOString();
    time.title = formatFullTime(sent);
  }
  meta.append(time);
  const row = el('div', 'body-row');
  row.append(el('div', 'body', m.body));
  if (moderator && !m.pending) {
    const arming = confirmDelete && confirmDelete.id === m.id;
    const del = el('button', `btn btn-ghost btn-small msg-delete${arming ? ' confirm' : ''}`, arming ? 'Delete?' : '×');
    del.type = 'button';
    del.dataset.action = 'delete';
    del.dataset.id = String(m.id);
    del.title = arming ? 'Click again to delete this message for everyone' : 'Delete this message (for everyone)';
    del.setAttribute('aria-label', arming ? 'Confirm: delete this message' : 'Delete this message');
    row.append(del);
  }
  li.append(meta, row);

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

/** The room's members (GET members): owner badge, remove buttons and the add form for moderators. */
function renderRoster() {
  const r = current ? rooms.get(current) : null;
  $('roster-section').hidden = !r;
  if (!r) return;
  const room = info(r.name);
  const moderator = isModerator(r.name);
  const ul = $('roster');
  ul.replaceChildren();
  const list = r.roster || [];
  for (const m of list) {
    const li = el('li');
    li.dataset.userId = String(m.user.id);
    const online = r.members.has(m.user.id);
    li.classList.toggle('online', online);
    const who = el('div', 'who');
    const name = el('span', 'member-name', m.user.name);
    name.title = `${m.user.name} · user #${m.user.id}${online ? ' · online' : ''}`;
    who.append(name);
    if (me && m.user.id === me.id) who.append(el('span', 'you', '(you)'));
    const sub = el('div', 'sub');
    sub.append(el('span', 'member-id', `#${m.user.id}`));
    if (room && room.created_by === m.user.id) sub.append(el('span', 'badge owner-badge', 'owner'));
    const text = el('div', 'member-text');
    text.append(who, sub);
    li.append(text);
    if (moderator && !(me && m.user.id === me.id)) {
      const b = el('button', 'btn btn-ghost btn-small remove', 'Remove');
      b.type = 'button';
      b.dataset.remove = String(m.user.id);
      b.setAttribute('aria-label', `Remove ${m.user.name} from #${r.name}`);
      li.append(b);
    }
    ul.append(li);
  }
  $('roster-count').textContent = r.roster ? `(${list.length})` : '';
  const status = $('roster-status');
  status.textContent = r.rosterError || (r.roster ? '' : 'Loading…');
  status.hidden = !status.textContent;
  $('add-member-form').hidden = !moderator;
  const mine = me && list.some((m) => m.user.id === me.id);
  const canLeave = isPrivate(r.name) && mine && !(room && room.created_by === me.id);
  $('leave-private').hidden = !canLeave;
  if (!(Date.now() < confirmLeave)) $('leave-private').textContent = 'Leave this private room';
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
  w.textContent = me ? `${me.name} · #${me.id}` : '';
  w.title = me ? [me.email, `your user id is ${me.id}: give it to a room owner to be added`].filter(Boolean).join(' · ') : '';
  if (me) w.dataset.userId = String(me.id);
  else delete w.dataset.userId;
  w.hidden = !me;
}

// ---------------------------------------------------------------- views

function showAuth(message) {
  live.stop();
  clearInterval(roomsTimer);
  rooms.clear();
  roomInfo.clear();
  current = null;
  me = null;
  allRooms = [];
  notice = null;
  $('chat-view').hidden = true;
  $('auth-view').hidden = false;
  $('signout').hidden = true;
  $('whoami').hidden = true;
  $('conn-status').hidden = true;
  document.title = 'Chat · switchboard';
  authForm.reset(message);
}

async function startChat() {
  try {
    me = await session.json('/api/v1/users/me');
  } catch (e) {
    if (e instanceof AuthError || (e instanceof ApiError && e.status === 401)) {
      session.clear();
      showAuth(sessionEndedText('expired'));
      return;
    }
    me = null; // offline: the ready frame will tell us who we are
  }
  $('auth-view').hidden = true;
  $('chat-view').hidden = false;
  $('signout').hidden = false;
  showWhoami();

  const saved = loadChatState();
  // Another account's rooms and unsent messages are not this one's (a shared tab).
  const sameUser = Boolean(me) && saved.user === me.id;
  for (const name of sameUser ? saved.rooms : []) {
    if (!ROOM_RE.test(name)) continue;
    const r = roomState(name);
    // Messages not acknowledged before the reload: sent again under the same client_id.
    const outbox = saved.outbox && Array.isArray(saved.outbox[name]) ? saved.outbox[name] : [];
    for (const o of outbox) {
      if (!o || typeof o.clientId !== 'string' || typeof o.body !== 'string') continue;
      r.pending.set(o.clientId, { clientId: o.clientId, body: o.body, created: Number(o.created) || Date.now(), state: 'queued', error: '', retryable: false });
    }
  }
  current = saved.current && rooms.has(saved.current) ? saved.current : rooms.keys().next().value || null;
  if (window.matchMedia('(max-width: 700px)').matches) $('browse').open = false;
  setMembersPanel(false);
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
  $('signout').addEventListener('click', signOut);

  $('join-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const priv = $('room-private').checked;
    const ok = priv ? await createPrivateRoom($('room-name').value) : joinRoom($('room-name').value);
    if (ok) {
      $('room-name').value = '';
      $('room-private').checked = false;
    }
  });
  for (const id of ['my-rooms', 'all-rooms']) {
    $(id).addEventListener('click', (e) => {
      const b = e.target.closest('button[data-room]');
      if (b) joinRoom(b.dataset.room);
    });
  }
  $('leave').addEventListener('click', () => current && leaveRoom(current));
  $('room-notice-close').addEventListener('click', () => {
    notice = null;
    renderNotice();
  });
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
  $('add-member-form').addEventListener('submit', addMember);
  $('roster').addEventListener('click', onRosterClick);
  $('leave-private').addEventListener('click', onLeavePrivate);
  $('members-toggle').addEventListener('click', () => setMembersPanel($('chat-view').dataset.members !== 'open'));
  $('members-close').addEventListener('click', () => setMembersPanel(false));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && $('chat-view').dataset.members === 'open') setMembersPanel(false);
  });

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && current && rooms.get(current)) {
      rooms.get(current).unread = 0;
      renderRoomList();
    }
  });

  // 'expired': the refresh token was refused (expired, or revoked a moment before the socket
  // heard of it); 'ended': the server closed the socket 4003.
  session.onExpired = (reason) => showAuth(sessionEndedText(reason));

  if (session.signedIn) startChat();
  else showAuth();
}

init();
