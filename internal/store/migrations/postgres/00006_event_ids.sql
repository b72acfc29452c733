-- Event ids never reused: on SQLite, AUTOINCREMENT. The identity column
-- of migration 1 never reuses a value already: nothing to do.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
