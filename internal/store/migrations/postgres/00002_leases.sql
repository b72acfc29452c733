-- DHCP leases: see migrations/sqlite/00002_leases.sql.

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
