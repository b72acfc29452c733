package cli

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/tftp/tftptest"
)

// TestKillDuringBootStorm: kill -9 while phones boot loses at most the
// events of the last second and never corrupts the database.
func TestKillDuringBootStorm(t *testing.T) {
	// One source address for all: plain TFTP's rules (no first-sight
	// binding), so that each new MAC's config is served to it.
	data := filepath.Join(t.TempDir(), "data")
	fwtest.Write(t, data, "phoneboot.toml", []byte("[security]\nfirst_sight = false\n"))
	// Every request is a new phone: without a cap on unknown phones, so
	// that a fast machine's storm does not evict the oldest (with their
	// events) before the kill.
	p, port, _ := serveData(t, data, "--tftp-rate", "0", "--unknown-phones-max", "0")
	client := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Timeout: 200 * time.Millisecond, Retries: 2}
	type done struct {
		name string
		at   time.Time
	}
	var (
		mu       sync.Mutex
		finished []done
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// 16 "phones" fetch their configs in a loop, each request a new MAC.
	for g := range 16 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && i < 100000; i++ {
				name := fmt.Sprintf("SEP%06X%06X.cnf.xml", g, i)
				if _, err := client.Get(ctx, name, io.Discard); err != nil {
					return // the server is gone
				}
				mu.Lock()
				finished = append(finished, done{name, time.Now()})
				mu.Unlock()
			}
		})
	}
	// Kill in mid-storm once some requests finished well over a second ago
	// (the ones whose events must have been stored), however slow the
	// machine is to get the storm going.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		ready := len(finished) >= 20 && time.Since(finished[19].at) > 1200*time.Millisecond
		n := len(finished)
		mu.Unlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests finished within 15s", n)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	p.exit(t, 10*time.Second)
	cancel()
	wg.Wait()

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "phoneboot.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	stored := map[string]bool{}
	rows, err := db.Query("SELECT file FROM events WHERE source = 'tftp'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			t.Fatal(err)
		}
		stored[f] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	lost, old := 0, 0
	for _, d := range finished {
		if killed.Sub(d.at) > time.Second {
			old++
			if !stored[d.name] {
				lost++
			}
		}
	}
	t.Logf("%d requests finished, %d more than 1 s before the kill, %d events stored, %d of those lost", len(finished), old, len(stored), lost)
	if old == 0 || lost > 0 {
		t.Fatalf("lost %d of %d events older than a second", lost, old)
	}
}
