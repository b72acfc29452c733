// Package store persists phones, their events and DHCP leases. It speaks
// plain database/sql with SQL that runs unchanged on SQLite (the default,
// through the pure-Go modernc.org/sqlite driver) and on PostgreSQL: $N
// placeholders, INSERT … ON CONFLICT, no engine-specific functions, times as
// BIGINT unix milliseconds and MACs as text in phone.MAC.String() form.
// What is particular to an engine (opening it, its settings, its goose
// dialect and migrations) is an engine value: see sqlite.go, postgres.go.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"

	"github.com/jackc/pgx/v5"
)

// Store is the phone and event database. It is safe for concurrent use.
type Store struct {
	// w is the only handle that writes; other processes (the CLI) are
	// waited for by the engine's busy timeout. r reads.
	w, r *sql.DB
	// reclaim gives the pages freed by a prune back to the file system.
	reclaim []string
	engine  string
	lateral bool                                                                            // engine.lateral
	record  func(ctx context.Context, db *sql.DB, phones []statement, events [][]any) error // engine.record
	closed  atomic.Bool
	// listenConfig is engine.listenConfig.
	listenConfig *pgx.ConnConfig
}

// Phone is a phone the store knows: from the inventory, or seen on the network.
type Phone struct {
	MAC                 phone.MAC
	Model               string // the inventory's model ("" when it names none)
	SeenModel           string // the model the phone showed on the network ("" unknown)
	Protocol            string
	Label               string
	Source              string     // "inventory" or "auto" (seen, not in the inventory: auto-provisioned)
	IP                  netip.Addr // last seen from; zero if never seen
	FirstSeen, LastSeen time.Time  // zero if never seen
	LastFile            string     // last file it asked for
	Load                string     // running load as last observed ("" unknown)
	Dropped             Dropped    // events its rate limit kept out of its timeline
	Node                string     // the node that last saw it ("" alone; docs/fleet.md)
}

// Dropped counts the events of one phone that the Writer's rate limit
// dropped, and when the first and the last of them came (zero: none).
type Dropped struct {
	Count       int64
	First, Last time.Time
}

// Phone sources.
const (
	SourceInventory = "inventory"
	SourceAuto      = "auto"
)

func newStore(ctx context.Context, e engine) (*Store, error) {
	s := &Store{w: e.writer, r: e.reader, reclaim: e.reclaim, engine: e.name, lateral: e.lateral, record: e.record,
		listenConfig: e.listenConfig}
	if err := e.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Engine names the engine s runs on: "sqlite" or "postgres".
func (s *Store) Engine() string { return s.engine }

// Close closes the database.
func (s *Store) Close() error {
	s.closed.Store(true)
	return errors.Join(s.r.Close(), s.w.Close())
}

// SyncInventory makes the inventory rows equal to phones (Source "inventory"
// for each): new ones inserted, changed ones updated (model/protocol/label),
// observed columns kept; a phone that left the inventory but has been seen
// becomes Source "auto"; one never seen is deleted.
func (s *Store) SyncInventory(ctx context.Context, phones []Phone) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sync inventory: %w", err)
	}
	defer tx.Rollback()

	old := map[phone.MAC]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT mac FROM phones WHERE source = $1`, SourceInventory)
	if err != nil {
		return fmt.Errorf("sync inventory: %w", err)
	}
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			rows.Close()
			return fmt.Errorf("sync inventory: %w", err)
		}
		mac, err := phone.ParseMAC(text)
		if err != nil {
			rows.Close()
			return fmt.Errorf("sync inventory: %w", err)
		}
		old[mac] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("sync inventory: %w", err)
	}

	for _, p := range phones {
		if p.MAC == (phone.MAC{}) {
			return fmt.Errorf("sync inventory: phone %q has no MAC", p.Label)
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO phones (mac, model, protocol, label, source) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (mac) DO UPDATE SET
				model = excluded.model, protocol = excluded.protocol,
				label = excluded.label, source = excluded.source`,
			p.MAC.String(), text(p.Model), text(p.Protocol), text(p.Label), SourceInventory)
		if err != nil {
			return fmt.Errorf("sync inventory %s: %w", p.MAC, err)
		}
		delete(old, p.MAC)
	}

	for mac := range old {
		// Never seen: nothing worth keeping. Seen: its history stays, as a
		// phone that is now auto-provisioned.
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM phones WHERE mac = $1 AND last_seen_ms IS NULL`, mac.String()); err != nil {
			return fmt.Errorf("sync inventory %s: %w", mac, err)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE phones SET source = $1 WHERE mac = $2`, SourceAuto, mac.String()); err != nil {
			return fmt.Errorf("sync inventory %s: %w", mac, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sync inventory: %w", err)
	}
	return nil
}

