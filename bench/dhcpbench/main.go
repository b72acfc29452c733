// Command dhcpbench measures DHCP leases per second for phoneboot and
// dnsmasq in the same run, taking turns: N distinct simulated clients
// (00:13:7f:xx:xx:xx) each DISCOVER, take the OFFER, REQUEST it and wait
// for the ACK, a window of them in flight at once, over a veth pair of its
// own. It prints a markdown table: leases/s per round and overall, p50/p99
// DISCOVER→ACK time, failures, duplicate leases (an address ACKed to two
// MACs) and server CPU seconds.
//
//	go run ./bench/dhcpbench [-clients 1000] [-rounds 2] [-concurrency 64]
//
// With -storm it runs ISC perfdhcp instead (storm.go): a power cut's
// storm of thousands of MACs, then one MAC flooding, against each server:
//
//	go run ./bench/dhcpbench -storm 3000:600,10000:1000 [-before-bin OLD_PHONEBOOT]
//
// It needs root: it creates a network namespace and a veth pair with
// random names on a free 10.252.Y.0/22 to /19 (a pool of twice the
// clients); the
// server runs on the root-namespace end, bound to that interface only,
// the clients in the namespace. Both are deleted at the end, on errors and
// on Ctrl-C. No other interface is touched.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"phoneboot/internal/udpnet"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dhcpbench:", err)
		os.Exit(1)
	}
}

type options struct {
	clients, rounds, concurrency, retries int
	timeout, runTimeout                   time.Duration
	servers                               []string
	keep, scattered                       bool
	storm, beforeBin                      string // storm mode (storm.go)
	stormSecs, stormFlood                 int
}

func parseFlags() (*options, error) {
	o := &options{}
	flag.IntVar(&o.clients, "clients", 1000, "distinct simulated clients (MACs) per run, 1 to 4000")
	flag.IntVar(&o.rounds, "rounds", 2, "times each server runs, taking turns")
	flag.IntVar(&o.concurrency, "concurrency", 64, "clients in the middle of an exchange at once")
	flag.DurationVar(&o.timeout, "timeout", time.Second, "client retransmission timeout")
	flag.IntVar(&o.retries, "retries", 3, "client retransmissions of one message before it gives up")
	flag.DurationVar(&o.runTimeout, "run-timeout", 3*time.Minute, "longest one server's run may take")
	only := flag.String("servers", "phoneboot,dnsmasq-noping,dnsmasq", "comma-separated servers to run, in turn order")
	flag.BoolVar(&o.scattered, "scattered-macs", false, "scatter the clients' MACs over 00:13:7f:00:00:00/24 instead of numbering them 1, 2, 3… (as a batch of phones would be)")
	flag.StringVar(&o.storm, "storm", "", "storm mode: perfdhcp runs of `CLIENTS:RATE,…` (e.g. 3000:600,10000:1000) against each server, then one MAC flooding (needs perfdhcp: apt-get install -y kea-admin)")
	flag.IntVar(&o.stormSecs, "storm-secs", 20, "storm mode: seconds of each perfdhcp run")
	flag.IntVar(&o.stormFlood, "storm-flood", 1000, "storm mode: exchanges a second of the one flooding MAC")
	flag.StringVar(&o.beforeBin, "before-bin", "", "storm mode: also run this phoneboot binary (e.g. one built from main) as phoneboot-before")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (server logs, lease files)")
	flag.Parse()
	switch {
	case flag.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	case o.clients < 1 || o.clients > 4000:
		return nil, errors.New("-clients must be 1 to 4000")
	case o.rounds < 1 || o.rounds > 100:
		return nil, errors.New("-rounds must be 1 to 100")
	case o.concurrency < 1 || o.concurrency > 4000:
		return nil, errors.New("-concurrency must be 1 to 4000")
	case o.retries < 0 || o.retries > 20 || o.timeout <= 0 || o.timeout > time.Minute:
		return nil, errors.New("-retries must be 0 to 20 and -timeout up to 1m")
	case o.runTimeout <= 0:
		return nil, errors.New("-run-timeout must be positive")
	}
	for s := range strings.SplitSeq(*only, ",") {
		o.servers = append(o.servers, strings.TrimSpace(s))
	}
	return o, nil
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespace, veth pair, port 67)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp, err := os.MkdirTemp("", "phoneboot-dhcpbench-")
	if err != nil {
		return err
	}
	if o.keep {
		defer fmt.Fprintln(os.Stderr, "dhcpbench: kept", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return fmt.Errorf("run from inside the phoneboot module (go env GOMOD: %v)", err)
	}
	bin := filepath.Join(tmp, "phoneboot")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/phoneboot")
	build.Dir, build.Stdout, build.Stderr = filepath.Dir(strings.TrimSpace(string(gomod))), os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building phoneboot: %w", err)
	}

	if o.storm != "" {
		return runStorm(ctx, o, bin, tmp)
	}
	n, err := newNet(o.clients)
	if err != nil {
		return err
	}
	defer n.close()
	// Delete the namespace and the veth pair even when a signal comes in
	// while a run is blocked: the deferred close runs once ctx is done and
	// the run returns, which every loop below checks.
	c, err := n.clientConn()
	if err != nil {
		return err
	}
	defer c.Close()

	all := servers(bin, n, o.clients)
	var srvs []*server
	for _, name := range o.servers {
		i := slices.IndexFunc(all, func(s *server) bool { return s.name == name })
		if i < 0 {
			return fmt.Errorf("unknown server %q (have phoneboot, dnsmasq-noping, dnsmasq)", name)
		}
		srvs = append(srvs, all[i])
	}
	printHeader(o, n, srvs)

	aggs := make([]*aggregate, len(srvs))
	for i := range aggs {
		aggs[i] = &aggregate{srv: srvs[i]}
	}
	start := time.Now()
	for round := range o.rounds {
		for i, s := range srvs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if s.missing != "" {
				continue
			}
			fmt.Fprintf(os.Stderr, "dhcpbench: round %d/%d: %s…\n", round+1, o.rounds, s.name)
			dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", s.name, round+1))
			r := measureRun(ctx, o, s, dir, c, n)
			aggs[i].add(r)
			fmt.Fprintf(os.Stderr, "dhcpbench:   %d of %d leased in %v (%.0f leases/s), %d NAKs, %d duplicates, CPU %.2f s%s\n",
				r.acked, o.clients, r.elapsed.Round(time.Millisecond), r.rate(), r.naks, r.dups, r.cpu.Seconds(), errNote(r.err))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	printTable(o, aggs, time.Since(start))
	return nil
}

