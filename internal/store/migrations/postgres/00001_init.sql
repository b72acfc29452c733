-- The schema of migrations/sqlite, translated: the same numbers, tables,
-- columns and indexes. Only the events id differs: an identity column,
-- whose values are never reused (what SQLite gets from migration 6).

-- +goose Up
CREATE TABLE phones (
    mac           TEXT PRIMARY KEY,
    model         TEXT NOT NULL DEFAULT '',
    protocol      TEXT NOT NULL DEFAULT '',
    label         TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL CHECK (source IN ('inventory', 'auto')),
    ip            TEXT,
    first_seen_ms BIGINT,
    last_seen_ms  BIGINT,
    last_file     TEXT,
    load_id       TEXT
);

CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_ms     BIGINT NOT NULL,
    mac         TEXT REFERENCES phones (mac),
    ip          TEXT,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    file        TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT '',
    bytes       BIGINT NOT NULL DEFAULT 0,
    duration_ns BIGINT NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT ''
);

CREATE INDEX events_mac_time ON events (mac, time_ms);
CREATE INDEX events_time ON events (time_ms);

-- +goose Down
DROP TABLE events;
DROP TABLE phones;
