-- Event facts and the model seen: see migrations/sqlite/00003_facts.sql.

-- +goose Up
ALTER TABLE events ADD COLUMN facts TEXT NOT NULL DEFAULT '';
ALTER TABLE phones ADD COLUMN seen_model TEXT;

-- +goose Down
ALTER TABLE phones DROP COLUMN seen_model;
ALTER TABLE events DROP COLUMN facts;