func errNote(s string) string {
	if s == "" {
		return ""
	}
	return "; " + s
}

// testNet is the veth pair: srv in the root namespace with .1 of prefix,
// cli in namespace ns.
type testNet struct {
	ns, srv, cli string
	prefix       netip.Prefix
	self         netip.Addr
	lo, hi       netip.Addr // the pool
	cleanups     []func()
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNet creates the namespace and the veth pair on a free 10.252.Y.0/bits,
// the smallest of /22 to /19 whose pool (.10 of the first /24 to .250 of
// the last) holds twice the clients: a pool nearly full makes every
// server search long for a free address, which is another benchmark.
func newNet(clients int) (_ *testNet, err error) {
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	n := &testNet{ns: "pbdhcp-" + id, srv: "pbds" + id, cli: "pbdc" + id}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	bits := 22
	for bits > 19 && (1<<(32-bits))-15 < 2*clients {
		bits--
	}
	if n.prefix, err = freePrefix(bits); err != nil {
		return nil, err
	}
	n.self = n.prefix.Addr().Next()
	base := n.prefix.Addr().As4()
	size := 1 << (32 - bits)
	n.lo = netip.AddrFrom4([4]byte{base[0], base[1], base[2], 10})
	last := netip.AddrFrom4([4]byte{base[0], base[1], base[2] + byte(size/256-1), 250})
	n.hi = last

	if err := ip("netns", "add", n.ns); err != nil {
		return nil, err
	}
	n.cleanups = append(n.cleanups, func() { exec.Command("ip", "netns", "del", n.ns).Run() })
	if err := ip("link", "add", n.srv, "type", "veth", "peer", "name", n.cli, "netns", n.ns); err != nil {
		return nil, err
	}
	n.cleanups = append(n.cleanups, func() { exec.Command("ip", "link", "del", n.srv).Run() })
	for _, args := range [][]string{
		{"addr", "add", netip.PrefixFrom(n.self, bits).String(), "dev", n.srv},
		{"link", "set", n.srv, "up"},
		{"netns", "exec", n.ns, "ip", "link", "set", "lo", "up"},
		{"netns", "exec", n.ns, "ip", "link", "set", n.cli, "up"},
	} {
		if err := ip(args...); err != nil {
			return nil, err
		}
	}
	// Wait (bounded) for the link to come up both ways.
	for range 50 {
		b, _ := os.ReadFile("/sys/class/net/" + n.srv + "/operstate")
		if strings.TrimSpace(string(b)) == "up" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n, nil
}

func (n *testNet) close() {
	for _, f := range slices.Backward(n.cleanups) {
		f()
	}
	n.cleanups = nil
}

// freePrefix picks 10.252.Y.0/bits that no local interface is on.
func freePrefix(bits int) (netip.Prefix, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Prefix{}, err
	}
	step := 1 << (24 - bits)
	for range 100 {
		var b [1]byte
		rand.Read(b[:])
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 252, b[0] / byte(step) * byte(step), 0}), bits)
		free := true
		for _, a := range addrs {
			if in, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(in.IP); ok && (p.Contains(ip.Unmap()) || in.Contains(p.Addr().AsSlice())) {
					free = false
				}
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free 10.252.Y.0/%d", bits)
}

