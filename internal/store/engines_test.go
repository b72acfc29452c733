package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"phoneboot/internal/store/pgtest"
)

// TestMain stops the PostgreSQL cluster pgtest may have started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// engines runs f once per engine, with where the store is: a new SQLite
// file, and a new PostgreSQL database (pgtest: skipped when there is no
// PostgreSQL, failed under PHONEBOOT_REQUIRE_INTEROP=1).
func engines(t *testing.T, f func(t *testing.T, where string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, filepath.Join(t.TempDir(), FileName)) })
	t.Run("postgres", func(t *testing.T) { f(t, pgtest.URL(t)) })
}

// openWhere opens the store at where, as engines gives it.
func openWhere(ctx context.Context, where string) (*Store, error) {
	if IsPostgres(where) {
		return OpenPostgres(ctx, where)
	}
	return Open(ctx, where)
}

// openEngine opens the engine at where without migrating it.
func openEngine(ctx context.Context, where string) (engine, error) {
	if IsPostgres(where) {
		return openPostgres(ctx, where)
	}
	return openSQLite(where)
}
