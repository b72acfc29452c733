-- Pages freed by pruning go back to the file system: with incremental
-- auto-vacuum, the store runs PRAGMA incremental_vacuum after each prune
-- (sqlite.go). The mode of an existing database changes only with a
-- VACUUM, which cannot run inside a transaction: once, here. It rewrites
-- the file, so on a large database it takes a while and needs as much
-- free disk again for as long.

-- +goose NO TRANSACTION
-- +goose Up
PRAGMA auto_vacuum = INCREMENTAL;
VACUUM;

-- +goose Down
PRAGMA auto_vacuum = NONE;
VACUUM;
