-- Events carry their facts as typed fields (internal/event.Facts), kept as
-- a JSON object: what a decision established (running load, next step,
-- path, remedy, …) is read from there, never from the detail sentence.
-- A phone's model as the network showed it (DHCP vendor class, its
-- factory-reset load list) is kept beside the inventory's model.

-- +goose Up
ALTER TABLE events ADD COLUMN facts TEXT NOT NULL DEFAULT '';
ALTER TABLE phones ADD COLUMN seen_model TEXT;

-- +goose Down
ALTER TABLE phones DROP COLUMN seen_model;
ALTER TABLE events DROP COLUMN facts;
