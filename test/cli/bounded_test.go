package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"phoneboot/internal/tftp/tftptest"
)

// TestRandomMACFlood: 60,000 requests naming made-up MACs, each from an
// address of its own, leave phoneboot's memory and its phones table
// bounded: RSS under 100 MB, `phoneboot phones` under a second, at most
// --unknown-phones-max unknown phones kept (the database under 20 MB),
// and every inventory phone still there with its timeline.
func TestRandomMACFlood(t *testing.T) {
	const (
		total   = 60000
		senders = 250
	)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	// Two inventory phones: one that boots before the flood (its row has
	// a history, the oldest of all), one never seen.
	inv := "[[phone]]\nmac = \"00137F0A0001\"\nmodel = \"7960\"\n\n[[phone]]\nmac = \"00137F0A0002\"\nmodel = \"7961\"\n"
	if err := os.WriteFile(filepath.Join(data, "phoneboot.toml"), []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	p, port, _ := serveData(t, data, "--tftp-rate", "0")
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	boot := tftptest.Client{Server: server, Local: netip.MustParseAddr("127.0.0.1"), Timeout: time.Second, Retries: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := boot.Get(ctx, "SEP00137F0A0001.cnf.xml", io.Discard); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	answered := flood(ctx, server, total, senders)
	t.Logf("%d requests, %d answered, in %v", total, answered, time.Since(start).Round(time.Millisecond))
	if answered < total*9/10 {
		t.Fatalf("only %d of %d requests answered", answered, total)
	}
	// Stored once the events table stops growing for a second (the
	// writer flushes every 250ms).
	waitStored(t, data)
	rows := phonesJSON(t, data)
	t.Logf("%d phones listed", len(rows))
	if len(rows) > 5000+2 {
		t.Errorf("%d phones kept, want at most 5000 unknown ones and the 2 of the inventory", len(rows))
	}
	rss := rssKB(t, p.cmd.Process.Pid)
	t.Logf("RSS %d kB (peak %d kB) after %d requests", rss.now, rss.peak, total)
	if rss.now > 100<<10 {
		t.Errorf("RSS %d kB after the flood, want under 100 MB", rss.now)
	}

	began := time.Now()
	code, stdout, stderr := runQuick(t, "phones", "--data", data)
	took := time.Since(began)
	t.Logf("phoneboot phones: %d lines in %v", len(nonEmptyLines(stdout)), took.Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("phones: code %d: %s", code, stderr)
	}
	if took > time.Second {
		t.Errorf("phoneboot phones took %v at the cap, want under 1s", took)
	}
	for _, mac := range []string{"00:13:7f:0a:00:01", "00:13:7f:0a:00:02"} {
		if !strings.Contains(stdout, mac) {
			t.Errorf("inventory phone %s is gone after the flood", mac)
		}
	}
	code, stdout, _ = runQuick(t, "phones", "show", "00137F0A0001", "--data", data)
	if code != 0 || !strings.Contains(stdout, "SEP00137F0A0001.cnf.xml") {
		t.Errorf("inventory phone's timeline lost after the flood (code %d):\n%s", code, stdout)
	}
	size := dbFiles(t, data)
	t.Logf("database: %d bytes (with -wal)", size)
	if size > 20<<20 {
		t.Errorf("database is %d bytes at the cap, want under 20 MB", size)
	}
}

// flood sends total requests for SEP<made-up MAC>.cnf.xml, each from a
// loopback address of its own (127.1.0.1 …: what a host spoofing its
// source sends, so that every name is claimed by "first sight"), senders
// at a time, each waiting for its answer; it returns how many were
// answered (a file or a TFTP error).
func flood(ctx context.Context, server netip.AddrPort, total, senders int) int64 {
	var (
		answered atomic.Int64
		wg       sync.WaitGroup
	)
	for s := range senders {
		wg.Go(func() {
			for i := s; i < total && ctx.Err() == nil; i += senders {
				n := i + 1
				c := tftptest.Client{Server: server, Local: netip.AddrFrom4([4]byte{127, byte(1 + n>>16), byte(n >> 8), byte(n)}),
					Timeout: time.Second, Retries: 2}
				name := "SEP" + floodMACs(i, i+1)[0] + ".cnf.xml"
				var te *tftptest.Error
				if _, err := c.Get(ctx, name, io.Discard); err == nil || errors.As(err, &te) {
					answered.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return answered.Load()
}

type rss struct{ now, peak int64 }

// rssKB reads a process's resident set (VmRSS) and its peak (VmHWM).
func rssKB(t *testing.T, pid int) rss {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var r rss
	for l := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			r.now = n
		case "VmHWM:":
			r.peak = n
		}
	}
	return r
}

// dbFiles is the size of the database with its WAL.
func dbFiles(t *testing.T, data string) int64 {
	t.Helper()
	var n int64
	for _, f := range []string{"phoneboot.db", "phoneboot.db-wal"} {
		if st, err := os.Stat(filepath.Join(data, f)); err == nil {
			n += st.Size()
		}
	}
	return n
}

// floodMACs are the made-up MACs of requests from to to-1, in hex.
func floodMACs(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("5A%010X", i))
	}
	return out
}

// waitStored waits at most 60s for the newest event id in data's
// database to stay the same for a second: the writer is idle.
func waitStored(t *testing.T, data string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "phoneboot.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	last, since := int64(-1), time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Since(since) < time.Second; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("events still being stored 60s after the flood")
		}
		var id sql.NullInt64
		if err := db.QueryRow(`SELECT MAX(id) FROM events`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if id.Int64 != last {
			last, since = id.Int64, time.Now()
		}
	}
}

// TestSyslogFlood: one phone's address floods syslog with long lines for
// 3 seconds. What is stored is bounded by the phone's rate limit (20 a
// second in bursts of 200, --events-rate) and each line by 1 KB: the
// database stays under 2 MB, and `phones show` says how many events were
// dropped.
func TestSyslogFlood(t *testing.T) {
	p, port, data := serve(t, "--syslog-addr", "127.0.0.1:0")
	sport := p.listenAddr(t, "syslog listening", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The phone boots from 127.0.0.1: syslog from there is its.
	boot := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		Local: netip.MustParseAddr("127.0.0.1"), Timeout: time.Second, Retries: 3}
	if _, err := boot.Get(ctx, "SEP00137F0B0001.cnf.xml", io.Discard); err != nil {
		t.Fatal(err)
	}
	before := dbFiles(t, data)

	c := udp(t)
	line := []byte("<190>12: 000012: Dec  3 15:04:05.000 UTC: %PHONE-6-FLOOD: " + strings.Repeat("x", 1900))
	sent := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end) && sent < 1_000_000; sent++ {
		send(t, c, sport, line)
	}
	waitStored(t, data)
	size := dbFiles(t, data)
	t.Logf("%d lines of %d bytes sent; database %d bytes before, %d after (with -wal)", sent, len(line), before, size)
	if size > 2<<20 {
		t.Errorf("database is %d bytes after the flood, want under 2 MB", size)
	}

	code, stdout, stderr := runQuick(t, "phones", "show", "00137F0B0001", "--limit", "0", "--data", data)
	if code != 0 {
		t.Fatalf("phones show: code %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`[\d,]+ events dropped \(rate limit\) since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d`).MatchString(stdout) {
		t.Errorf("phones show does not say events were dropped:\n%.2000s", stdout)
	}
	lines := 0
	for l := range strings.SplitSeq(stdout, "\n") {
		if _, rest, ok := strings.Cut(l, "%PHONE-6-FLOOD: "); ok {
			lines++
			if len(rest) > 1024 || !strings.HasSuffix(rest, "…") {
				t.Errorf("a syslog line is stored with %d bytes of text, want it cut to 1 KB with …", len(rest))
				break
			}
		}
	}
	// The burst, 20 a second for the flood and the time it took to
	// store, and some slack for a slow machine.
	if lines == 0 || lines > 200+20*10 {
		t.Errorf("%d syslog lines stored, want some and at most 400", lines)
	}
	t.Logf("%d syslog lines stored", lines)
}