// clientConn opens 0.0.0.0:68 on the client interface, inside the
// namespace: a thread of its own enters it just long enough to create the
// socket, which stays there.
func (n *testNet) clientConn() (*net.UDPConn, error) {
	type result struct {
		c   *net.UDPConn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + n.ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		c, err := listenUDP(n.cli, dhcpv4.ClientPort)
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func listenUDP(iface string, port int) (*net.UDPConn, error) {
	return udpnet.ListenDevice(iface, port, 4<<20)
}

// server is one DHCP server under test.
type server struct {
	name    string
	bin     string
	missing string
	// args builds the command line for a run directory.
	args func(dir string) []string
	// prepare makes the run directory fresh.
	prepare func(dir string) error
}

func servers(phoneboot string, n *testNet, clients int) []*server {
	pb := &server{name: "phoneboot", bin: phoneboot,
		args: func(dir string) []string {
			return []string{"serve", "--data", filepath.Join(dir, "data"), "--tftp-addr", "127.0.0.1:0",
				"--syslog-addr", "", "--dhcp-iface", n.srv, "--dhcp-range", n.lo.String() + "-" + n.hi.String(),
				"--log-level", "warn"}
		},
		// The benchmark's clients are all new: lift the new-lease limit
		// (docs/security.md, "DHCP"), which would otherwise admit 48 and
		// then 12 a minute. This measures the server, not the limit.
		prepare: func(dir string) error {
			data := filepath.Join(dir, "data")
			if err := os.MkdirAll(data, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(data, "phoneboot.toml"),
				[]byte("[dhcp]\nnew_leases_per_minute = 100000\nnew_lease_burst = 100000\n"), 0o644)
		},
	}
	dnsmasq := func(name string, extra ...string) *server {
		s := &server{name: name}
		if p, err := exec.LookPath("dnsmasq"); err == nil {
			s.bin = p
		} else if _, err := os.Stat("/usr/sbin/dnsmasq"); err == nil {
			s.bin = "/usr/sbin/dnsmasq"
		} else {
			s.missing = "not installed (apt-get install dnsmasq-base)"
		}
		mask := net.IP(net.CIDRMask(n.prefix.Bits(), 32)).String()
		s.args = func(dir string) []string {
			return append([]string{"--no-daemon", "--port=0", "--interface=" + n.srv, "--bind-interfaces",
				fmt.Sprintf("--dhcp-range=%v,%v,%s,24h", n.lo, n.hi, mask),
				"--dhcp-leasefile=" + filepath.Join(dir, "leases"), "--pid-file=" + filepath.Join(dir, "pid"),
				"--conf-file=/dev/null", "--dhcp-authoritative", "--log-facility=-", "--quiet-dhcp",
				fmt.Sprintf("--dhcp-lease-max=%d", clients+100)}, extra...)
		}
		s.prepare = func(dir string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "leases"), nil, 0o644)
		}
		return s
	}
	return []*server{pb, dnsmasq("dnsmasq-noping", "--no-ping"), dnsmasq("dnsmasq")}
}

func version(s *server) string {
	if s.missing != "" {
		return ""
	}
	var out []byte
	if s.name == "phoneboot" {
		return ""
	}
	out, _ = exec.Command(s.bin, "--version").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(line); len(f) >= 3 {
		return " " + f[2]
	}
	return ""
}

// proc is a running server.
type proc struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

func startServer(s *server, dir string) (*proc, error) {
	if err := s.prepare(dir); err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.bin, s.args(dir)...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, log: lf, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, then SIGKILL after 5 s.
func (p *proc) stop() {
	if p.alive() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.log.Close()
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log.Name())
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

// cpu is the CPU time of pid: the sum of its threads' run time from
// /proc/PID/task/*/schedstat (nanoseconds; a run of 1,000 leases takes a
// few clock ticks only), or utime+stime from /proc/PID/stat (clock ticks)
// when schedstat is missing.
func cpu(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum time.Duration
	ok := false
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			sum += time.Duration(ns)
			ok = true
		}
	}
	if ok {
		return sum
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	// After the ")": state is field 3, utime 14 and stime 15.
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(u+st) * time.Second / hz
}

