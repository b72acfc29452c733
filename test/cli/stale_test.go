package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"phoneboot/internal/phone"
	"phoneboot/internal/stale"
	"phoneboot/internal/testutil"
)

// staleNet is two network namespaces made for one test and joined by a
// veth pair: A is the phones' side (Phone on it), B phoneboot's, with
// Self on the segment Segment. Nothing leaves the pair; both namespaces
// go when the test ends.
type staleNet struct {
	ip          string
	A, B        string // namespaces
	Phone, Serv string // veth ends in A and B
	Segment     netip.Prefix
	Self        netip.Addr
}

// The phones' old network: the server they remember (Old) and the
// address the phone kept from it (PhoneIP).
var (
	staleOld     = netip.MustParseAddr("10.99.0.1")
	stalePhoneIP = netip.MustParseAddr("10.99.0.50")
	stalePhone   = phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}
)

func newStaleNet(t *testing.T) *staleNet {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.Unavailable(t, "network namespaces need root")
	}
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	n := &staleNet{ip: testutil.Tool(t, "ip"), A: fmt.Sprintf("pbstale-a%d-%s", os.Getpid(), id), B: fmt.Sprintf("pbstale-b%d-%s", os.Getpid(), id),
		Phone: "spa" + id, Serv: "spb" + id,
		Segment: netip.MustParsePrefix("192.0.2.0/24"), Self: netip.MustParseAddr("192.0.2.1")}
	n.run(t, "netns", "add", n.A)
	t.Cleanup(func() { n.quiet("netns", "del", n.A) })
	n.run(t, "netns", "add", n.B)
	t.Cleanup(func() { n.quiet("netns", "del", n.B) })
	n.run(t, "link", "add", n.Phone, "netns", n.A, "address", stalePhone.String(), "type", "veth", "peer", "name", n.Serv, "netns", n.B)
	n.run(t, "-n", n.A, "link", "set", "lo", "up")
	n.run(t, "-n", n.B, "link", "set", "lo", "up")
	// The phone kept its old network's address: it ARPs for its old
	// server, on link.
	n.run(t, "-n", n.A, "addr", "add", netip.PrefixFrom(stalePhoneIP, 24).String(), "dev", n.Phone)
	n.run(t, "-n", n.B, "addr", "add", netip.PrefixFrom(n.Self, 24).String(), "dev", n.Serv)
	n.run(t, "-n", n.A, "link", "set", n.Phone, "up")
	n.run(t, "-n", n.B, "link", "set", n.Serv, "up")
	deadline := time.Now().Add(10 * time.Second)
	for !n.up(n.A, n.Phone) || !n.up(n.B, n.Serv) {
		if time.Now().After(deadline) {
			t.Fatal("veth pair not up within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

func (n *staleNet) up(ns, dev string) bool {
	out, err := n.output("-n", ns, "-o", "link", "show", "dev", dev)
	return err == nil && strings.Contains(out, " state UP ") && !strings.Contains(out, " qdisc noop ")
}

func (n *staleNet) output(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.ip, args...).CombinedOutput()
	return string(out), err
}

func (n *staleNet) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := n.output(args...); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (n *staleNet) quiet(args ...string) { n.output(args...) }

// held is the addresses on B's end of the pair carrying phoneboot's mark.
func (n *staleNet) held(t *testing.T) []string {
	t.Helper()
	out, err := n.output("-n", n.B, "-4", "-o", "addr", "show", "dev", n.Serv, "label", n.Serv+stale.Mark)
	if err != nil {
		t.Fatalf("ip addr show: %v\n%s", err, out)
	}
	var addrs []string
	for _, l := range nonEmptyLines(out) {
		if f := strings.Fields(l); len(f) >= 4 {
			addrs = append(addrs, f[3])
		}
	}
	return addrs
}

// serve runs phoneboot serve inside B with --answer-stale on its end of
// the pair, TFTP on :69 as phones expect it.
func (n *staleNet) serve(t *testing.T, data string, extra ...string) *proc {
	t.Helper()
	p := n.start(t, nil, data, extra...)
	p.waitLog(t, "answering for stale TFTP servers", 15*time.Second)
	return p
}

// start runs phoneboot serve inside B, after the command wrap (nil: none).
func (n *staleNet) start(t *testing.T, wrap []string, data string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"netns", "exec", n.B}, wrap...)
	args = append(args, binary, "serve", "--data", data, "--http-addr", "", "--admin-addr", "", "--syslog-addr", "", "--answer-stale", n.Serv)
	if !slices.Contains(extra, "--tftp-addr") {
		args = append(args, "--tftp-addr", ":69")
	}
	args = append(args, extra...)
	// "ip netns exec" execs phoneboot: signals reach it.
	return startCommand(t, n.ip, args...)
}

