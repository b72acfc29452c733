-- Event ids are never reused, so that "the events with an id above N"
-- are exactly those stored after event N was (store.Mark: how the fleet
-- view finds the phones that got events since it last looked). A plain
-- INTEGER PRIMARY KEY gives a new row the largest id plus one, which is
-- an id used before once the newest rows were deleted (an evicted
-- phone's); AUTOINCREMENT never goes back (PostgreSQL's identity column
-- never does). SQLite cannot add it to a table: the table is copied,
-- ids kept, which on a large database takes a while, once.

-- +goose Up
CREATE TABLE events_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms     BIGINT NOT NULL,
    mac         TEXT REFERENCES phones (mac),
    ip          TEXT,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    file        TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT '',
    bytes       BIGINT NOT NULL DEFAULT 0,
    duration_ns BIGINT NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    facts       TEXT NOT NULL DEFAULT ''
);
INSERT INTO events_new (id, time_ms, mac, ip, source, kind, file, outcome, bytes, duration_ns, detail, facts)
    SELECT id, time_ms, mac, ip, source, kind, file, outcome, bytes, duration_ns, detail, facts FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_mac_time ON events (mac, time_ms);
CREATE INDEX events_time ON events (time_ms);

-- +goose Down
CREATE TABLE events_old (
    id          INTEGER PRIMARY KEY,
    time_ms     BIGINT NOT NULL,
    mac         TEXT REFERENCES phones (mac),
    ip          TEXT,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    file        TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT '',
    bytes       BIGINT NOT NULL DEFAULT 0,
    duration_ns BIGINT NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    facts       TEXT NOT NULL DEFAULT ''
);
INSERT INTO events_old (id, time_ms, mac, ip, source, kind, file, outcome, bytes, duration_ns, detail, facts)
    SELECT id, time_ms, mac, ip, source, kind, file, outcome, bytes, duration_ns, detail, facts FROM events;
DROP TABLE events;
ALTER TABLE events_old RENAME TO events;
CREATE INDEX events_mac_time ON events (mac, time_ms);
CREATE INDEX events_time ON events (time_ms);
