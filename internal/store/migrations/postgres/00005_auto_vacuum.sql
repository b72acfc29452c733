-- SQLite's incremental auto-vacuum. PostgreSQL's autovacuum gives freed
-- space back without being asked: nothing to do, kept so that the
-- numbers of both engines' migrations mean the same schema.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
