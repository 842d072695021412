-- Real-time you can trust: private rooms, per-room sequence numbers, idempotent sends,
-- disabled accounts and revoked sessions. Keep in step with migrations/postgres.

-- A private room exists only for its members, its owner (created_by) and admins.
-- `last_seq` is the room's message counter: a send takes the next value in the same
-- transaction that stores the message, so seq runs 1, 2, 3... without gaps.
ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'private'));
ALTER TABLE rooms ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;

-- `client_id` is the sender's idempotency key (WebSocket client_id, REST Idempotency-Key).
ALTER TABLE messages ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN client_id TEXT;

-- Number the messages already stored, in id order within each room.
UPDATE messages SET seq = (
    SELECT COUNT(*) FROM messages AS earlier
    WHERE earlier.room_id = messages.room_id AND earlier.id <= messages.id
);
UPDATE rooms SET last_seq = (
    SELECT COALESCE(MAX(seq), 0) FROM messages WHERE messages.room_id = rooms.id
);
CREATE UNIQUE INDEX messages_room_seq_idx ON messages (room_id, seq);
CREATE INDEX messages_client_idx ON messages (room_id, user_id, client_id)
    WHERE client_id IS NOT NULL;

-- An admin can disable an account: it cannot sign in and its sessions end.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP;

-- Sessions (refresh-token families, the `sid` of access tokens) that ended early: a
-- password change, a sign-out, a reused refresh token, a disabled or deleted account.
-- No foreign key: the record must outlive a deleted account for as long as its access
-- tokens could still be presented.
CREATE TABLE revoked_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    user_id    INTEGER NOT NULL,
    revoked_at TIMESTAMP NOT NULL
);
CREATE INDEX revoked_sessions_at_idx ON revoked_sessions (revoked_at);
