package cli

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
	"phoneboot/internal/store"
	"phoneboot/internal/store/pgtest"
)

// TestPostgresStore: "phoneboot serve --db postgres://…" keeps a booting
// phone's timeline in PostgreSQL, where "phoneboot phones --db" finds it,
// from any data directory; [store] url in phoneboot.toml does the same as
// --db; no SQLite file is made.
func TestPostgresStore(t *testing.T) {
	url := pgtest.URL(t)
	data := filepath.Join(t.TempDir(), "data")
	fwtest.Write(t, data, "phoneboot.toml", []byte(`[[phone]]
mac = "00137F380001"
model = "7960"
label = "front desk"
`))
	off := []string{"--http-addr=", "--admin-addr=", "--syslog-addr="}
	p, port, _ := serveData(t, data, append([]string{"--db", url}, off...)...)

	mac, _ := phone.ParseMAC("00:13:7F:38:00:01")
	m, _ := phone.ModelByName("7960")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	(&sim.Phone{MAC: mac, Model: m, Load: "P0S3-8-12-00"}).Boot(ctx, sim.Options{
		Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		Local:  netip.MustParseAddr("127.0.2.1"), Retry: 20 * time.Millisecond, MaxRequests: 30, Timeout: 10 * time.Second})

	// phones of another data directory: what it shows is in PostgreSQL.
	seen := func(args ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, stdout, stderr := runQuick(t, append([]string{"phones", "--json"}, args...)...)
			if code != 0 {
				t.Fatalf("phones %v: %s", args, stderr)
			}
			var rows []struct {
				MAC, Label, IP, State string
				LastSeen              time.Time `json:"last_seen"`
			}
			if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) == 1 && rows[0].MAC == mac.String() && rows[0].Label == "front desk" &&
				rows[0].IP == "127.0.2.1" && !rows[0].LastSeen.IsZero() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("phones %v: %s", args, stdout)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	seen("--data", data, "--db", url)
	seen("--data", t.TempDir(), "--db", url, "--config", filepath.Join(data, "phoneboot.toml"))
	p.signal(t, syscall.SIGTERM)
	p.exit(t, 15*time.Second)
	if _, err := os.Stat(filepath.Join(data, store.FileName)); err == nil {
		t.Errorf("serve --db made %s too", store.FileName)
	}

	// [store] url: serve and phones without --db use it.
	fwtest.Write(t, data, "phoneboot.toml", []byte(`[store]
url = "`+url+`"
[[phone]]
mac = "00137F380001"
model = "7960"
label = "front desk"
`))
	p, _, _ = serveData(t, data, off...)
	seen("--data", data)
	p.signal(t, syscall.SIGTERM)
	p.exit(t, 15*time.Second)

	// A --db that is no PostgreSQL URL is refused, password unshown.
	code, _, stderr := runQuick(t, "phones", "--data", data, "--db", "postgres://u:secret@127.0.0.1:1/x")
	if code == 0 || !strings.Contains(stderr, "nothing answers there") || strings.Contains(stderr, "secret") {
		t.Errorf("phones --db to nowhere: exit %d, %q", code, stderr)
	}
}
