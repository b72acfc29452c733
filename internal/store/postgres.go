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
		return nil, fmt.Errorf("store %s: %w", Redact(url), pgReason(err))
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
	// One writing connection, as on SQLite: events commit in the order of
	// their ids, which internal/fleet relies on (Mark).
	w := stdlib.OpenDB(*cfg)
	w.SetMaxOpenConns(1)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return engine{}, pgReason(err)
	}
	rc := cfg.Copy()
	rc.RuntimeParams["default_transaction_read_only"] = "on"
	r := stdlib.OpenDB(*rc)
	r.SetMaxOpenConns(4)
	// Autovacuum gives freed space back: nothing to reclaim by hand.
	return engine{writer: w, reader: r, name: "postgres", dialect: goose.DialectPostgres, migrations: migrations,
		lateral: true, locker: locker, batch: pgBatch}, nil
}

// pgBatch runs stmts in order in one transaction, sent to the server
// together (pgx's pipelined batch): BEGIN, the statements, COMMIT are three
// round trips, where a statement at a time would be one each. The server
// runs them one after another, as execEach would: the same result.
func pgBatch(ctx context.Context, db *sql.DB, stmts []statement) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		return pgx.BeginFunc(ctx, dc.(*stdlib.Conn).Conn(), func(tx pgx.Tx) error {
			var b pgx.Batch
			for _, st := range stmts {
				b.Queue(st.query, st.args...)
			}
			return tx.SendBatch(ctx, &b).Close()
		})
	})
}

// pgReason is err said for a person: the server's own message, or what
// went wrong reaching it, without the driver's layers of wrapping.
func pgReason(err error) error {
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
