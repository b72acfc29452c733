package main

// DHCP alone, in the fleet case's run: ISC perfdhcp (Debian package
// kea-admin) in the phones' namespace sends DISCOVER/REQUEST exchanges
// from CLIENTS distinct MACs at RATE a second for -perfdhcp-secs, as a
// relay would (giaddr set), to phoneboot and to dnsmasq in turn, each in
// the server namespace of a fresh pair (fleetnet.go). Printed side by
// side, one row per case.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"phoneboot/bench/internal/perfdhcp"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// perfCase is one perfdhcp run: clients distinct MACs at rate a second.
type perfCase struct{ clients, rate int }

// The default grid: the 500–5,000/s and 1,000–50,000 clients, in
// about a minute and a half.
const defaultPerf = "1000:500,10000:2000,50000:5000"

func parsePerf(spec string) ([]perfCase, error) {
	if spec == "" || spec == "none" {
		return nil, nil
	}
	var out []perfCase
	for f := range strings.SplitSeq(spec, ",") {
		c, r, ok := strings.Cut(strings.TrimSpace(f), ":")
		n, err1 := strconv.Atoi(c)
		m, err2 := strconv.Atoi(r)
		if !ok || err1 != nil || err2 != nil || n < 1 || n > 60000 || m < 1 || m > 20000 {
			return nil, fmt.Errorf("-perfdhcp: %q is not CLIENTS:RATE (1–60000 clients, 1–20000 a second), e.g. %s", f, defaultPerf)
		}
		out = append(out, perfCase{n, m})
	}
	return out, nil
}

// perfResult is what perfdhcp counted in one run.
type perfResult struct {
	perfdhcp.Counts
	cpu time.Duration
	// phoneboot's own counters (/metrics): datagrams received, refused
	// by its DHCP rate limit; -1 unknown.
	received, refused int
	err               string
}

// perfServer is phoneboot (SQLite, DHCP only) or dnsmasq (DHCP only) in
// n's server namespace.
func perfServer(name, bin, dnsmasq string, n *fleetNet) (*server, error) {
	fleetRunNo++
	dir := filepath.Join(fleetTmp, fmt.Sprintf("perf-%d-%s", fleetRunNo, name))
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	if strings.HasPrefix(name, "dnsmasq") {
		s := nsDnsmasq(dnsmasq, fleetTmp, n, name == "dnsmasq-ping")
		args := s.args
		s.args = func(root string, transfers int) []string {
			return slicesDelete(args(root, transfers), "--enable-tftp", "--tftp-")
		}
		return s, nil
	}
	// perfdhcp's MACs are not in an inventory: lift the new-lease limit
	// (docs/security.md, "DHCP"), as bench/dhcpbench does. This measures
	// the server, not that limit.
	toml := "[dhcp]\nnew_leases_per_minute = 100000\nnew_lease_burst = 100000\n"
	if err := os.WriteFile(filepath.Join(dir, "data", "phoneboot.toml"), []byte(toml), 0o644); err != nil {
		return nil, err
	}
	s := &server{name: name, bin: bin, netns: n.srvNS}
	// The admin server on the server namespace's own loopback, for
	// /metrics: no other program can be there.
	s.args = func(string, int) []string {
		return []string{"serve", "--data", filepath.Join(dir, "data"), "--tftp-addr", "127.0.0.1:0", "--dhcp-iface", n.srv,
			"--dhcp-range", n.lo.String() + "-" + n.hi.String(), "--http-addr=", "--admin-addr", perfAdmin, "--syslog-addr=", "--log-level", "error"}
	}
	return s, nil
}

const perfAdmin = "127.0.0.1:8069"

// phonebootCounts reads phoneboot's /metrics inside ns (curl there: the
// bench's own namespace cannot reach it).
func phonebootCounts(ns string, r *perfResult) {
	r.received, r.refused = -1, -1
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5", "http://"+perfAdmin+"/metrics").Output()
	if err != nil {
		return
	}
	num := func(re string) int {
		m := regexp.MustCompile(`(?m)^` + re + ` ([0-9]+)`).FindSubmatch(out)
		if m == nil {
			return -1
		}
		v, _ := strconv.Atoi(string(m[1]))
		return v
	}
	r.refused = num(`phoneboot_ratelimit_refused_total\{service="dhcp"\}`)
	r.received = num(`phoneboot_dhcp_received_packets_total`)
}

// slicesDelete drops the arguments that start with any of prefixes.
func slicesDelete(args []string, prefixes ...string) []string {
	var out []string
	for _, a := range args {
		keep := true
		for _, p := range prefixes {
			keep = keep && !strings.HasPrefix(a, p)
		}
		if keep {
			out = append(out, a)
		}
	}
	return out
}

