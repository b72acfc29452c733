package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// querier is what a read needs: the store's read handle, or a Snapshot's
// transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Snapshot is one consistent view of the store: every read through it
// sees the same committed state, whatever is written meanwhile. A reader
// that puts several reads together — the phones, the timelines of some,
// and the Mark to compare with next time (internal/fleet) — takes them
// from one Snapshot. It holds a read connection until Close.
type Snapshot struct {
	tx      *sql.Tx
	lateral bool // Store.lateral
}

// Snapshot begins a Snapshot; Close it.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	// Repeatable read: PostgreSQL's default (read committed) would let
	// each statement see what committed since the one before. SQLite's
	// read transactions are snapshots whatever the level.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &Snapshot{tx: tx, lateral: s.lateral}, nil
}

// Close ends the Snapshot.
func (sn *Snapshot) Close() error { return sn.tx.Rollback() }

// Phones returns every phone, sorted by MAC.
func (sn *Snapshot) Phones(ctx context.Context) ([]Phone, error) { return phones(ctx, sn.tx) }

// EventKey is an event's place in the order the store deletes events in:
// by time, then by id.
type EventKey struct{ TimeMS, ID int64 }

// Before reports whether k comes before o.
func (k EventKey) Before(o EventKey) bool {
	return k.TimeMS < o.TimeMS || k.TimeMS == o.TimeMS && k.ID < o.ID
}

// Key is ev's EventKey.
func Key(ev event.Event) EventKey { return EventKey{TimeMS: ev.Time.UnixMilli(), ID: ev.ID} }

// Mark is where the events stood in a Snapshot, for a reader that keeps
// what it derived from them and wants to know, later, what changed:
//   - The events stored since have ids above Newest: ids are never
//     reused (migration 6), and the one writer commits them in id order.
//   - The store deletes a phone's events only oldest first (Prune: by
//     age, then by count, both in EventKey order) or all with the phone
//     (an evicted unknown phone). So a timeline of a phone still there
//     whose first event is not before Oldest has lost none of its events.
type Mark struct {
	Newest int64    // the largest event id; 0: no event
	Oldest EventKey // the first event kept in EventKey order; zero: no event
	Empty  bool     // there is no event
}

// Mark is where the events stand.
func (sn *Snapshot) Mark(ctx context.Context) (Mark, error) {
	var m Mark
	err := sn.tx.QueryRowContext(ctx, `SELECT time_ms, id FROM events ORDER BY time_ms, id LIMIT 1`).Scan(&m.Oldest.TimeMS, &m.Oldest.ID)
	if err == sql.ErrNoRows {
		return Mark{Empty: true}, nil
	}
	if err != nil {
		return Mark{}, fmt.Errorf("events mark: %w", err)
	}
	if err := sn.tx.QueryRowContext(ctx, `SELECT MAX(id) FROM events`).Scan(&m.Newest); err != nil {
		return Mark{}, fmt.Errorf("events mark: %w", err)
	}
	return m, nil
}

// Lost reports whether a timeline whose first event is first lost events
// between the Mark the timeline was read at and m (a later one).
func (m Mark) Lost(first EventKey) bool { return m.Empty || first.Before(m.Oldest) }

// Since returns the phones that have events with an id above newest (a
// Mark's Newest), each once, in MAC order.
func (sn *Snapshot) Since(ctx context.Context, newest int64) ([]phone.MAC, error) {
	// The new events by id (a range of the table's own b-tree), not
	// DISTINCT mac or mac IS NOT NULL, which SQLite answers by walking the
	// whole index events_mac_time.
	rows, err := sn.tx.QueryContext(ctx, `SELECT mac FROM events WHERE id > $1`, newest)
	if err != nil {
		return nil, fmt.Errorf("phones with new events: %w", err)
	}
	defer rows.Close()
	var out []phone.MAC
	got := map[string]bool{}
	for rows.Next() {
		var text sql.Null[string]
		if err := rows.Scan(&text); err != nil {
			return nil, fmt.Errorf("phones with new events: %w", err)
		}
		if !text.Valid || got[text.V] {
			continue
		}
		got[text.V] = true
		m, err := phone.ParseMAC(text.V)
		if err != nil {
			return nil, fmt.Errorf("phones with new events: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("phones with new events: %w", err)
	}
	slices.SortFunc(out, func(a, b phone.MAC) int { return bytes.Compare(a[:], b[:]) })
	return out, nil
}

// Timelines is Store.Timelines in the Snapshot, for the phones macs only
// (nil: every phone). A phone without events is not called for.
func (sn *Snapshot) Timelines(ctx context.Context, limit int, macs []phone.MAC, f func(phone.MAC, []event.Event) error) error {
	if macs == nil {
		return timelines(ctx, sn.tx, sn.lateral, limit, nil, f)
	}
	// A few hundred at a time: SQLite takes at most 32766 parameters.
	const chunk = 500
	for len(macs) > 0 {
		n := min(len(macs), chunk)
		if err := timelines(ctx, sn.tx, sn.lateral, limit, macs[:n], f); err != nil {
			return err
		}
		macs = macs[n:]
	}
	return nil
}

// timelines calls f with the timelines of the phones macs (nil: all),
// phone after phone, in MAC order. lateral: the engine has LATERAL.
func timelines(ctx context.Context, db querier, lateral bool, limit int, macs []phone.MAC, f func(phone.MAC, []event.Event) error) error {
	args := []any{limit}
	which := ""
	if macs != nil {
		if len(macs) == 0 {
			return nil
		}
		marks := make([]string, len(macs))
		for i, m := range macs {
			args = append(args, m.String())
			marks[i] = fmt.Sprintf("$%d", i+2)
		}
		which = `p.mac IN (` + strings.Join(marks, ", ") + `) AND `
	}
	// Per phone, its newest ids (index events_mac_time), then those rows by
	// id; sorted by time within each phone. PostgreSQL evaluates the IN
	// for every pair of phone and event (minutes for 2,000 phones of 100
	// events), so there a LATERAL join says "per phone" itself.
	q := `SELECT e.` + strings.ReplaceAll(eventColumns, ", ", ", e.") + `
		FROM phones p, events e
		WHERE ` + which + `e.id IN (SELECT id FROM events WHERE mac = p.mac ORDER BY time_ms DESC, id DESC LIMIT $1)
		ORDER BY p.mac, e.time_ms, e.id`
	if lateral {
		q = `SELECT e.* FROM phones p CROSS JOIN LATERAL
			(SELECT ` + eventColumns + ` FROM events WHERE mac = p.mac ORDER BY time_ms DESC, id DESC LIMIT $1) e
		WHERE ` + which + `TRUE
		ORDER BY p.mac, e.time_ms, e.id`
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("timelines: %w", err)
	}
	defer rows.Close()
	var timeline []event.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("timelines: %w", err)
		}
		if len(timeline) > 0 && timeline[0].MAC != ev.MAC {
			if err := f(timeline[0].MAC, timeline); err != nil {
				return err
			}
			timeline = nil // f may keep it
		}
		timeline = append(timeline, ev)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("timelines: %w", err)
	}
	if len(timeline) > 0 {
		return f(timeline[0].MAC, timeline)
	}
	return nil
}
