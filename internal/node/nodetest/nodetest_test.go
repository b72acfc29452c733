package nodetest

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"phoneboot/internal/node"
	"phoneboot/internal/phone"
	"phoneboot/internal/tftp/tftptest"
)

func TestStartServesAndShares(t *testing.T) {
	n := Start(t, filepath.Join(t.TempDir(), "data"), func(l node.Live) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "admin") }), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := tftptest.Client{Server: n.TFTP, Local: netip.MustParseAddr("127.0.0.2"), Timeout: time.Second, Retries: 3}
	if _, err := c.Get(ctx, "SEP00137F38B3DE.cnf.xml", io.Discard); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(n.Admin + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "admin" {
		t.Errorf("admin server answered %q", b)
	}
	mac, _ := phone.ParseMAC("00137F38B3DE")
	// The event writer flushes in the background.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		v, err := n.Live.Fleet().Phone(ctx, mac, 10)
		if err == nil && len(v.Events) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the phone's events never showed: %v %+v", err, v)
		}
	}
}