// perfRun starts the server fresh in a fresh pair, runs perfdhcp once
// against it, and stops both.
func perfRun(ctx context.Context, reg *registry, name, bin, dnsmasq, cgBase string, c perfCase, secs int) perfResult {
	var r perfResult
	n, err := newFleetNet()
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer n.close()
	s, err := perfServer(name, bin, dnsmasq, n)
	if err != nil {
		r.err = err.Error()
		return r
	}
	p, err := start(ctx, reg, s, "", fleetTmp, cgBase, 0)
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer reg.stop(p)
	// phoneboot listens 1.5 s for another DHCP server before it serves;
	// dnsmasq is ready at once. Wait the same for both.
	time.Sleep(3 * time.Second)
	cg0, proc0 := p.cpu()
	rctx, cancel := context.WithTimeout(ctx, time.Duration(secs+60)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(rctx, "ip", "netns", "exec", n.cliNS, "perfdhcp", "-4", "-l", n.cli,
		"-r", strconv.Itoa(c.rate), "-R", strconv.Itoa(c.clients), "-p", strconv.Itoa(secs), n.self.String())
	out, err := cmd.CombinedOutput()
	cg1, proc1 := p.cpu()
	r.cpu = proc1 - proc0
	if p.cg != nil {
		r.cpu = cg1 - cg0
	}
	r.Counts = perfdhcp.Read(string(out))
	r.received, r.refused = -1, -1
	if name == "phoneboot" {
		phonebootCounts(n.srvNS, &r)
	}
	if r.Discovers == 0 {
		r.err = fmt.Sprintf("perfdhcp: %v: %s", err, strings.Join(strings.Fields(string(out)), " "))
	}
	if !p.alive() {
		r.err = "exited during the run: " + p.logTail()
	}
	return r
}

// runPerfdhcp is the fleet case's DHCP-alone part.
func runPerfdhcp(ctx context.Context, reg *registry, o *options, bin, tmp, cgBase, dnsmasq string) error {
	fmt.Printf("## Case fleet, DHCP alone: perfdhcp against phoneboot and dnsmasq\n\n")
	if _, err := exec.LookPath("perfdhcp"); err != nil {
		fmt.Printf("perfdhcp is not installed (apt-get install kea-admin): skipped.\n\n")
		return nil
	}
	out, _ := exec.Command("perfdhcp", "-v").CombinedOutput()
	ver := strings.TrimPrefix(strings.TrimSpace(string(out)), "VERSION: ")
	self, probe := fleetAddrs()
	fmt.Printf("- perfdhcp %s in the phones' namespace, as a relay (giaddr %v): `ip netns exec NS perfdhcp -4 -l IF -r RATE -R CLIENTS -p %d %v`\n",
		ver, probe, o.perfSecs, self)
	fmt.Println("- the servers: DHCP only, fresh for every run, in the server namespace; phoneboot on SQLite with the new-lease limit lifted (perfdhcp's MACs are in no inventory); dnsmasq as in the fleet case, with --no-ping and as by default (pinging an address before it offers it)")
	fmt.Println("- lost: DISCOVERs sent without an ACK in the end (perfdhcp counts a late reply as lost); datagrams received and refused by the rate limit are phoneboot's /metrics (`phoneboot_dhcp_received_packets_total`, `phoneboot_ratelimit_refused_total{service=\"dhcp\"}`), read with curl inside its namespace")
	fmt.Println()
	fmt.Println("| clients | rate/s | server | OFFERs / DISCOVERs | ACKs | lost | avg D→O / R→A ms | datagrams received | refused by the rate limit | server CPU s |")
	fmt.Println("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
	var notes []string
	for _, c := range o.perf {
		for _, name := range []string{"phoneboot", "dnsmasq", "dnsmasq-ping"} {
			label := map[string]string{"phoneboot": "phoneboot", "dnsmasq": "dnsmasq --no-ping", "dnsmasq-ping": "dnsmasq (pings)"}[name]
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if name != "phoneboot" && dnsmasq == "" {
				fmt.Printf("| %d | %d | %s | missing | | | | | | |\n", c.clients, c.rate, label)
				continue
			}
			fmt.Fprintf(os.Stderr, "bench: fleet perfdhcp %d clients at %d/s: %s…\n", c.clients, c.rate, name)
			r := perfRun(ctx, reg, name, bin, dnsmasq, cgBase, c, o.perfSecs)
			if r.err != "" {
				notes = append(notes, fmt.Sprintf("%s, %d clients at %d/s: %s", name, c.clients, c.rate, r.err))
			}
			delays := "–"
			if r.OfferDelay != "" {
				delays = r.OfferDelay + " / " + r.AckDelay
			}
			count := func(v int) string {
				if v < 0 {
					return "–"
				}
				return strconv.Itoa(v)
			}
			fmt.Printf("| %d | %d | %s | %d / %d | %d | %d | %s | %s | %s | %.2f |\n", c.clients, c.rate, label, r.Offers, r.Discovers, r.Acks,
				r.Discovers-r.Acks, delays, count(r.received), count(r.refused), r.cpu.Seconds())
		}
	}
	fmt.Println()
	for _, n := range notes {
		fmt.Println("- " + n)
	}
	if len(notes) > 0 {
		fmt.Println()
	}
	return nil
}
