package store

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// engine is what differs between database engines; everything else in
// this package is plain database/sql and portable SQL. postgres.go is the
// second implementation of the same fields.
type engine struct {
	name string // "sqlite" or "postgres"
	// writer and reader are the two handles: one connection that writes
	// (goroutines queue inside database/sql instead of racing for SQLite's
	// single write lock), and a pool of read-only connections that, in WAL
	// mode, neither wait for nor block the writer.
	writer, reader *sql.DB
	dialect        goose.Dialect
	migrations     fs.FS
	// reclaim runs after a prune that deleted rows, to give the freed
	// space back to the file system.
	reclaim []string
	// lateral: the engine has LATERAL joins (PostgreSQL), which read
	// each phone's newest events as one index scan per phone; without, a
	// correlated IN (… LIMIT) that SQLite plans the same way.
	lateral bool
	// locker, if set, is held while migrating: several processes opening
	// one database at once migrate it once.
	locker lock.SessionLocker
	// record, if set, is Record's writing, the engine's fastest way: the
	// phones' statements, then the events (insertEvent's arguments each),
	// in order in one transaction. nil: recordEach, a statement at a time.
	record func(ctx context.Context, db *sql.DB, phones []statement, events [][]any) error
	// listenConfig, if set, is how Listen connects (PostgreSQL).
	listenConfig *pgx.ConnConfig
}

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// FileName is the database's file in phoneboot's data directory.
const FileName = "phoneboot.db"

// Open opens the SQLite database at path, creating it and its directory if
// needed, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	e, err := openSQLite(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	s, err := newStore(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

func openSQLite(path string) (engine, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return engine{}, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return engine{}, err
	}
	// Check before SQLite touches the file: opening in WAL mode could
	// otherwise leave -wal/-shm files next to someone's unrelated file, and
	// SQLite's own message ("file is not a database") does not say which.
	if err := checkHeader(abs); err != nil {
		return engine{}, err
	}
	migrations, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		return engine{}, err
	}
	// A URI, so that any character in the path is escaped rather than
	// taken for the start of the parameters.
	uri := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	w, err := sql.Open("sqlite", uri+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"+
		// After a checkpoint the WAL file is cut back to this size, so
		// that one burst of writes does not keep its size on disk.
		"&_pragma=journal_size_limit(16777216)"+
		// BEGIN IMMEDIATE takes the write lock up front, where busy_timeout
		// applies; a deferred transaction upgrading from read to write gets
		// SQLITE_BUSY at once when another process writes.
		"&_txlock=immediate")
	if err != nil {
		return engine{}, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", uri+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return engine{}, err
	}
	r.SetMaxOpenConns(4)
	// Migrations run on the writer: its single connection is where
	// journal_mode=WAL is first set.
	return engine{name: "sqlite", writer: w, reader: r, dialect: goose.DialectSQLite3, migrations: migrations,
		// The database is in incremental auto-vacuum mode (migration 5):
		// free pages are given back on request, then the WAL that holds
		// the change is written to the file and emptied.
		reclaim: []string{`PRAGMA incremental_vacuum`, `PRAGMA wal_checkpoint(TRUNCATE)`}}, nil
}

// checkHeader fails if path exists, is not empty and is not a SQLite
// database. An empty file is what SQLite itself creates, so it passes.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	if n == 0 && (err == io.EOF || err == nil) {
		return nil
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return err
	}
	if !bytes.Equal(head[:n], sqliteHeader) {
		return errors.New("not a SQLite database (left untouched)")
	}
	return nil
}

func (e engine) migrate(ctx context.Context) error {
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if e.locker != nil {
		opts = append(opts, goose.WithSessionLocker(e.locker))
	}
	p, err := goose.NewProvider(e.dialect, e.writer, e.migrations, opts...)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