// arpConn is a packet socket on A's end of the pair, opened from a thread
// that entered A (the socket stays in A after).
func (n *staleNet) arpConn(t *testing.T) *packet.Conn {
	t.Helper()
	type result struct {
		c   *packet.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread never leaves A: it ends with this goroutine.
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", n.A))
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		ifi, err := net.InterfaceByName(n.Phone)
		if err != nil {
			ch <- result{err: err}
			return
		}
		c, err := packet.Listen(ifi, packet.Raw, 0x0806, nil)
		ch <- result{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("packet socket in %s: %v", n.A, r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c
}

// sendARP sends "who has target? tell sender" from hw (Ethernet source
// src) on c.
func sendARP(t *testing.T, c *packet.Conn, src, hw phone.MAC, sender, target netip.Addr) {
	t.Helper()
	m := stale.RequestFor(hw, sender, target)
	m.Source = src
	if _, err := c.WriteTo(m.Frame(stale.Broadcast), &packet.Addr{HardwareAddr: stale.Broadcast[:]}); err != nil {
		t.Fatal(err)
	}
}

// staleSteps is the steps of mac's stale-server events for addr, oldest
// first, as `phoneboot phones show --json` tells them; an arp-unanswered
// event is the step "unanswered".
func staleSteps(t *testing.T, data string, mac phone.MAC, addr netip.Addr) []string {
	t.Helper()
	code, out, errOut := runQuick(t, "phones", "show", mac.String(), "--data", data, "--json")
	if code != 0 {
		if strings.Contains(errOut, "no phone") || strings.Contains(errOut, "not") {
			return nil
		}
		t.Fatalf("phones show: %s%s", out, errOut)
	}
	var v struct {
		Events []struct {
			Kind  string `json:"kind"`
			Facts struct {
				Server string `json:"server"`
				Step   string `json:"step"`
			} `json:"facts"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("phones show --json: %v\n%s", err, out)
	}
	var steps []string
	for _, e := range v.Events {
		switch {
		case e.Facts.Server != addr.String():
		case e.Kind == "stale-server":
			steps = append(steps, e.Facts.Step)
		case e.Kind == "arp-unanswered":
			steps = append(steps, "unanswered")
		}
	}
	return steps
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stalePhoneData(t *testing.T, macs ...phone.MAC) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	var inv bytes.Buffer
	for _, m := range macs {
		fmt.Fprintf(&inv, "[[phone]]\nmac = %q\nmodel = \"7960\"\n\n", m.String())
	}
	if err := os.WriteFile(filepath.Join(data, "phoneboot.toml"), inv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestStaleServerAnswered: a 7960 that kept its old network (its own
// address 10.99.0.50/24, its TFTP server 10.99.0.1) asks tftp-hpa-style
// for its SEP<MAC>.cnf.xml from 10.99.0.1. phoneboot serve
// --answer-stale probes the address, adds it, serves the file there,
// removes it once the phone is quiet, and again at shutdown; the timeline
// has every step.
func TestStaleServerAnswered(t *testing.T) {
	n := newStaleNet(t)
	tftpBin := testutil.Tool(t, "tftp")
	data := stalePhoneData(t, stalePhone)
	p := n.serve(t, data, "--answer-stale-idle", "3s")

	get := func() []byte {
		t.Helper()
		out := filepath.Join(t.TempDir(), "cnf.xml")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		res, err := exec.CommandContext(ctx, n.ip, "netns", "exec", n.A, tftpBin, "-m", "binary", staleOld.String(),
			"-c", "get", stalePhone.DeviceName()+".cnf.xml", out).CombinedOutput()
		b, rerr := os.ReadFile(out)
		if err != nil || rerr != nil || len(b) == 0 {
			t.Fatalf("tftp get from %v: %v %v\n%s", staleOld, err, rerr, res)
		}
		t.Logf("the phone got its %d-byte config from %v in %v", len(b), staleOld, time.Since(start).Round(time.Millisecond))
		return b
	}
	b := get()
	if !bytes.Contains(b, []byte("<device")) {
		t.Errorf("the config it got is not a device config:\n%s", b)
	}
	if got := n.held(t); len(got) != 1 || !strings.HasPrefix(got[0], staleOld.String()) {
		t.Errorf("held addresses while the phone fetches: %v, want %v", got, staleOld)
	}
	// Quiet for --answer-stale-idle: the address goes.
	waitUntil(t, 15*time.Second, "the address removed after the phone stopped asking", func() bool { return len(n.held(t)) == 0 })
	waitUntil(t, 5*time.Second, "the timeline's steps", func() bool {
		return strings.Join(staleSteps(t, data, stalePhone, staleOld), " ") == "unanswered added released"
	})

	// Again, as after a reboot (an empty ARP cache: a phone that kept
	// 10.99.0.1's MAC cached sends without asking, and is seen at its next
	// ARP), then shutdown while phoneboot holds the address.
	n.run(t, "-n", n.A, "neigh", "flush", "dev", n.Phone)
	get()
	if got := n.held(t); len(got) != 1 {
		t.Fatalf("held addresses: %v, want %v", got, staleOld)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.exit(t, 20*time.Second); code != 0 {
		t.Errorf("serve exited %d", code)
	}
	if got := n.held(t); len(got) != 0 {
		t.Errorf("addresses left after shutdown: %v", got)
	}
	if got := strings.Join(staleSteps(t, data, stalePhone, staleOld), " "); got != "unanswered added released added released" {
		// (The second "unanswered" is within the minute of the first: one
		// per phone, address and step a minute.)
		t.Errorf("steps = %q", got)
	}
	_, out, _ := runQuick(t, "phones", "show", stalePhone.String(), "--data", data)
	if !strings.Contains(out, "asks for an old TFTP server at 10.99.0.1") {
		t.Errorf("phones show has no stale-server finding:\n%s", out)
	}
	t.Logf("phones show:\n%s", out)
}

// TestStaleServerLeftovers: an address carrying phoneboot's mark, left
// by a run that was killed, is removed at start.
func TestStaleServerLeftovers(t *testing.T) {
	n := newStaleNet(t)
	n.run(t, "-n", n.B, "addr", "add", "10.99.0.3/32", "dev", n.Serv, "label", n.Serv+stale.Mark)
	n.run(t, "-n", n.B, "addr", "add", "10.99.0.4/32", "dev", n.Serv) // not ours: stays
	p := n.serve(t, stalePhoneData(t, stalePhone))
	if got := n.held(t); len(got) != 0 {
		t.Errorf("leftovers not removed: %v", got)
	}
	if out, _ := n.output("-n", n.B, "-4", "-o", "addr", "show", "dev", n.Serv); !strings.Contains(out, "10.99.0.4/32") {
		t.Errorf("an address phoneboot did not add was removed:\n%s", out)
	}
	p.waitLog(t, "removed an address an earlier run left", time.Second)
}

// TestStaleServerRefusals: an address a host on the segment has is probed
// and left alone; a sender that is no phone, or whose ARP speaks for
// another MAC, changes nothing; a flood of requests for many addresses
// from many phones holds at most --answer-stale-max at once, and a flood
// from made-up MACs nothing at all.
func TestStaleServerRefusals(t *testing.T) {
	n := newStaleNet(t)
	// A host in A has 10.99.0.7: its kernel answers ARP for it.
	inUse := netip.MustParseAddr("10.99.0.7")
	n.run(t, "-n", n.A, "addr", "add", inUse.String()+"/32", "dev", n.Phone)
	var phones []phone.MAC
	for i := range 20 {
		phones = append(phones, phone.MAC{0x00, 0x13, 0x7f, 0x77, 0x00, byte(i)})
	}
	data := stalePhoneData(t, append(phones, stalePhone)...)
	p := n.serve(t, data, "--answer-stale-max", "2", "--answer-stale-idle", "30s")
	c := n.arpConn(t)

	sendARP(t, c, stalePhone, stalePhone, stalePhoneIP, inUse)
	waitUntil(t, 10*time.Second, "the in-use address refused", func() bool {
		return strings.Join(staleSteps(t, data, stalePhone, inUse), " ") == "in-use"
	})

	// Not a phone; a phone's MAC in an ARP sent from another Ethernet
	// source.
	notPhone := phone.MAC{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	sendARP(t, c, notPhone, notPhone, stalePhoneIP, netip.MustParseAddr("10.99.0.9"))
	sendARP(t, c, notPhone, stalePhone, stalePhoneIP, netip.MustParseAddr("10.99.0.10"))
	// A made-up-MAC flood: 20,000 requests, each its own MAC and address.
	cpu0, rss0 := cpuTime(t, p), rssKB(t, p.cmd.Process.Pid)
	flood := time.Now()
	for i := range 20000 {
		m := phone.MAC{0x02, 0x01, 0x00, byte(i >> 16), byte(i >> 8), byte(i)}
		sendARP(t, c, m, m, stalePhoneIP, netip.AddrFrom4([4]byte{10, 98, byte(i >> 8), byte(i)}))
	}
	sent := time.Since(flood)
	time.Sleep(500 * time.Millisecond)
	rss1 := rssKB(t, p.cmd.Process.Pid)
	t.Logf("20000 made-up-MAC ARP requests in %v: phoneboot used %v of CPU; RSS %d → %d kB", sent.Round(time.Millisecond),
		cpuTime(t, p)-cpu0, rss0.now, rss1.now)
	// The 20 phones, each asking for its own address, 5 times.
	peak := 0
	for range 5 {
		for i, m := range phones {
			sendARP(t, c, m, m, netip.AddrFrom4([4]byte{10, 97, 0, byte(100 + i)}), netip.AddrFrom4([4]byte{10, 97, 1, byte(i)}))
		}
		for range 5 {
			peak = max(peak, len(n.held(t)))
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitUntil(t, 5*time.Second, "two addresses held", func() bool { return len(n.held(t)) == 2 })
	for range 10 {
		peak = max(peak, len(n.held(t)))
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("20000 made-up-MAC requests and 100 from 20 phones: at most %d addresses held", peak)
	if peak > 2 {
		t.Errorf("held %d addresses at once, --answer-stale-max 2", peak)
	}
	for _, a := range n.held(t) {
		if strings.HasPrefix(a, "10.98.") || strings.HasPrefix(a, "10.99.0.9/") || strings.HasPrefix(a, "10.99.0.10/") || strings.HasPrefix(a, inUse.String()+"/") {
			t.Errorf("took %s for a sender that is no phone", a)
		}
	}
	if got := staleSteps(t, data, stalePhone, netip.MustParseAddr("10.99.0.10")); len(got) != 0 {
		t.Errorf("a forged ARP naming the phone got steps %v", got)
	}
	if strings.Contains(p.stderr.String(), "10.98.") {
		t.Errorf("the made-up MACs' addresses reached the log")
	}
	// The phones beyond the cap were told so, each in its timeline.
	full := 0
	for i, m := range phones {
		if slices.Contains(staleSteps(t, data, m, netip.AddrFrom4([4]byte{10, 97, 1, byte(i)})), "full") {
			full++
		}
	}
	if full < len(phones)-2 {
		t.Errorf("%d phones have a \"full\" step, want at least %d", full, len(phones)-2)
	}
	p.signal(t, syscall.SIGTERM)
	p.exit(t, 20*time.Second)
	if got := n.held(t); len(got) != 0 {
		t.Errorf("addresses left after shutdown: %v", got)
	}
	for _, l := range nonEmptyLines(p.stderr.String()) {
		if strings.Contains(l, "ARP listener stopped") {
			t.Logf("%s", l)
		}
	}
}

// TestStaleServerNoPermission: without CAP_NET_RAW and CAP_NET_ADMIN,
// --answer-stale says so in one line and TFTP serves on.
func TestStaleServerNoPermission(t *testing.T) {
	n := newStaleNet(t)
	setpriv := testutil.Tool(t, "setpriv")
	data := stalePhoneData(t, stalePhone)
	p := n.start(t, []string{setpriv, "--bounding-set", "-net_raw,-net_admin", "--inh-caps", "-net_raw,-net_admin"}, data)
	p.waitLog(t, "tftp listening", 15*time.Second)
	p.waitLog(t, "stale TFTP servers not answered (serving goes on)", 15*time.Second)
	if !strings.Contains(p.stderr.String(), "CAP_NET_RAW") {
		t.Errorf("the warning does not name the capability:\n%s", p.stderr)
	}
	time.Sleep(200 * time.Millisecond)
	if !p.running() {
		t.Fatalf("serve stopped:\n%s", p.stderr)
	}
	// TFTP answers on the segment.
	tftpBin := testutil.Tool(t, "tftp")
	n.run(t, "-n", n.A, "addr", "add", "192.0.2.50/24", "dev", n.Phone)
	out := filepath.Join(t.TempDir(), "cnf.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if res, err := exec.CommandContext(ctx, n.ip, "netns", "exec", n.A, tftpBin, "-m", "binary", n.Self.String(),
		"-c", "get", stalePhone.DeviceName()+".cnf.xml", out).CombinedOutput(); err != nil {
		t.Fatalf("tftp get from %v: %v\n%s", n.Self, err, res)
	}
	for _, l := range nonEmptyLines(p.stderr.String()) {
		if strings.Contains(l, "stale") {
			t.Logf("%s", l)
		}
	}
}

// TestStaleServerBoundTFTP: with TFTP bound to the segment's address
// only (--tftp-addr 192.0.2.1:69), the stale address gets a TFTP
// listener of its own while it is held.
func TestStaleServerBoundTFTP(t *testing.T) {
	n := newStaleNet(t)
	tftpBin := testutil.Tool(t, "tftp")
	data := stalePhoneData(t, stalePhone)
	p := n.start(t, nil, data, "--tftp-addr", net.JoinHostPort(n.Self.String(), "69"), "--answer-stale-idle", "2s")
	p.waitLog(t, "answering for stale TFTP servers", 15*time.Second)
	out := filepath.Join(t.TempDir(), "cnf.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res, err := exec.CommandContext(ctx, n.ip, "netns", "exec", n.A, tftpBin, "-m", "binary", staleOld.String(),
		"-c", "get", stalePhone.DeviceName()+".cnf.xml", out).CombinedOutput(); err != nil {
		t.Fatalf("tftp get from %v: %v\n%s", staleOld, err, res)
	}
	waitUntil(t, 10*time.Second, "the address removed", func() bool { return len(n.held(t)) == 0 })
	// Its listener went with it: port 69 on 10.99.0.1 is free again.
	if out, _ := n.output("netns", "exec", n.B, "ss", "-Hnul", "sport", "= :69"); strings.Contains(out, staleOld.String()) {
		t.Errorf("a TFTP socket on %v outlived the address:\n%s", staleOld, out)
	}
}

// TestStaleServerOnSegmentPhone: a phone with an address on the segment
// (192.0.2.50) that believes its old server is on link gets the address
// as a plain /32: no route to it is needed.
func TestStaleServerOnSegmentPhone(t *testing.T) {
	n := newStaleNet(t)
	tftpBin := testutil.Tool(t, "tftp")
	n.run(t, "-n", n.A, "addr", "flush", "dev", n.Phone)
	n.run(t, "-n", n.A, "addr", "add", "192.0.2.50/24", "dev", n.Phone)
	n.run(t, "-n", n.A, "route", "add", staleOld.String()+"/32", "dev", n.Phone)
	data := stalePhoneData(t, stalePhone)
	p := n.serve(t, data)
	out := filepath.Join(t.TempDir(), "cnf.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res, err := exec.CommandContext(ctx, n.ip, "netns", "exec", n.A, tftpBin, "-m", "binary", staleOld.String(),
		"-c", "get", stalePhone.DeviceName()+".cnf.xml", out).CombinedOutput(); err != nil {
		t.Fatalf("tftp get from %v: %v\n%s", staleOld, err, res)
	}
	if got, _ := n.output("-n", n.B, "-4", "-o", "addr", "show", "dev", n.Serv, "label", n.Serv+stale.Mark); !strings.Contains(got, "inet "+staleOld.String()+"/32 ") || strings.Contains(got, "peer") {
		t.Errorf("want a plain %v/32:\n%s", staleOld, got)
	}
	p.signal(t, syscall.SIGTERM)
	p.exit(t, 20*time.Second)
	if got := n.held(t); len(got) != 0 {
		t.Errorf("addresses left after shutdown: %v", got)
	}
}

// TestStaleServerNoticeOnly: --notice-stale probes and records, and
// never takes an address; phones show has the unanswered-ARP finding
// (the rule phoneboot analyze raises from a capture), which says to
// answer there.
func TestStaleServerNoticeOnly(t *testing.T) {
	n := newStaleNet(t)
	data := stalePhoneData(t, stalePhone)
	p := n.start(t, nil, data, "--answer-stale", "", "--notice-stale", n.Serv)
	p.waitLog(t, "noticing stale TFTP servers", 15*time.Second)
	c := n.arpConn(t)
	sendARP(t, c, stalePhone, stalePhone, stalePhoneIP, staleOld)
	waitUntil(t, 10*time.Second, "the unanswered ARP", func() bool {
		return strings.Join(staleSteps(t, data, stalePhone, staleOld), " ") == "unanswered"
	})
	if got := n.held(t); len(got) != 0 {
		t.Errorf("--notice-stale took %v", got)
	}
	_, out, _ := runQuick(t, "phones", "show", stalePhone.String(), "--data", data)
	if !strings.Contains(out, "ERROR: the phone looks for 10.99.0.1 (ARP, once) and nothing answers there") || !strings.Contains(out, "serve --answer-stale IF") {
		t.Errorf("phones show:\n%s", out)
	}
}

// cpuTime is the CPU time (user and system) the running phoneboot used.
func cpuTime(t *testing.T, p *proc) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command's name, ")": state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// TestStaleServerConflictWhileHeld: once another host announces the
// address phoneboot holds, phoneboot gives it up at once.
func TestStaleServerConflictWhileHeld(t *testing.T) {
	n := newStaleNet(t)
	data := stalePhoneData(t, stalePhone)
	p := n.serve(t, data)
	c := n.arpConn(t)
	sendARP(t, c, stalePhone, stalePhone, stalePhoneIP, staleOld)
	waitUntil(t, 10*time.Second, "the address held", func() bool { return len(n.held(t)) == 1 })
	// The old server comes back and announces itself (gratuitous ARP).
	server := phone.MAC{0x02, 0x00, 0x5e, 0x10, 0x00, 0x99}
	sendARP(t, c, server, server, staleOld, staleOld)
	waitUntil(t, 5*time.Second, "the address given up", func() bool { return len(n.held(t)) == 0 })
	waitUntil(t, 5*time.Second, "the steps", func() bool {
		return strings.Join(staleSteps(t, data, stalePhone, staleOld), " ") == "unanswered added in-use released"
	})
	// It is not taken again for a while (a minute): that host has it.
	sendARP(t, c, stalePhone, stalePhone, stalePhoneIP, staleOld)
	time.Sleep(3 * time.Second)
	if got := n.held(t); len(got) != 0 {
		t.Errorf("taken again: %v", got)
	}
	p.signal(t, syscall.SIGTERM)
	p.exit(t, 20*time.Second)
	if got := strings.Count(p.stderr.String(), "probing it"); got != 1 {
		t.Errorf("probed %d times, want once", got)
	}
}

// TestStaleServerSharedAddress: two phones that kept the same old server
// and old addresses of their own share the address, each with its route;
// it goes when both are quiet.
func TestStaleServerSharedAddress(t *testing.T) {
	n := newStaleNet(t)
	other := phone.MAC{0x00, 0x13, 0x7f, 0x77, 0x01, 0x01}
	otherIP := netip.MustParseAddr("10.99.0.51")
	data := stalePhoneData(t, stalePhone, other)
	p := n.serve(t, data, "--answer-stale-idle", "2s")
	c := n.arpConn(t)
	sendARP(t, c, stalePhone, stalePhone, stalePhoneIP, staleOld)
	waitUntil(t, 10*time.Second, "the address held", func() bool { return len(n.held(t)) == 1 })
	sendARP(t, c, other, other, otherIP, staleOld)
	waitUntil(t, 5*time.Second, "the second phone's route", func() bool { return len(n.held(t)) == 2 })
	out, _ := n.output("-n", n.B, "-4", "-o", "addr", "show", "dev", n.Serv, "label", n.Serv+stale.Mark)
	for _, want := range []string{"10.99.0.1 peer 10.99.0.50/32", "10.99.0.1 peer 10.99.0.51/32"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q:\n%s", want, out)
		}
	}
	waitUntil(t, 10*time.Second, "the address released", func() bool { return len(n.held(t)) == 0 })
	for m, want := range map[phone.MAC]string{stalePhone: "unanswered added released", other: "added released"} {
		waitUntil(t, 5*time.Second, fmt.Sprintf("%v's steps %q", m, want), func() bool {
			return strings.Join(staleSteps(t, data, m, staleOld), " ") == want
		})
	}
	p.signal(t, syscall.SIGTERM)
	p.exit(t, 20*time.Second)
}
