DROP TABLE revoked_sessions;
ALTER TABLE users DROP COLUMN disabled_at;
DROP INDEX IF EXISTS messages_client_idx;
DROP INDEX messages_room_seq_idx;
ALTER TABLE messages DROP COLUMN client_id;
ALTER TABLE messages DROP COLUMN seq;
ALTER TABLE rooms DROP COLUMN last_seq;
ALTER TABLE rooms DROP COLUMN visibility;
