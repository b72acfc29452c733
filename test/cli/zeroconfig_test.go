package cli

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

// TestZeroConfig: a newcomer's first `serve` has no phoneboot.toml. An
// unknown phone's first CTLSEP<MAC>.tlv is "not found" (the loop breaker
// waits for a loop), XMLDefault.cnf.xml and its SEP<MAC>.cnf.xml name the
// address it reached phoneboot on as call manager, and a simulated phone
// boots to the end.
func TestZeroConfig(t *testing.T) {
	_, port, data := serve(t)
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	c := tftptest.Client{Server: server, Local: netip.MustParseAddr("127.0.0.9")}
	get := func(name string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var b bytes.Buffer
		_, err := c.Get(ctx, name, &b)
		return b.String(), err
	}
	var te *tftptest.Error
	if _, err := get("CTLSEP00137F000099.tlv"); !errors.As(err, &te) || te.Code != tftp.ErrFileNotFound {
		t.Errorf("first CTLSEP request: %v, want file not found", err)
	}
	for _, name := range []string{"XMLDefault.cnf.xml", "SEP00137F000099.cnf.xml"} {
		b, err := get(name)
		if err != nil || !strings.Contains(b, "<processNodeName>127.0.0.1</processNodeName>") {
			t.Errorf("%s names no call manager at the address phoneboot was reached on (%v):\n%s", name, err, b)
		}
	}
	m, _ := phone.ModelByName("7960")
	mac, _ := phone.ParseMAC("00:13:7F:00:00:98")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := sim.Phone{MAC: mac, Model: m, Load: "P0S3-8-12-00"}.Boot(ctx, sim.Options{Server: server,
		Local: netip.MustParseAddr("127.0.0.10"), Retry: 20 * time.Millisecond, Timeout: 20 * time.Second})
	if r.State != "up" {
		t.Errorf("a 7960 without any config: %s", r.State)
	}
	code, stdout, _ := runQuick(t, "check", "--data", data)
	if code != 0 || !strings.Contains(stdout, "call_managers is not set") || !strings.Contains(stdout, "PBX runs beside phoneboot") {
		t.Errorf("check without a config (code %d) does not say where call control goes:\n%s", code, stdout)
	}
}