// observe upserts a phone's observed columns from one event. Batches are
// not in time order, so an event older than what the phone already shows
// fills only columns still unknown (and moves FirstSeen back); it never
// overwrites a newer observation.
const observe = `
INSERT INTO phones (mac, source, ip, first_seen_ms, last_seen_ms, last_file, load_id, seen_model, node)
VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)
ON CONFLICT (mac) DO UPDATE SET
	node = CASE WHEN phones.last_seen_ms IS NULL OR excluded.last_seen_ms >= phones.last_seen_ms
		THEN excluded.node ELSE phones.node END,
	first_seen_ms = CASE WHEN phones.first_seen_ms IS NULL OR excluded.first_seen_ms < phones.first_seen_ms
		THEN excluded.first_seen_ms ELSE phones.first_seen_ms END,
	last_seen_ms = CASE WHEN phones.last_seen_ms IS NULL OR excluded.last_seen_ms >= phones.last_seen_ms
		THEN excluded.last_seen_ms ELSE phones.last_seen_ms END,
	ip = CASE WHEN excluded.ip IS NOT NULL
		AND (phones.ip IS NULL OR excluded.last_seen_ms >= phones.last_seen_ms)
		THEN excluded.ip ELSE phones.ip END,
	last_file = CASE WHEN excluded.last_file IS NOT NULL
		AND (phones.last_file IS NULL OR excluded.last_seen_ms >= phones.last_seen_ms)
		THEN excluded.last_file ELSE phones.last_file END,
	load_id = CASE WHEN excluded.load_id IS NOT NULL
		AND (phones.load_id IS NULL OR excluded.last_seen_ms >= phones.last_seen_ms)
		THEN excluded.load_id ELSE phones.load_id END,
	seen_model = CASE WHEN excluded.seen_model IS NOT NULL
		AND (phones.seen_model IS NULL OR excluded.last_seen_ms >= phones.last_seen_ms)
		THEN excluded.seen_model ELSE phones.seen_model END`

// ensurePhone makes the row an event references, changing nothing of a
// row that is there: for events that are not the phone's doing
// (event.Foreign: another address named it).
const ensurePhone = `INSERT INTO phones (mac, source) VALUES ($1, $2) ON CONFLICT (mac) DO NOTHING`

