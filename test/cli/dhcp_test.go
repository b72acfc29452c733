package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
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
	if os.Geteuid() != 0 {
		if testutil.RequireInterop() {
			t.Fatal("needs root (network namespaces) and PHONEBOOT_REQUIRE_INTEROP=1")
		}
		t.Skip("needs root (network namespaces)")
	}
	ipBin := testutil.Tool(t, "ip")
	bb := testutil.Tool(t, "busybox")
	tftpBin := testutil.Tool(t, "tftp")
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ns, srv, cli := "pbcli-"+id, "pbS"+id, "pbC"+id
	// 10.251.X.0/24 on a veth this test creates: nothing leaves it.
	x := strconv.Itoa(int(b[0]))
	self := "10.251." + x + ".1"
	sh(ipBin, "netns", "add", ns)
	t.Cleanup(func() { exec.Command(ipBin, "netns", "del", ns).Run() })
	sh(ipBin, "link", "add", srv, "type", "veth", "peer", "name", cli, "netns", ns)
	t.Cleanup(func() { exec.Command(ipBin, "link", "del", srv).Run() })
	sh(ipBin, "addr", "add", self+"/24", "dev", srv)
	sh(ipBin, "link", "set", srv, "up")
	sh(ipBin, "netns", "exec", ns, "ip", "link", "set", cli, "address", "00:13:7f:00:d4:01")
	sh(ipBin, "netns", "exec", ns, "ip", "link", "set", cli, "up")

	// TFTP on every address (the later --tftp-addr wins over serve's).
	tport := strconv.Itoa(freePort(t))
	p, _, data := serve(t, "--tftp-addr", ":"+tport, "--dhcp-iface", srv,
		"--dhcp-range", "10.251."+x+".100-10.251."+x+".150", "--syslog-addr", "")
	p.waitLog(t, "dhcp serving", 5*time.Second)
	time.Sleep(2 * time.Second) // the start-up probe for other DHCP servers

	dir := t.TempDir()
	script, env := filepath.Join(dir, "script"), filepath.Join(dir, "env")
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && env > "+env+"\nexit 0\n"), 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ipBin, "netns", "exec", ns, bb, "udhcpc", "-f", "-q", "-n", "-t", "4", "-T", "1",
		"-i", cli, "-s", script, "-O", "150", "-V", "Cisco Systems, Inc. IP Phone CP-7960G").CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	lease, _ := os.ReadFile(env)
	if !strings.Contains(string(lease), "opt150=") || !strings.Contains(string(lease), "ip=10.251."+x+".") {
		t.Fatalf("lease without option 150 or address:\n%s", lease)
	}
	ip := ""
	for _, l := range strings.Split(string(lease), "\n") {
		if v, ok := strings.CutPrefix(l, "ip="); ok {
			ip = v
		}
	}
	sh(ipBin, "netns", "exec", ns, "ip", "addr", "add", ip+"/24", "dev", cli)
	got := filepath.Join(dir, "os79xx")
	// No OS79XX.TXT for a phone whose load is unknown: the answer is
	// "not found", and the request lands in its timeline anyway.
	exec.Command(ipBin, "netns", "exec", ns, tftpBin, "-m", "binary", self, tport, "-c", "get", "OS79XX.TXT", got).Run()
	waitFor(t, func() bool {
		_, stdout, _ := runQuick(t, "phones", "show", "00:13:7f:00:d4:01", "--data", data)
		return strings.Contains(stdout, "dhcp") && strings.Contains(stdout, "ack") && strings.Contains(stdout, "OS79XX.TXT")
	})
}
