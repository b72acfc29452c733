package cli

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/store/pgtest"
	"phoneboot/internal/tftp/tftptest"
)

var outageFlag = flag.Duration("outage", 5*time.Second, "how long TestPostgresOutage stops PostgreSQL")

// TestPostgresOutage: while PostgreSQL is stopped (pg_ctl stop -m fast,
// pgtest's own cluster), "phoneboot serve --db postgres://…" keeps
// answering TFTP, says in its log that events wait in memory, and when
// the server is back, "phones show" has the requests of the outage.
//
// How long: -outage (go test -run TestPostgresOutage ./test/cli -args
// -outage 30s).
func TestPostgresOutage(t *testing.T) {
	outage := *outageFlag
	url := pgtest.OwnURL(t)
	data := filepath.Join(t.TempDir(), "data")
	fwtest.Write(t, data, "phoneboot.toml", []byte(`[[phone]]
mac = "00137F380015"
model = "7960"
`))
	p, port, _ := serveData(t, data, "--db", url, "--http-addr=", "--admin-addr=", "--syslog-addr=",
		"--events-rate", "0")
	c := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		Local: netip.MustParseAddr("127.0.0.1"), Timeout: time.Second, Retries: 2}
	const file = "SEP00137F380015.cnf.xml"
	get := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if _, err := c.Get(ctx, file, io.Discard); err != nil {
			t.Fatalf("TFTP: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("TFTP took %v", d)
		}
	}
	get()
	requests := func() (n int) {
		t.Helper()
		code, stdout, stderr := runQuick(t, "phones", "show", "00137F380015", "--limit", "0", "--json",
			"--data", data, "--db", url)
		if code != 0 {
			t.Fatalf("phones show: %s", stderr)
		}
		var out struct{ Events []event.Event }
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("phones show: %v\n%s", err, stdout)
		}
		for _, ev := range out.Events {
			if ev.Kind == event.Request && ev.File == file {
				n++
			}
		}
		return n
	}
	waitUntil(t, 20*time.Second, "the first request stored", func() bool { return requests() == 1 })

	from := p.logLen()
	pgtest.Stop(t)
	during := 0
	for end := time.Now().Add(outage); time.Now().Before(end); during++ {
		get()
		time.Sleep(100 * time.Millisecond)
	}
	p.waitLogSince(t, from, "store: unreachable, events are buffered in memory", 10*time.Second)
	if err := pgtest.Start(); err != nil {
		t.Fatal(err)
	}
	p.waitLogSince(t, from, "store: reachable again", 30*time.Second)
	waitUntil(t, 20*time.Second, "the requests of the outage stored", func() bool { return requests() == 1+during })
	t.Logf("%d TFTP requests answered in a %v outage, all stored after it", during, outage)
}
