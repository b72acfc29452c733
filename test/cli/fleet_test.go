package cli

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/store/pgtest"
	"phoneboot/internal/tftp/tftptest"
)

// startNode starts a node of a fleet named name on the PostgreSQL
// database url, with its own data directory; fleet is its fleet.toml
// ("": none yet). It returns the process, its TFTP port and its data.
func startNode(t *testing.T, url, name, fleet string, extra ...string) (*proc, int, string) {
	t.Helper()
	data := filepath.Join(t.TempDir(), name)
	fwtest.Write(t, data, "phoneboot.toml", []byte("[node]\nname = \""+name+"\"\n"))
	if fleet != "" {
		fwtest.Write(t, data, "fleet.toml", []byte(fleet))
	}
	args := append([]string{"--db", url, "--http-addr=", "--admin-addr=", "--syslog-addr=", "--reload-interval", "500ms"}, extra...)
	return serveData(t, data, args...)
}

// TestFleetInventory: two nodes on one PostgreSQL share one inventory. A
// phone added on node a (phoneboot phones add, into a's fleet.toml) is in
// node b's generated files within seconds, and b's fleet.toml is a's.
func TestFleetInventory(t *testing.T) {
	url := pgtest.URL(t)
	a, _, dataA := startNode(t, url, "a", "[[phone]]\nmac = \"00137F380021\"\nmodel = \"7960\"\n")
	a.waitLog(t, "fleet file: edit shared with the other nodes", 10*time.Second)
	b, portB, dataB := startNode(t, url, "b", "")
	b.waitLog(t, "fleet file: another node's edit taken", 10*time.Second)

	c := tftptest.Client{Server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(portB)),
		Local: netip.MustParseAddr("127.0.3.22"), Timeout: time.Second, Retries: 2}
	const file = "SIP00137F380022.cnf"
	get := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var buf bytes.Buffer
		if _, err := c.Get(ctx, file, &buf); err != nil {
			return err.Error()
		}
		return buf.String()
	}
	if got := get(); strings.Contains(got, "line1_name") {
		t.Fatalf("b serves %s before it is in the inventory:\n%s", file, got)
	}
	code, _, stderr := runQuick(t, "phones", "add", "00137F380022", "--model", "7960", "--protocol", "SIP",
		"--line", "201:s3cret:Reception", "--data", dataA)
	if code != 0 {
		t.Fatalf("phones add: %s", stderr)
	}
	added := time.Now()
	waitUntil(t, 15*time.Second, "the phone added on a in b's files", func() bool {
		return strings.Contains(get(), `line1_name: "201"`)
	})
	t.Logf("added on node a, served by node b %v later", time.Since(added).Round(100*time.Millisecond))
	fa, _ := os.ReadFile(filepath.Join(dataA, "fleet.toml"))
	fb, _ := os.ReadFile(filepath.Join(dataB, "fleet.toml"))
	if !bytes.Equal(fa, fb) || !strings.Contains(string(fb), "00:13:7f:38:00:22") {
		t.Errorf("fleet.toml differs:\na:\n%s\nb:\n%s", fa, fb)
	}
}
