package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourcesTracked makes `go test` see the sources of the binary these
// tests run. The binary is built by TestMain with `go build`, which the
// test cache does not know about: without this, a second `go test ./...`
// after a change would report the cached result of the old code. Files a
// test opens or stats are part of its cache key, so every source file is
// stat'ed here.
func TestSourcesTracked(t *testing.T) {
	root := filepath.Join("..", "..")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		switch filepath.Ext(path) {
		case ".go", ".tmpl", ".sql", ".mod", ".sum":
			if _, err := os.Stat(path); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil || n < 50 {
		t.Fatalf("walked %d source files: %v", n, err)
	}
}
