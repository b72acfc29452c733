-- Bounded state: see migrations/sqlite/00004_bounded.sql.

-- +goose Up
ALTER TABLE phones ADD COLUMN events_dropped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE phones ADD COLUMN dropped_first_ms BIGINT;
ALTER TABLE phones ADD COLUMN dropped_last_ms BIGINT;
CREATE INDEX phones_source_seen ON phones (source, last_seen_ms, mac);

-- +goose Down
DROP INDEX phones_source_seen;
ALTER TABLE phones DROP COLUMN dropped_last_ms;
ALTER TABLE phones DROP COLUMN dropped_first_ms;
ALTER TABLE phones DROP COLUMN events_dropped;
