-- Chat: rooms, who belongs to them (for notifications while offline), and every message.
-- Keep in step with migrations/sqlite: src/db/schema.rs describes both.
CREATE TABLE rooms (
    id         SERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    topic      TEXT NOT NULL DEFAULT '',
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);

-- Membership outlives connections: it ends with an explicit leave.
CREATE TABLE room_members (
    room_id   INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user_idx ON room_members (user_id);

CREATE TABLE messages (
    id         SERIAL PRIMARY KEY,
    room_id    INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- History pages walk a room's messages by id.
CREATE INDEX messages_room_id_idx ON messages (room_id, id);
CREATE INDEX messages_user_idx ON messages (user_id);
