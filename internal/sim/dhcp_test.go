package sim

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/testutil"
)

// The DHCP client's tests lease from dnsmasq, a real DHCP server, on a
// veth pair of their own (testutil.Netns): dnsmasq on the test's end,
// the simulated phones' socket inside the namespace.

// dnsmasqNet starts dnsmasq on a fresh pair, its pool .100–.150, with
// option 150 naming the pair's address ending in tftp (none when 0).
func dnsmasqNet(t *testing.T, tftp byte) *testutil.Net {
	t.Helper()
	n := testutil.Netns(t)
	bin := testutil.Tool(t, "dnsmasq")
	dir := t.TempDir()
	args := []string{"-d", "--port=0", "--interface=" + n.Host, "--bind-interfaces", "--no-ping",
		"--dhcp-range=" + n.Addr(100).String() + "," + n.Addr(150).String() + ",255.255.255.0,1h",
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"), "--pid-file=" + filepath.Join(dir, "pid"),
		"--conf-file=/dev/null", "--user=root", "--log-facility=-", "--dhcp-authoritative"}
	if tftp != 0 {
		args = append(args, "--dhcp-option=150,"+n.Addr(tftp).String())
	}
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("dnsmasq:\n%s", b)
		}
	})
	return n
}

func testPhone(t *testing.T, model string, last byte) Phone {
	t.Helper()
	m, ok := phone.ModelByName(model)
	if !ok {
		t.Fatalf("no model %s", model)
	}
	return Phone{MAC: phone.MAC{0x00, 0x13, 0x7f, 0x00, 0x00, last}, Model: m}
}

func TestDHCPLeaseNamesOption150(t *testing.T) {
	n := dnsmasqNet(t, 7)
	d := NewDHCP(n.ListenUDP(t, 68), DHCPOptions{Timeout: 300 * time.Millisecond, Retries: 10})
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[netip.Addr]bool{}
	for i, model := range []string{"7960", "7961", "7970"} {
		l, err := d.Lease(ctx, testPhone(t, model, byte(i+1)))
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if l.Addr.Compare(n.Addr(100)) < 0 || l.Addr.Compare(n.Addr(150)) > 0 {
			t.Errorf("%s leased %v, outside the pool", model, l.Addr)
		}
		if seen[l.Addr] {
			t.Errorf("%s leased %v, already another phone's", model, l.Addr)
		}
		seen[l.Addr] = true
		srv, err := l.TFTPServer()
		if err != nil || srv != netip.AddrPortFrom(n.Addr(7), 69) {
			t.Errorf("%s: TFTP server %v (%v), want option 150's %v:69", model, srv, err, n.Addr(7))
		}
		if l.Server != n.Self {
			t.Errorf("%s: server identifier %v, want %v", model, l.Server, n.Self)
		}
	}
}

// A lossy network costs resends, not leases, and the loss is counted.
func TestDHCPLeaseThroughLoss(t *testing.T) {
	n := dnsmasqNet(t, 7)
	d := NewDHCP(n.ListenUDP(t, 68), DHCPOptions{Timeout: 100 * time.Millisecond, Retries: 12, Loss: 0.3, Seed: 1})
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sends := 0
	for i := range 10 {
		l, err := d.Lease(ctx, testPhone(t, "7961", byte(i+1)))
		if err != nil {
			t.Fatalf("phone %d: %v", i, err)
		}
		sends += l.Sends
	}
	if d.Lost.Load() == 0 || sends <= 20 {
		t.Errorf("with 30%% loss: %d messages lost, %d sent for 10 leases; want some lost and resends", d.Lost.Load(), sends)
	}
}

// With no server the client gives up after its bounded resends, and says
// what it waited for.
func TestDHCPNoServer(t *testing.T) {
	n := testutil.Netns(t)
	d := NewDHCP(n.ListenUDP(t, 68), DHCPOptions{Timeout: 50 * time.Millisecond, Retries: 2})
	defer d.Close()
	t0 := time.Now()
	_, err := d.Lease(context.Background(), testPhone(t, "7960", 1))
	if err == nil || !strings.Contains(err.Error(), "DISCOVER: no [OFFER] after 3 sends") {
		t.Fatalf("err = %v, want DISCOVER: no [OFFER] after 3 sends", err)
	}
	// 50 + 100 + 200 ms.
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("gave up after %v", took)
	}
}

func TestTFTPServerPriority(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6"), netip.MustParseAddr("10.0.0.7")
	for _, tc := range []struct {
		l    Lease
		want netip.Addr
	}{
		{Lease{TFTP: []netip.Addr{a, b}, TFTPName: "10.0.0.6", SIAddr: c}, a},
		{Lease{TFTPName: "10.0.0.6\x00", SIAddr: c}, b},
		{Lease{TFTPName: "tftp.example.net", SIAddr: c}, c},
	} {
		got, err := tc.l.TFTPServer()
		if err != nil || got != netip.AddrPortFrom(tc.want, 69) {
			t.Errorf("%+v: %v, %v; want %v:69", tc.l, got, err, tc.want)
		}
	}
	if _, err := (Lease{Mask: net.CIDRMask(24, 32)}).TFTPServer(); err == nil || !strings.Contains(err.Error(), "no option 150, 66 or siaddr") {
		t.Errorf("a lease naming no server: %v", err)
	}
}

func TestVendorClass(t *testing.T) {
	for name, want := range map[string]string{"7960": "CP-7960G", "7961G-GE": "CP-7961G-GE", "7971": "CP-7971G-GE", "7911": "CP-7911G"} {
		m, _ := modelOf(phone.Model{Name: name})
		if got := m.vendorClass(); got != "Cisco Systems, Inc. IP Phone "+want+"\x00" {
			t.Errorf("%s: %q", name, got)
		}
	}
}
