package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

const identityInventory = `[site]
protocol = "SIP"
sip_proxy = "192.0.2.10"

[site.loads]
7960 = "P0S3-8-12-00"

[[phone]]
mac = "00:13:7F:00:01:01"
model = "7960"
  [[phone.line]]
  extension = "301"
  password = "victim-secret"
`

// TestForeignHostGetsNothing replays issue 12's findings 1 and 2 against
// the real binary: once a phone booted from its address, another host
// asking for its files gets "not found" and none of its passwords, its
// spoofed load list changes nothing of the phone (running load, address,
// what its next config names), and the phone's timeline names the host.
func TestForeignHostGetsNothing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	root := filepath.Join(data, "tftp")
	fwtest.WriteLoad(t, root, "P0S3-8-12-00", 2000, fwtest.Classic("P0S3-8-12-00")...)
	fwtest.WriteLoad(t, root, "P0S3-07-4-00", 2000, fwtest.Classic("P0S3-07-4-00")...)
	fwtest.Write(t, data, "phoneboot.toml", []byte(identityInventory))
	_, port, _ := serveData(t, data)
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	mac, _ := phone.ParseMAC("00:13:7F:00:01:01")
	m, _ := phone.ModelByName("7960")
	victim := sim.Phone{MAC: mac, Model: m, Load: "P0S3-8-12-00"}
	own := netip.MustParseAddr("127.0.0.31")
	boot := func() sim.Report {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return victim.Boot(ctx, sim.Options{Server: server, Local: own, Retry: 20 * time.Millisecond, Timeout: 20 * time.Second})
	}
	if r := boot(); r.State != "up" || !strings.Contains(string(r.Configs["./SIP00137F000101.cnf"]), "victim-secret") {
		t.Fatalf("the phone at its own address: %s, SIP file %q", r.State, r.Configs["./SIP00137F000101.cnf"])
	}

	evil := tftptest.Client{Server: server, Local: netip.MustParseAddr("127.0.0.66"), Timeout: 300 * time.Millisecond, Retries: 3}
	get := func(name string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var b bytes.Buffer
		_, err := evil.Get(ctx, name, &b)
		return b.String(), err
	}
	for _, name := range []string{"SIP00137F000101.cnf", "SEP00137F000101.cnf.xml", "./sip00137f000101.CNF"} {
		b, err := get(name)
		var te *tftptest.Error
		if !errors.As(err, &te) || te.Code != tftp.ErrFileNotFound || strings.Contains(b, "victim-secret") {
			t.Errorf("%s from another host: %v, %d bytes", name, err, len(b))
		}
	}
	// The old attack: name the phone, then fetch an older load's list
	// and its files, as a phone rebooting into it would.
	for _, name := range []string{"CTLSEP00137F000101.tlv", "SEP00137F000101.cnf.xml", "P0S3-07-4-00.loads", "P0S3-07-4-00.sb2", "SIPDefault.cnf"} {
		get(name)
	}

	// The store and the phone's next boot: as before.
	var row struct {
		Load string `json:"load"`
		IP   string `json:"ip"`
	}
	var show struct {
		Events []struct {
			Kind   string `json:"kind"`
			IP     string `json:"ip"`
			Detail string `json:"detail"`
		} `json:"events"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, stdout, _ := runQuick(t, "phones", "show", "00:13:7F:00:01:01", "--data", data, "--json")
		var v struct {
			Phone json.RawMessage `json:"phone"`
		}
		json.Unmarshal([]byte(stdout), &v)
		json.Unmarshal(v.Phone, &row)
		json.Unmarshal([]byte(stdout), &show)
		foreign := 0
		for _, ev := range show.Events {
			if ev.Kind == "foreign" && ev.IP == "127.0.0.66" && strings.Contains(ev.Detail, "from 127.0.0.66 over tftp, which is not this phone") {
				foreign++
			}
		}
		if foreign > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no foreign event naming 127.0.0.66 in the phone's timeline:\n%s", stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if row.Load != "P0S3-8-12-00" || row.IP != own.String() {
		t.Errorf("after the foreign host: load %q at %q, want P0S3-8-12-00 at %s", row.Load, row.IP, own)
	}
	for _, ev := range show.Events {
		if ev.IP == "127.0.0.66" && ev.Kind != "foreign" {
			t.Errorf("a %s event from the foreign host in the phone's timeline: %s", ev.Kind, ev.Detail)
		}
	}
	if r := boot(); r.State != "up" || r.Load != "P0S3-8-12-00" || r.Reboots != 0 {
		t.Errorf("the phone's next boot: %s on %s after %d reboots", r.State, r.Load, r.Reboots)
	}
	// phones show says so, with the host's address.
	_, stdout, _ := runQuick(t, "phones", "show", "00:13:7F:00:01:01", "--data", data)
	if !strings.Contains(stdout, "came from 127.0.0.66, not from its address 127.0.0.31 (first sight)") {
		t.Errorf("phones show does not name the foreign host:\n%s", stdout)
	}
	// Every timeline line shows the client address.
	if !regexp.MustCompile(`provision +foreign +127\.0\.0\.66 +SIP00137F000101\.cnf `).MatchString(stdout) ||
		!regexp.MustCompile(`tftp +ok +127\.0\.0\.31 +SEP00137F000101\.cnf\.xml`).MatchString(stdout) {
		t.Errorf("the timeline does not show each event's address:\n%s", stdout)
	}
}
