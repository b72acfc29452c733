-- DHCP leases of phoneboot's own DHCP server (internal/dhcp). One row per
-- address: the client it is leased to, or NULL in mac for an address a
-- client declined (in use by someone else on the wire) until expires_ms.
-- A MAC holds at most one row. Expired rows are kept so that a client
-- returning later gets its old address back while it is free.

-- +goose Up
CREATE TABLE dhcp_leases (
    ip           TEXT PRIMARY KEY,
    mac          TEXT UNIQUE,
    expires_ms   BIGINT NOT NULL,
    hostname     TEXT NOT NULL DEFAULT '',
    vendor_class TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE dhcp_leases;
