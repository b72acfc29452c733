-- Several nodes on one database: see migrations/sqlite/00007_fleet.sql.
-- Pools may not overlap: an exclusion constraint, which holds also for
-- two nodes claiming pools at the same moment.

-- +goose Up
ALTER TABLE events ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE dhcp_leases ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE phones ADD COLUMN node TEXT NOT NULL DEFAULT '';

CREATE TABLE nodes (
    name         TEXT PRIMARY KEY,
    networks     TEXT NOT NULL DEFAULT '',
    firmware_url TEXT NOT NULL DEFAULT '',
    started_ms   BIGINT NOT NULL,
    seen_ms      BIGINT NOT NULL
);

CREATE TABLE dhcp_pools (
    node    TEXT NOT NULL,
    first_n BIGINT NOT NULL,
    last_n  BIGINT NOT NULL,
    CHECK (first_n <= last_n),
    PRIMARY KEY (node, first_n),
    EXCLUDE USING gist (int8range(first_n, last_n, '[]') WITH &&)
);

CREATE TABLE inventory (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    revision   BIGINT NOT NULL,
    text       TEXT NOT NULL,
    node       TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE firmware_loads (
    id          TEXT NOT NULL,
    node        TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    imported_ms BIGINT NOT NULL,
    PRIMARY KEY (id, node)
);

-- +goose Down
DROP TABLE firmware_loads;
DROP TABLE inventory;
DROP TABLE dhcp_pools;
DROP TABLE nodes;
ALTER TABLE phones DROP COLUMN node;
ALTER TABLE dhcp_leases DROP COLUMN node;
ALTER TABLE events DROP COLUMN node;
