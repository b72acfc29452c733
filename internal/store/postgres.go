package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// OpenPostgres opens the PostgreSQL database url names (postgres://…, as
// pgx reads it) and brings its schema up to date. Nodes starting together
// on one database migrate once: goose holds an advisory lock meanwhile.
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	e, err := openPostgres(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", Redact(url), err)
	}
	s, err := newStore(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", Redact(url), Reason(err))
	}
	return s, nil
}

func openPostgres(ctx context.Context, url string) (engine, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return engine{}, errors.New("not a valid PostgreSQL URL (see docs/store.md)")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	// As SQLite's busy_timeout: a write waits this long for a lock another
	// session holds, then fails (the Writer counts the batch lost).
	if _, ok := cfg.RuntimeParams["lock_timeout"]; !ok {
		cfg.RuntimeParams["lock_timeout"] = "5s"
	}
	migrations, err := fs.Sub(postgresMigrations, "migrations/postgres")
	if err != nil {
		return engine{}, err
	}
	// Others starting at once wait for the lock, polled every second, up
	// to five minutes: as long as a big migration may take.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return engine{}, err
	}
	// One writing connection, as on SQLite; across nodes, pgRecord's lock
	// keeps events committing in the order of their ids, which
	// internal/fleet relies on (Mark).
	w := stdlib.OpenDB(*cfg)
	w.SetMaxOpenConns(1)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return engine{}, Reason(err)
	}
	rc := cfg.Copy()
	rc.RuntimeParams["default_transaction_read_only"] = "on"
	r := stdlib.OpenDB(*rc)
	r.SetMaxOpenConns(4)
	// Autovacuum gives freed space back: nothing to reclaim by hand.
	return engine{writer: w, reader: r, name: "postgres", dialect: goose.DialectPostgres, migrations: migrations,
		lateral: true, locker: locker, record: pgRecord, listenConfig: cfg.Copy()}, nil
}

// pgRecord is Record's writing on PostgreSQL, in three round trips
// (BEGIN, the rest, COMMIT) where a statement at a time would take one
// each: the phones' statements and one INSERT of all the events are sent
// together (pgx's pipelined batch); the server runs them one after
// another, as recordEach would. The events go as one array per column:
// unnest yields their rows in array order, so their ids follow it.
func pgRecord(ctx context.Context, db *sql.DB, phones []statement, events [][]any) error {
	var b pgx.Batch
	// Several nodes write one database: each batch takes the events'
	// lock first, so ids are drawn and committed one batch at a time and
	// a reader never sees id N+1 before N (internal/fleet relies on it).
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, eventsLock)
	for _, st := range phones {
		b.Queue(st.query, st.args...)
	}
	if len(events) > 0 {
		b.Queue(insertEvents, eventArrays(events)...)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		return pgx.BeginFunc(ctx, dc.(*stdlib.Conn).Conn(), func(tx pgx.Tx) error {
			return tx.SendBatch(ctx, &b).Close()
		})
	})
}

// eventsLock is the advisory lock key of event writing ("pbevents").
const eventsLock int64 = 0x7062_6576_656e_7473

// insertEvents is insertEvent for many events: an array per column.
const insertEvents = `
INSERT INTO events (time_ms, mac, ip, source, kind, file, outcome, bytes, duration_ns, detail, facts, node)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
	$7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[])`

// eventArrays turns events' rows of insertEvent arguments into
// insertEvents' twelve column arrays.
func eventArrays(events [][]any) []any {
	n := len(events)
	var (
		ints   [3][]int64   // time_ms, bytes, duration_ns
		nulls  [2][]*string // mac, ip
		strs   [7][]string  // source, kind, file, outcome, detail, facts, node
		intAt  = [3]int{0, 7, 8}
		nullAt = [2]int{1, 2}
		strAt  = [7]int{3, 4, 5, 6, 9, 10, 11}
	)
	for i := range ints {
		ints[i] = make([]int64, n)
	}
	for i := range nulls {
		nulls[i] = make([]*string, n)
	}
	for i := range strs {
		strs[i] = make([]string, n)
	}
	for r, row := range events {
		for i, c := range intAt {
			ints[i][r] = row[c].(int64)
		}
		for i, c := range nullAt {
			if v := row[c].(sql.Null[string]); v.Valid {
				nulls[i][r] = &v.V
			}
		}
		for i, c := range strAt {
			strs[i][r] = row[c].(string)
		}
	}
	return []any{ints[0], nulls[0], nulls[1], strs[0], strs[1], strs[2], strs[3], ints[1], ints[2], strs[4], strs[5], strs[6]}
}

// Reason is err said for a person: the server's own message, or what
// went wrong reaching it, without the driver's layers of wrapping.
func Reason(err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("PostgreSQL says: %s", pe.Message)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return errors.New("nothing answers there (is PostgreSQL running, on that host and port?)")
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("PostgreSQL did not answer in time")
	}
	return err
}
