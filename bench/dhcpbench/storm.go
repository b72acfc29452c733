package main

// The storm mode: ISC perfdhcp (Debian package kea-admin) in the client
// namespace sends DISCOVER/REQUEST exchanges from -R distinct MACs at -r
// exchanges a second for -p seconds, as a relay would (giaddr set), to
// each server in turn; then one MAC floods at -storm-flood a second. It
// prints what perfdhcp counted and, for phoneboot, how many messages its
// per-MAC rate limit refused (from /metrics).
//
//	go run ./bench/dhcpbench -storm 3000:600,10000:1000 [-storm-secs 20] [-before-bin PATH]

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"phoneboot/bench/internal/perfdhcp"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stormCase is one perfdhcp run: clients distinct MACs at rate a second.
type stormCase struct{ clients, rate int }

func parseStorm(spec string) ([]stormCase, error) {
	var out []stormCase
	for f := range strings.SplitSeq(spec, ",") {
		c, r, ok := strings.Cut(strings.TrimSpace(f), ":")
		n, err1 := strconv.Atoi(c)
		m, err2 := strconv.Atoi(r)
		if !ok || err1 != nil || err2 != nil || n < 1 || n > 60000 || m < 1 || m > 20000 {
			return nil, fmt.Errorf("-storm: %q is not CLIENTS:RATE (1–60000 clients, 1–20000 a second)", f)
		}
		out = append(out, stormCase{n, m})
	}
	return out, nil
}

// stormNet is a /16 on a veth pair: the server end .0.1 in the root
// namespace, the perfdhcp end .255.254 in a namespace of its own.
type stormNet struct {
	testNet
	client netip.Addr
}

func newStormNet() (_ *stormNet, err error) {
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	n := &stormNet{testNet: testNet{ns: "pbstorm-" + id, srv: "pbss" + id, cli: "pbsc" + id}}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, second := range []byte{250, 251, 249, 248} {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, second, 0, 0}), 16)
		free := true
		for _, a := range addrs {
			if in, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(in.IP); ok && (p.Contains(ip.Unmap()) || in.Contains(p.Addr().AsSlice())) {
					free = false
				}
			}
		}
		if free {
			n.prefix = p
			break
		}
	}
	if !n.prefix.IsValid() {
		return nil, errors.New("no free 10.248–251.0.0/16")
	}
	base := n.prefix.Addr().As4()
	n.self = netip.AddrFrom4([4]byte{base[0], base[1], 0, 1})
	n.client = netip.AddrFrom4([4]byte{base[0], base[1], 255, 254})
	n.lo = netip.AddrFrom4([4]byte{base[0], base[1], 1, 0})
	n.hi = netip.AddrFrom4([4]byte{base[0], base[1], 254, 250})
	if err := ip("netns", "add", n.ns); err != nil {
		return nil, err
	}
	n.cleanups = append(n.cleanups, func() { exec.Command("ip", "netns", "del", n.ns).Run() })
	if err := ip("link", "add", n.srv, "type", "veth", "peer", "name", n.cli, "netns", n.ns); err != nil {
		return nil, err
	}
	n.cleanups = append(n.cleanups, func() { exec.Command("ip", "link", "del", n.srv).Run() })
	for _, args := range [][]string{
		{"addr", "add", netip.PrefixFrom(n.self, 16).String(), "dev", n.srv},
		{"link", "set", n.srv, "up"},
		{"netns", "exec", n.ns, "ip", "link", "set", "lo", "up"},
		{"netns", "exec", n.ns, "ip", "addr", "add", netip.PrefixFrom(n.client, 16).String(), "dev", n.cli},
		{"netns", "exec", n.ns, "ip", "link", "set", n.cli, "up"},
	} {
		if err := ip(args...); err != nil {
			return nil, err
		}
	}
	time.Sleep(500 * time.Millisecond) // the link comes up both ways
	return n, nil
}

// stormResult is what perfdhcp counted in one run.
type stormResult struct {
	perfdhcp.Counts
	refused, received int      // phoneboot's rate limit, datagrams in; -1 unknown
	dropped           []string // phoneboot's other drops: "reason N"
	cpu               time.Duration
	err               string
}

// stormServers are the servers of the storm mode: phoneboot (and the
// binary of before, when given) with an admin port for /metrics, dnsmasq.
func stormServers(bin, before string, n *stormNet, clients int) []*server {
	all := servers(bin, &n.testNet, clients)
	pb := all[0]
	pbArgs := pb.args
	pb.args = func(dir string) []string {
		return append(pbArgs(dir), "--http-addr", "", "--admin-addr", "127.0.0.1:"+adminPort(dir))
	}
	out := []*server{pb}
	if before != "" {
		b := *pb
		b.name, b.bin = "phoneboot-before", before
		out = append(out, &b)
	}
	return append(out, all[1:]...)
}

// adminPort is the run's admin port, written by stormRun into DIR/port.
func adminPort(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "port"))
	if len(b) == 0 {
		return "PORT"
	}
	return string(b)
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "0"
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// serverCounts reads phoneboot's /metrics: the DHCP rate-limit
// refusals, the datagrams received, and the other drops by reason.
func serverCounts(port string, r *stormResult) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	num := func(re string) int {
		m := regexp.MustCompile(`(?m)^` + re + ` ([0-9]+)`).FindSubmatch(b)
		if m == nil {
			return -1
		}
		v, _ := strconv.Atoi(string(m[1]))
		return v
	}
	r.refused = num(`phoneboot_ratelimit_refused_total\{service="dhcp"\}`)
	r.received = num(`phoneboot_dhcp_received_packets_total`)
	for _, m := range regexp.MustCompile(`(?m)^phoneboot_dhcp_dropped_total\{reason="([a-z_]+)"\} ([0-9]+)`).FindAllSubmatch(b, -1) {
		if string(m[2]) != "0" {
			r.dropped = append(r.dropped, string(m[1])+" "+string(m[2]))
		}
	}
}