const insertEvent = `
INSERT INTO events (time_ms, mac, ip, source, kind, file, outcome, bytes, duration_ns, detail, facts, node)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

// Record writes a batch of events in one transaction, and keeps each
// attributed phone's row up to date with them: the phone was seen at the
// event's time and address; a file request (Event.IsRequest) is its last
// file; Facts.Running is its running load and Facts.Model its model. A MAC
// the store does not know is inserted with Source "auto". An event with a
// zero Time is stamped with the current time.
func (s *Store) Record(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	// The phones' rows first (the events reference them), in the events'
	// order, then the events, as insertEvent's arguments.
	stmts := make([]statement, 0, len(events))
	rows := make([][]any, 0, len(events))
	now := time.Now()
	for _, ev := range events {
		if ev.Time.IsZero() {
			ev.Time = now
		}
		ms := ev.Time.UnixMilli()
		var mac sql.Null[string]
		if ev.MAC != (phone.MAC{}) {
			mac = sql.Null[string]{V: ev.MAC.String(), Valid: true}
			var file sql.Null[string]
			if ev.IsRequest() && ev.File != "" {
				file = sql.Null[string]{V: text(ev.File), Valid: true}
			}
			// An event that is not the phone's doing leaves the row as it is.
			if ev.Kind == event.Foreign {
				stmts = append(stmts, statement{ensurePhone, []any{mac.V, SourceAuto}})
			} else {
				stmts = append(stmts, statement{observe, []any{mac.V, SourceAuto, addrText(ev.IP), ms, file,
					nullText(ev.Facts.Running), nullText(ev.Facts.Model), text(ev.Node)}})
			}
		}
		facts, err := factsText(ev.Facts)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		rows = append(rows, []any{ms, mac, addrText(ev.IP), string(ev.Source), string(ev.Kind),
			text(ev.File), string(ev.Outcome), ev.Bytes, int64(ev.Duration), text(ev.Detail), facts, text(ev.Node)})
	}
	run := recordEach
	if s.record != nil {
		run = s.record
	}
	if err := run(ctx, s.w, stmts, rows); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// statement is one SQL statement and its arguments.
type statement struct {
	query string
	args  []any
}

// recordEach runs phones' statements, then insertEvent for each of
// events, in order in one transaction, a statement at a time: what costs
// nothing on SQLite, whose database is in this process.
func recordEach(ctx context.Context, db *sql.DB, phones []statement, events [][]any) error {
	stmts := phones
	for _, args := range events {
		stmts = append(stmts, statement{insertEvent, args})
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prepared := map[string]*sql.Stmt{}
	for _, st := range stmts {
		p, ok := prepared[st.query]
		if !ok {
			if p, err = tx.PrepareContext(ctx, st.query); err != nil {
				return err
			}
			prepared[st.query] = p
		}
		if _, err := p.ExecContext(ctx, st.args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// factsText is Facts as stored: "" when none is set, else a JSON object.
func factsText(f event.Facts) (string, error) {
	if f.IsZero() {
		return "", nil
	}
	b, err := json.Marshal(f)
	return string(b), err
}

const phoneColumns = `mac, model, seen_model, protocol, label, source, ip, first_seen_ms, last_seen_ms, last_file, load_id,
	events_dropped, dropped_first_ms, dropped_last_ms, node`

// Phones returns every phone, sorted by MAC.
func (s *Store) Phones(ctx context.Context) ([]Phone, error) { return phones(ctx, s.r) }

func phones(ctx context.Context, db querier) ([]Phone, error) {
	// The text form is fixed-width lower-case hex, so text order is MAC order.
	rows, err := db.QueryContext(ctx, `SELECT `+phoneColumns+` FROM phones ORDER BY mac`)
	if err != nil {
		return nil, fmt.Errorf("phones: %w", err)
	}
	defer rows.Close()
	var out []Phone
	for rows.Next() {
		p, err := scanPhone(rows)
		if err != nil {
			return nil, fmt.Errorf("phones: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("phones: %w", err)
	}
	return out, nil
}

// Phone returns one phone; false if the store does not know it.
func (s *Store) Phone(ctx context.Context, mac phone.MAC) (Phone, bool, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+phoneColumns+` FROM phones WHERE mac = $1`, mac.String())
	p, err := scanPhone(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Phone{}, false, nil
	}
	if err != nil {
		return Phone{}, false, fmt.Errorf("phone %s: %w", mac, err)
	}
	return p, true, nil
}

func scanPhone(row interface{ Scan(...any) error }) (Phone, error) {
	var (
		p                                Phone
		ip, file, load, model            sql.Null[string]
		first, last, dropFirst, dropLast sql.Null[int64]
		macText, source                  string
	)
	if err := row.Scan(&macText, &p.Model, &model, &p.Protocol, &p.Label, &source, &ip, &first, &last, &file, &load,
		&p.Dropped.Count, &dropFirst, &dropLast, &p.Node); err != nil {
		return p, err
	}
	var err error
	if p.MAC, err = phone.ParseMAC(macText); err != nil {
		return p, err
	}
	if p.IP, err = parseAddr(ip); err != nil {
		return p, err
	}
	p.Source, p.FirstSeen, p.LastSeen, p.LastFile, p.Load, p.SeenModel = source, msTime(first), msTime(last), file.V, load.V, model.V
	p.Dropped.First, p.Dropped.Last = msTime(dropFirst), msTime(dropLast)
	return p, nil
}

const eventColumns = `id, time_ms, mac, ip, source, kind, file, outcome, bytes, duration_ns, detail, facts, node`

// Events returns the newest limit events of mac, oldest first (a timeline).
// The zero MAC selects the events not attributed to any phone; a limit of 0
// or less means all.
func (s *Store) Events(ctx context.Context, mac phone.MAC, limit int) ([]event.Event, error) {
	q := `SELECT ` + eventColumns + ` FROM events `
	var args []any
	if mac == (phone.MAC{}) {
		q += `WHERE mac IS NULL`
	} else {
		q += `WHERE mac = $1`
		args = append(args, mac.String())
	}
	// Newest first so LIMIT keeps the newest; reversed below.
	q += ` ORDER BY time_ms DESC, id DESC`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("events %s: %w", mac, err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("events %s: %w", mac, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events %s: %w", mac, err)
	}
	slices.Reverse(out)
	return out, nil
}

// Timelines calls f with the timeline of every phone that has events (its
// newest limit events, oldest first), phone after phone, in one query: a
// query per phone costs more than the timeline itself when thousands of
// phones have a few events each. limit must be positive.
func (s *Store) Timelines(ctx context.Context, limit int, f func(phone.MAC, []event.Event) error) error {
	return timelines(ctx, s.r, s.lateral, limit, nil, f)
}

// scanEvent reads one row of eventColumns.
func scanEvent(rows *sql.Rows) (event.Event, error) {
	var (
		ev                           event.Event
		ms, dur                      int64
		m, ip                        sql.Null[string]
		source, kind, outcome, facts string
	)
	if err := rows.Scan(&ev.ID, &ms, &m, &ip, &source, &kind, &ev.File, &outcome,
		&ev.Bytes, &dur, &ev.Detail, &facts, &ev.Node); err != nil {
		return ev, err
	}
	ev.Time, ev.Duration = time.UnixMilli(ms), time.Duration(dur)
	ev.Source, ev.Kind, ev.Outcome = event.Source(source), event.Kind(kind), event.Outcome(outcome)
	var err error
	if m.Valid {
		if ev.MAC, err = phone.ParseMAC(m.V); err != nil {
			return ev, err
		}
	}
	if ev.IP, err = parseAddr(ip); err != nil {
		return ev, err
	}
	if facts != "" {
		if err := json.Unmarshal([]byte(facts), &ev.Facts); err != nil {
			return ev, fmt.Errorf("event %d: facts: %w", ev.ID, err)
		}
	}
	return ev, nil
}

// Retention bounds what the store keeps; a zero field is no limit.
type Retention struct {
	EventsMaxAge time.Duration // events older than this are deleted
	EventsMax    int           // at most this many events are kept, the newest
	// Phones outside the inventory (Source "auto": whoever named a MAC)
	// are kept while seen within UnknownMaxAge, and at most UnknownMax of
	// them, those seen last; a phone deleted goes with its events. The
	// inventory's phones are never deleted by these.
	UnknownMaxAge time.Duration
	UnknownMax    int
}

// Pruned is what a Prune deleted.
type Pruned struct{ Events, Phones int64 }

// Prune applies keep: old events, then unknown phones not seen for long
// or past the cap (with their events), then the oldest events past the
// count. The pages it frees are given back to the file system.
func (s *Store) Prune(ctx context.Context, keep Retention) (Pruned, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Pruned{}, fmt.Errorf("prune: %w", err)
	}
	defer tx.Rollback()
	var out Pruned
	now := time.Now()
	if keep.EventsMaxAge > 0 {
		n, err := exec(ctx, tx, `DELETE FROM events WHERE time_ms < $1`, now.Add(-keep.EventsMaxAge).UnixMilli())
		if err != nil {
			return Pruned{}, fmt.Errorf("prune: %w", err)
		}
		out.Events += n
	}
	if keep.UnknownMaxAge > 0 {
		// Nothing sorts before "" in text order: every phone seen before
		// the cut-off, none seen at it.
		got, err := evictUnknown(ctx, tx, now.Add(-keep.UnknownMaxAge).UnixMilli(), "")
		if err != nil {
			return Pruned{}, fmt.Errorf("prune: %w", err)
		}
		out.Events, out.Phones = out.Events+got.Events, out.Phones+got.Phones
	}
	got, err := capUnknown(ctx, tx, keep.UnknownMax)
	if err != nil {
		return Pruned{}, fmt.Errorf("prune: %w", err)
	}
	out.Events, out.Phones = out.Events+got.Events, out.Phones+got.Phones
	if keep.EventsMax > 0 {
		// The newest event past the limit; it and everything older goes.
		// (LIMIT -1 OFFSET n would say it in one statement, but only SQLite
		// has LIMIT -1.)
		var ms, id int64
		err := tx.QueryRowContext(ctx,
			`SELECT time_ms, id FROM events ORDER BY time_ms DESC, id DESC LIMIT 1 OFFSET $1`, keep.EventsMax).Scan(&ms, &id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return Pruned{}, fmt.Errorf("prune: %w", err)
		default:
			n, err := exec(ctx, tx, `DELETE FROM events WHERE time_ms < $1 OR (time_ms = $1 AND id <= $2)`, ms, id)
			if err != nil {
				return Pruned{}, fmt.Errorf("prune: %w", err)
			}
			out.Events += n
		}
	}
	if err := tx.Commit(); err != nil {
		return Pruned{}, fmt.Errorf("prune: %w", err)
	}
	if out != (Pruned{}) {
		for _, q := range s.reclaim {
			if _, err := s.w.ExecContext(ctx, q); err != nil {
				return out, fmt.Errorf("prune: reclaiming free space: %w", err)
			}
		}
	}
	return out, nil
}

// CapUnknown deletes the phones outside the inventory past the max seen
// last (0: no limit), with their events: what the Writer does after each
// batch, so that a flood of made-up MACs never grows the table much past
// max. It costs a walk of max index entries.
func (s *Store) CapUnknown(ctx context.Context, max int) (Pruned, error) {
	if max <= 0 {
		return Pruned{}, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Pruned{}, fmt.Errorf("cap unknown phones: %w", err)
	}
	defer tx.Rollback()
	out, err := capUnknown(ctx, tx, max)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return Pruned{}, fmt.Errorf("cap unknown phones: %w", err)
	}
	return out, nil
}

func capUnknown(ctx context.Context, tx *sql.Tx, max int) (Pruned, error) {
	if max <= 0 {
		return Pruned{}, nil
	}
	// The newest unknown phone past the cap (index phones_source_seen).
	var (
		ms  sql.Null[int64]
		mac string
	)
	err := tx.QueryRowContext(ctx, `SELECT last_seen_ms, mac FROM phones WHERE source = $1
		ORDER BY last_seen_ms DESC, mac DESC LIMIT 1 OFFSET $2`, SourceAuto, max).Scan(&ms, &mac)
	if errors.Is(err, sql.ErrNoRows) {
		return Pruned{}, nil
	}
	if err != nil {
		return Pruned{}, err
	}
	return evictUnknown(ctx, tx, ms.V, mac)
}

// evictUnknown deletes the phones outside the inventory last seen before
// ms, or at ms with a MAC up to mac, and their events (first: they
// reference the phone).
func evictUnknown(ctx context.Context, tx *sql.Tx, ms int64, mac string) (Pruned, error) {
	const which = `source = $1 AND (last_seen_ms < $2 OR (last_seen_ms = $2 AND mac <= $3))`
	events, err := exec(ctx, tx, `DELETE FROM events WHERE mac IN (SELECT mac FROM phones WHERE `+which+`)`, SourceAuto, ms, mac)
	if err != nil {
		return Pruned{}, err
	}
	phones, err := exec(ctx, tx, `DELETE FROM phones WHERE `+which, SourceAuto, ms, mac)
	return Pruned{Events: events, Phones: phones}, err
}

// exec runs a statement and returns how many rows it changed.
func exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CountEvents is how many events the store holds.
func (s *Store) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// RecordDropped adds to phones' counts of events dropped by the rate
// limit. A phone the store does not know (yet: its row is made by its
// first events, which a rate limit never drops) is returned, not counted.
func (s *Store) RecordDropped(ctx context.Context, dropped map[phone.MAC]Dropped) (missing map[phone.MAC]Dropped, err error) {
	if len(dropped) == 0 {
		return nil, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record dropped events: %w", err)
	}
	defer tx.Rollback()
	for mac, d := range dropped {
		n, err := exec(ctx, tx, `UPDATE phones SET events_dropped = events_dropped + $1,
			dropped_first_ms = COALESCE(dropped_first_ms, $2), dropped_last_ms = $3 WHERE mac = $4`,
			d.Count, d.First.UnixMilli(), d.Last.UnixMilli(), mac.String())
		if err != nil {
			return nil, fmt.Errorf("record dropped events %s: %w", mac, err)
		}
		if n == 0 {
			if missing == nil {
				missing = map[phone.MAC]Dropped{}
			}
			missing[mac] = d
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record dropped events: %w", err)
	}
	return missing, nil
}

// addrText is an address as stored: NULL for the zero Addr.
func addrText(a netip.Addr) sql.Null[string] {
	if !a.IsValid() {
		return sql.Null[string]{}
	}
	return sql.Null[string]{V: a.String(), Valid: true}
}

// nullText is a text column: NULL for "".
func nullText(s string) sql.Null[string] {
	return sql.Null[string]{V: text(s), Valid: s != ""}
}

// text is s as both engines store it: valid UTF-8 without NUL bytes, the
// rest replaced by U+FFFD. PostgreSQL refuses either in a text column,
// and what a sender's bytes would cost there is the whole batch.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func parseAddr(s sql.Null[string]) (netip.Addr, error) {
	if !s.Valid {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(s.V)
}

func msTime(ms sql.Null[int64]) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.V)
}
