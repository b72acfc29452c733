package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// IsPostgres reports whether url names a PostgreSQL database
// (postgres://… or postgresql://…), as --db and [store] url do.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// OpenURL opens the store every command shares: the SQLite file in the
// data directory when url is "", else the PostgreSQL database url names.
func OpenURL(ctx context.Context, data, url string) (*Store, error) {
	switch {
	case url == "":
		return Open(ctx, filepath.Join(data, FileName))
	case IsPostgres(url):
		return OpenPostgres(ctx, url)
	}
	return nil, fmt.Errorf("store %q: not a postgres:// URL (leave it empty for the SQLite file in the data directory)", Redact(url))
}

// Redact is url with its password, if any, replaced by "xxxxx": what
// messages show.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Exists reports whether the store OpenURL would open is there already:
// the SQLite file, or (not known without connecting) any PostgreSQL
// database. What only reads the store need not create it.
func Exists(data, url string) bool {
	if url != "" {
		return true
	}
	_, err := os.Stat(filepath.Join(data, FileName))
	return err == nil
}

// Where is the store OpenURL opens, for messages: the SQLite file's path
// or the URL without its password.
func Where(data, url string) string {
	if url == "" {
		return filepath.Join(data, FileName)
	}
	return Redact(url)
}