// runResult is one server's run.
type runResult struct {
	acked, failed, dups int
	naks                int // NAKs after which a client started over
	elapsed             time.Duration
	durs                []time.Duration
	cpu                 time.Duration
	err                 string // first failure, or why the run did not happen
	died                bool
}

func (r runResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.acked) / r.elapsed.Seconds()
}

func measureRun(ctx context.Context, o *options, s *server, dir string, c *net.UDPConn, n *testNet) runResult {
	r := runResult{failed: o.clients}
	p, err := startServer(s, dir)
	if err != nil {
		r.err = "start: " + err.Error()
		return r
	}
	defer p.stop()
	d := newDispatcher(c)
	defer d.stop()
	if err := waitReady(ctx, d, p, n); err != nil {
		r.err = err.Error()
		return r
	}
	rctx, cancel := context.WithTimeout(ctx, o.runTimeout)
	defer cancel()
	cpu0 := cpu(p.cmd.Process.Pid)
	r = load(rctx, o, d, n)
	r.cpu = cpu(p.cmd.Process.Pid) - cpu0
	if !p.alive() {
		r.died = true
		r.err = fmt.Sprintf("%s exited during the run (%v): %s", s.name, p.err, p.logTail())
	}
	return r
}

// dispatcher reads the client socket and hands replies to the exchange
// waiting for their xid.
type dispatcher struct {
	c    *net.UDPConn
	mu   sync.Mutex
	wait map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
	done chan struct{}
}

func newDispatcher(c *net.UDPConn) *dispatcher {
	d := &dispatcher{c: c, wait: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}, done: make(chan struct{})}
	c.SetReadDeadline(time.Time{})
	go d.loop()
	return d
}

func (d *dispatcher) loop() {
	defer close(d.done)
	buf := make([]byte, 4096)
	for {
		k, _, err := d.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return // stop sets a deadline in the past
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		m, err := dhcpv4.FromBytes(buf[:k])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply {
			continue
		}
		d.mu.Lock()
		ch := d.wait[m.TransactionID]
		d.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m:
			default: // a late duplicate: the waiter has enough
			}
		}
	}
}

func (d *dispatcher) stop() {
	d.c.SetReadDeadline(time.Unix(1, 0))
	<-d.done
}

func (d *dispatcher) register(xid dhcpv4.TransactionID) chan *dhcpv4.DHCPv4 {
	ch := make(chan *dhcpv4.DHCPv4, 8)
	d.mu.Lock()
	d.wait[xid] = ch
	d.mu.Unlock()
	return ch
}

func (d *dispatcher) unregister(xid dhcpv4.TransactionID) {
	d.mu.Lock()
	delete(d.wait, xid)
	d.mu.Unlock()
}

var bcast = &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}

func message(mac net.HardwareAddr, xid dhcpv4.TransactionID, typ dhcpv4.MessageType, opts ...dhcpv4.Option) []byte {
	m := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, ClientHWAddr: mac,
		TransactionID: xid, Flags: 0x8000, // broadcast: one socket hears every reply
		ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero, ServerIPAddr: net.IPv4zero, GatewayIPAddr: net.IPv4zero,
		Options: dhcpv4.Options{},
	}
	m.UpdateOption(dhcpv4.OptMessageType(typ))
	m.UpdateOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionTFTPServerAddress))
	m.UpdateOption(dhcpv4.OptClassIdentifier("Cisco Systems, Inc. IP Phone CP-7960G"))
	for _, o := range opts {
		m.UpdateOption(o)
	}
	return m.ToBytes()
}

