package cli

import (
	"context"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/testutil"
)

// TestDHCPThenTFTP: phoneboot serve --dhcp-iface gives a "7960" in a
// network namespace a lease with option 150 = phoneboot; the phone's first
// TFTP request (OS79XX.TXT, no MAC in its name) is attributed through the
// lease, and the timeline shows the DHCP exchange.
func TestDHCPThenTFTP(t *testing.T) {
	n := testutil.Netns(t)
	bb := testutil.Tool(t, "busybox")
	tftpBin := testutil.Tool(t, "tftp")
	// A 10.250.X.0/24 on a veth this test creates: nothing leaves it.
	self := n.Self.String()
	n.Exec(t, "ip", "link", "set", n.Peer, "address", "00:13:7f:00:d4:01")

	// TFTP on every address, on a port serve picks.
	p, port, data := serve(t, "--tftp-addr", ":0", "--dhcp-iface", n.Host,
		"--dhcp-range", n.Addr(100).String()+"-"+n.Addr(150).String(), "--syslog-addr", "")
	p.waitLog(t, "dhcp serving", 5*time.Second)
	// The server first probes for other DHCP servers (1.5s), then opens
	// port 67: wait for phoneboot's own socket there.
	p.waitUDPPort(t, 67, 15*time.Second)

	vars, lease := udhcpc(t, n, bb, "-O", "150", "-V", "Cisco Systems, Inc. IP Phone CP-7960G")
	ip := vars["ip"]
	if a, err := netip.ParseAddr(ip); err != nil || a.Less(n.Addr(100)) || n.Addr(150).Less(a) {
		t.Fatalf("lease of %q, want an address of %v-%v:\n%s", ip, n.Addr(100), n.Addr(150), lease)
	}
	// Option 150 is phoneboot's address on the phones' network (busybox
	// shows an option it has no name for in hex).
	if got, want := vars["opt150"], hex.EncodeToString(n.Self.AsSlice()); got != want {
		t.Fatalf("option 150 = %q, want %q (%v, phoneboot on %s):\n%s", got, want, n.Self, n.Host, lease)
	}
	n.Exec(t, "ip", "addr", "add", ip+"/24", "dev", n.Peer)
	got := filepath.Join(t.TempDir(), "os79xx")
	// No OS79XX.TXT for a phone whose load is unknown: the answer is
	// "not found", and the request lands in its timeline anyway.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	n.Command(ctx, tftpBin, "-m", "binary", self, strconv.Itoa(port), "-c", "get", "OS79XX.TXT", got).Run()
	waitFor(t, func() bool {
		_, stdout, _ := runQuick(t, "phones", "show", "00:13:7f:00:d4:01", "--data", data)
		return strings.Contains(stdout, "dhcp") && strings.Contains(stdout, "ack") && strings.Contains(stdout, "OS79XX.TXT")
	})
}

// udhcpc runs busybox udhcpc on n's peer until it has a lease (4 tries a
// second apart, unless args say otherwise) and returns the variables its
// script saw, and their text.
func udhcpc(t *testing.T, n *testutil.Net, bb string, args ...string) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	script, env := filepath.Join(dir, "script"), filepath.Join(dir, "env")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && env > "+env+"\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := n.Command(ctx, bb, append([]string{"udhcpc", "-f", "-q", "-n", "-t", "4", "-T", "1",
		"-i", n.Peer, "-s", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	lease, err := os.ReadFile(env)
	if err != nil {
		t.Fatalf("udhcpc's script saw no lease: %v\n%s", err, out)
	}
	vars := map[string]string{}
	for _, l := range strings.Split(string(lease), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			vars[k] = v
		}
	}
	return vars, string(lease)
}
