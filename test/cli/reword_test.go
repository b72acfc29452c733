package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// rewordingChangesNothing stops p, then rewrites the detail sentence of
// every provision event in the store and checks that `phoneboot phones
// --json` says the same of every phone: states, loads, targets, progress
// and findings come from the events' typed facts, never from their words.
// Only the texts that quote provision's sentences to people (a finding's
// cause and "phoneboot did") may change.
func rewordingChangesNothing(t *testing.T, p *proc, data string) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	p.exit(t, 15*time.Second)
	before := phonesJSON(t, data)
	db, err := sql.Open("sqlite", filepath.Join(data, "phoneboot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := db.ExecContext(ctx, `UPDATE events SET detail = 'reworded ' || id || ': ' || upper(detail) WHERE source = 'provision'`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n < 10 {
		t.Fatalf("only %d provision events to reword", n)
	}
	after := phonesJSON(t, data)
	if len(after) != len(before) {
		t.Fatalf("%d phones before rewording, %d after", len(before), len(after))
	}
	for i := range before {
		if !reflect.DeepEqual(before[i], after[i]) {
			t.Errorf("rewording provision's sentences changed phone %v:\nbefore %v\nafter  %v", before[i]["mac"], before[i], after[i])
		}
	}
}

// phonesJSON is `phoneboot phones --json`, without the finding texts that
// quote provision's events.
func phonesJSON(t *testing.T, data string) []map[string]any {
	t.Helper()
	code, stdout, stderr := runQuick(t, "phones", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("phones: %d %s", code, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("phones --json: %v\n%s", err, stdout)
	}
	for _, r := range rows {
		fs, _ := r["findings"].([]any)
		for _, f := range fs {
			delete(f.(map[string]any), "cause")
			delete(f.(map[string]any), "did")
		}
	}
	return rows
}