// exchange sends b every timeout, retries+1 times in all, until a reply
// of one of the types comes for this MAC.
func exchange(ctx context.Context, d *dispatcher, ch chan *dhcpv4.DHCPv4, b []byte, mac net.HardwareAddr, o *options, types ...dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	for range o.retries + 1 {
		if _, err := d.c.WriteTo(b, bcast); err != nil {
			return nil, err
		}
		t := time.NewTimer(o.timeout)
	wait:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
				break wait
			case m := <-ch:
				if string(m.ClientHWAddr) == string(mac) && slices.Contains(types, m.MessageType()) {
					t.Stop()
					return m, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no %v after %d sends, %v apart", types, o.retries+1, o.timeout)
}

func newXID() dhcpv4.TransactionID {
	var x dhcpv4.TransactionID
	rand.Read(x[:])
	return x
}

// lease runs one client's DISCOVER, OFFER, REQUEST, ACK. After a NAK it
// starts over with a DISCOVER, as RFC 2131 §3.1 has a client do, at most
// o.retries times; naks counts them.
func lease(ctx context.Context, d *dispatcher, mac net.HardwareAddr, o *options) (a netip.Addr, naks int, err error) {
	for {
		a, err := leaseOnce(ctx, d, mac, o)
		if !errors.Is(err, errNAK) || naks >= o.retries {
			return a, naks, err
		}
		naks++
	}
}

var errNAK = errors.New("NAK")

func leaseOnce(ctx context.Context, d *dispatcher, mac net.HardwareAddr, o *options) (netip.Addr, error) {
	xid := newXID()
	ch := d.register(xid)
	defer d.unregister(xid)
	off, err := exchange(ctx, d, ch, message(mac, xid, dhcpv4.MessageTypeDiscover), mac, o, dhcpv4.MessageTypeOffer)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("DISCOVER: %w", err)
	}
	sid := off.ServerIdentifier()
	if sid == nil {
		return netip.Addr{}, errors.New("OFFER without a server identifier")
	}
	ack, err := exchange(ctx, d, ch, message(mac, xid, dhcpv4.MessageTypeRequest,
		dhcpv4.OptRequestedIPAddress(off.YourIPAddr), dhcpv4.OptServerIdentifier(sid)),
		mac, o, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("REQUEST: %w", err)
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return netip.Addr{}, fmt.Errorf("%w for %v: %s", errNAK, off.YourIPAddr, ack.Message())
	}
	a, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !a.IsValid() || a.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("ACK without an address (%v)", ack.YourIPAddr)
	}
	return a, nil
}

// waitReady sends DISCOVERs from a locally administered MAC until the
// server OFFERs (phoneboot probes the wire for 1.5 s before it serves).
func waitReady(ctx context.Context, d *dispatcher, p *proc, n *testNet) error {
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	o := &options{timeout: 200 * time.Millisecond}
	for range 50 { // 10 s
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !p.alive() {
			return fmt.Errorf("server exited at start (%v): %s", p.err, p.logTail())
		}
		xid := newXID()
		ch := d.register(xid)
		m, err := exchange(ctx, d, ch, message(mac, xid, dhcpv4.MessageTypeDiscover), mac, o, dhcpv4.MessageTypeOffer)
		d.unregister(xid)
		if err == nil && n.prefix.Contains(addrOf(m.YourIPAddr)) {
			return nil
		}
	}
	return fmt.Errorf("the server did not answer within 10 s: %s", p.logTail())
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

// macOf is client i's MAC: 00:13:7f and i, or with scattered, i times an
// odd constant modulo 2^24 (distinct still, but not consecutive).
func macOf(i int, scattered bool) net.HardwareAddr {
	if scattered {
		i = int(uint32(i)*0x9e3779b1) & 0xffffff
	}
	return net.HardwareAddr{0x00, 0x13, 0x7f, byte(i >> 16), byte(i >> 8), byte(i)}
}

// load runs every client through a window of o.concurrency workers.
func load(ctx context.Context, o *options, d *dispatcher, n *testNet) runResult {
	var (
		mu     sync.Mutex
		r      runResult
		byAddr = map[netip.Addr]string{}
		next   = make(chan int)
		wg     sync.WaitGroup
	)
	start := time.Now()
	var last time.Time
	for range o.concurrency {
		wg.Go(func() {
			for i := range next {
				mac := macOf(i, o.scattered)
				t0 := time.Now()
				a, naks, err := lease(ctx, d, mac, o)
				t1 := time.Now()
				mu.Lock()
				r.naks += naks
				if err != nil {
					r.failed++
					if r.err == "" {
						r.err = fmt.Sprintf("client %v: %v", mac, err)
					}
				} else {
					r.acked++
					r.durs = append(r.durs, t1.Sub(t0))
					last = t1
					if other, ok := byAddr[a]; ok && other != mac.String() {
						r.dups++
					}
					byAddr[a] = mac.String()
					if !n.prefix.Contains(a) {
						r.failed++
						if r.err == "" {
							r.err = fmt.Sprintf("client %v got %v, outside %v", mac, a, n.prefix)
						}
					}
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range o.clients {
		select {
		case next <- i:
		case <-ctx.Done():
			mu.Lock()
			r.failed += o.clients - i
			if r.err == "" {
				r.err = "run timed out or interrupted"
			}
			mu.Unlock()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if last.IsZero() {
		last = time.Now()
	}
	r.elapsed = last.Sub(start)
	return r
}
