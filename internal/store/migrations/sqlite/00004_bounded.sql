-- What unknown senders create is bounded (docs/security.md, "Bounded
-- state"): phones outside the inventory are evicted oldest-seen first,
-- which the index below finds without a scan; the events a phone's rate
-- limit dropped are counted on its row (NULL times: none dropped).

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
