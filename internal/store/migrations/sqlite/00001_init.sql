-- Types are chosen so the PostgreSQL migration differs only where it must
-- (the events id column): times are BIGINT unix milliseconds, durations
-- BIGINT nanoseconds, MACs text in phone.MAC.String() form, IPs text.
-- NULL in an observed column means "not observed yet".

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
    -- SQLite: alias of the rowid; PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY.
    id          INTEGER PRIMARY KEY,
    time_ms     BIGINT NOT NULL,
    -- NULL: not attributed to a phone. A phone with events has been seen,
    -- and seen phones are never deleted, so the reference always holds.
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

-- A phone's timeline, and pruning by age.
CREATE INDEX events_mac_time ON events (mac, time_ms);
CREATE INDEX events_time ON events (time_ms);

-- +goose Down
DROP TABLE events;
DROP TABLE phones;
