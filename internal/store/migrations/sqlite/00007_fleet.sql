-- Several phoneboot nodes on one database (docs/fleet.md). On SQLite
-- there is one node, but the schema is the same on both engines.
--
-- events.node, phones.node and dhcp_leases.node: the node that saw the
-- event / last saw the phone / owns the lease ('' on a node without a
-- name).
-- nodes: each node's networks and the URL the others fetch its firmware
-- from, with when it was last heard of.
-- dhcp_pools: each node's DHCP ranges, as numbers (an IPv4 address as a
-- 32-bit integer); no two may overlap, checked here, by the database.
-- inventory: the fleet's shared document (fleet.toml), one row, its
-- revision counting edits.
-- firmware_loads: which node holds which load, with the load's manifest
-- (its files' names, sizes and sha256 as JSON).

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
    PRIMARY KEY (node, first_n)
);

-- +goose StatementBegin
CREATE TRIGGER dhcp_pools_no_overlap BEFORE INSERT ON dhcp_pools
WHEN EXISTS (SELECT 1 FROM dhcp_pools WHERE first_n <= NEW.last_n AND NEW.first_n <= last_n)
BEGIN
    SELECT RAISE(ABORT, 'dhcp pool overlaps another');
END;
-- +goose StatementEnd

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
DROP TRIGGER dhcp_pools_no_overlap;
DROP TABLE dhcp_pools;
DROP TABLE nodes;
ALTER TABLE phones DROP COLUMN node;
ALTER TABLE dhcp_leases DROP COLUMN node;
ALTER TABLE events DROP COLUMN node;