// stormRun starts s fresh, runs perfdhcp once against it, and stops it.
func stormRun(ctx context.Context, s *server, dir string, n *stormNet, c stormCase, secs int) stormResult {
	r := stormResult{refused: -1, received: -1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.err = err.Error()
		return r
	}
	port := freePort()
	os.WriteFile(filepath.Join(dir, "port"), []byte(port), 0o644)
	p, err := startServer(s, dir)
	if err != nil {
		r.err = "start: " + err.Error()
		return r
	}
	defer p.stop()
	// phoneboot probes the wire for 1.5 s before it serves; dnsmasq is
	// ready at once. Wait the same for both.
	time.Sleep(3 * time.Second)
	if !p.alive() {
		r.err = "exited at start: " + p.logTail()
		return r
	}
	cpu0 := cpu(p.cmd.Process.Pid)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.ns, "perfdhcp", "-4", "-l", n.cli,
		"-r", strconv.Itoa(c.rate), "-R", strconv.Itoa(c.clients), "-p", strconv.Itoa(secs), n.self.String())
	out, err := cmd.CombinedOutput()
	os.WriteFile(filepath.Join(dir, "perfdhcp.out"), out, 0o644)
	r.cpu = cpu(p.cmd.Process.Pid) - cpu0
	r.Counts = perfdhcp.Read(string(out))
	if r.Discovers == 0 {
		r.err = fmt.Sprintf("perfdhcp: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if strings.HasPrefix(s.name, "phoneboot") {
		serverCounts(port, &r)
	}
	if !p.alive() {
		r.err = "exited during the run: " + p.logTail()
	}
	return r
}

func perfdhcpCommand(n *stormNet, c stormCase, secs int) string {
	return fmt.Sprintf("ip netns exec NS perfdhcp -4 -l %s -r %d -R %d -p %d %v", n.cli, c.rate, c.clients, secs, n.self)
}

// runStorm is main's storm mode.
func runStorm(ctx context.Context, o *options, bin, tmp string) error {
	cases, err := parseStorm(o.storm)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("perfdhcp"); err != nil {
		return errors.New("perfdhcp not installed (apt-get install -y kea-admin)")
	}
	n, err := newStormNet()
	if err != nil {
		return err
	}
	defer n.close()
	most := 0
	for _, c := range cases {
		most = max(most, c.clients)
	}
	var all []*server
	for _, s := range stormServers(bin, o.beforeBin, n, most) {
		if slices.Contains(o.servers, s.name) || s.name == "phoneboot-before" {
			all = append(all, s)
		}
	}
	fmt.Println("# phoneboot DHCP storm: perfdhcp")
	fmt.Println()
	fmt.Printf("- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("- machine: %d CPUs (%s), Linux %s, %s\n", runtime.NumCPU(), cpuModel(), readTrim("/proc/sys/kernel/osrelease"), runtime.Version())
	fmt.Printf("- command: `%s`\n", commandLine())
	fmt.Printf("- network: veth %s (%v) ↔ %s (%v, namespace NS); pool %v–%v\n", n.srv, n.self, n.cli, n.client, n.lo, n.hi)
	ver, _ := exec.Command("perfdhcp", "-v").CombinedOutput()
	fmt.Printf("- perfdhcp %s, as a relay (giaddr %v): `%s`, then one MAC flooding: `%s`\n",
		strings.TrimSpace(string(ver)), n.client, perfdhcpCommand(n, cases[0], o.stormSecs), perfdhcpCommand(n, stormCase{1, o.stormFlood}, o.stormSecs))
	for _, s := range all {
		if s.missing != "" {
			fmt.Printf("  - %s: skipped, %s\n", s.name, s.missing)
			continue
		}
		fmt.Printf("  - %s%s: `%s %s`\n", s.name, version(s), s.bin, quote(s.args("DIR")))
	}
	fmt.Println()
	fmt.Println("| server | clients | rate/s | DISCOVER sent | OFFERs | REQUEST sent | ACKs | lost | avg D→O ms | avg R→A ms | datagrams received | refused by the rate limit | other drops | server CPU s |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
	runs := append(cases, stormCase{1, o.stormFlood})
	for ci, c := range runs {
		for _, s := range all {
			if s.missing != "" || ctx.Err() != nil {
				continue
			}
			fmt.Fprintf(os.Stderr, "dhcpbench: storm %d clients at %d/s: %s…\n", c.clients, c.rate, s.name)
			r := stormRun(ctx, s, filepath.Join(tmp, fmt.Sprintf("storm%d-%s", ci, s.name)), n, c, o.stormSecs)
			count := func(v int) string {
				if v < 0 {
					return "–"
				}
				return strconv.Itoa(v)
			}
			lost := r.Discovers - r.Acks
			fmt.Printf("| %s | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %.2f |%s\n", s.name, c.clients, c.rate,
				r.Discovers, r.Offers, r.Requests, r.Acks, lost, r.OfferDelay, r.AckDelay, count(r.received), count(r.refused),
				strings.Join(r.dropped, ", "), r.cpu.Seconds(), errNote(r.err))
		}
	}
	return ctx.Err()
}
