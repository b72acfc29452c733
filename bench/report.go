package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// runMeasure is one server's run of one case.
type runMeasure struct {
	startErr       string
	died           string
	res            runResult
	cpuCG, cpuProc time.Duration
	rss            int64
	cgroup         bool
	watch          watchResult
}

// aggregate is one server over all rounds of a case.
type aggregate struct {
	srv      *server
	runs     []runMeasure
	mbps     []float64
	bytes    int64
	wall     time.Duration
	cpuCG    time.Duration
	cpuProc  time.Duration
	cgroup   bool
	rss      int64
	ok, fail int
	died     int // runs in which the server exited
	firstErr string
	durs     []time.Duration
	modes    map[string]int
	timeouts int
	lost     int
	unexp    int
	client   time.Duration
}

// progress tells the operator how a run went, since a case's table only
// comes when all its runs are done.
func (m runMeasure) progress(name string) {
	if m.startErr != "" {
		fmt.Fprintf(os.Stderr, "bench:   %s: %s\n", name, m.startErr)
		return
	}
	r := m.res
	mbps := 0.0
	if r.wall > 0 {
		mbps = float64(r.bytes) / 1e6 / r.wall.Seconds()
	}
	fmt.Fprintf(os.Stderr, "bench:   %s: %.1f MB/s in %v, %d ok, %d failed, server CPU %v\n", name, mbps, r.wall.Round(time.Millisecond), r.ok, r.failed, m.cpuCG.Round(time.Millisecond))
	if m.died != "" {
		fmt.Fprintf(os.Stderr, "bench:   %s\n", m.died)
	}
	if r.firstErr != "" {
		fmt.Fprintf(os.Stderr, "bench:   %s: first error: %s\n", name, r.firstErr)
	}
}

func (a *aggregate) add(m runMeasure) {
	a.runs = append(a.runs, m)
	if a.modes == nil {
		a.modes = map[string]int{}
	}
	if m.startErr != "" {
		a.note(m.startErr)
		return
	}
	r := m.res
	a.cgroup = m.cgroup
	a.ok += r.ok
	a.fail += r.failed
	// A crash explains the failures it causes: it goes first.
	if m.died != "" {
		a.died++
		a.note(m.died)
	}
	if r.firstErr != "" {
		a.note(r.firstErr)
	}
	a.bytes += r.bytes
	a.wall += r.wall
	if r.wall > 0 {
		a.mbps = append(a.mbps, float64(r.bytes)/1e6/r.wall.Seconds())
	} else {
		a.mbps = append(a.mbps, 0)
	}
	a.cpuCG += m.cpuCG
	a.cpuProc += m.cpuProc
	a.rss = max(a.rss, m.rss)
	a.durs = append(a.durs, r.durs...)
	for k, v := range r.negotiated {
		a.modes[k] += v
	}
	a.timeouts += r.timeouts
	a.lost += r.lost
	a.unexp += r.unexpected
	a.client += r.clientCPU
}

func (a *aggregate) note(s string) {
	if a.firstErr == "" {
		a.firstErr = s
	}
}

func (a *aggregate) ran() bool { return a.srv.missing == "" && a.wall > 0 }

// throughput is payload over time, all rounds together, in MB/s (10^6).
func (a *aggregate) throughput() float64 {
	if a.wall <= 0 {
		return 0
	}
	return float64(a.bytes) / 1e6 / a.wall.Seconds()
}

// cpuPerGB is server CPU seconds per 10^9 bytes of payload delivered.
func (a *aggregate) cpuPerGB(proc bool) float64 {
	if a.bytes == 0 {
		return 0
	}
	cpu := a.cpuCG
	if proc || !a.cgroup {
		cpu = a.cpuProc
	}
	return cpu.Seconds() / (float64(a.bytes) / 1e9)
}

func (a *aggregate) percentile(p float64) time.Duration {
	if len(a.durs) == 0 {
		return 0
	}
	d := slices.Clone(a.durs)
	slices.Sort(d)
	i := int(p*float64(len(d))+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func (a *aggregate) modeString() string {
	keys := slices.Sorted(maps.Keys(a.modes))
	if len(keys) == 1 {
		return keys[0]
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, a.modes[k]))
	}
	return strings.Join(parts, "; ")
}

func printHeader(o *options, srvs []*server, cpuMethod string) {
	fmt.Println("# phoneboot boot-storm benchmark")
	fmt.Println()
	fmt.Printf("- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("- machine: %d CPUs (%s), Linux %s, %s\n", runtime.NumCPU(), cpuModel(), readTrim("/proc/sys/kernel/osrelease"), runtime.Version())
	fmt.Printf("- command: `%s`\n", commandLine())
	fmt.Println("- servers (each started fresh for every run, taking turns in this order; dnsmasq's --tftp-max and atftpd's --maxthread are raised to the case's clients + 10):")
	for _, s := range srvs {
		if s.missing != "" {
			fmt.Printf("  - %s: skipped, %s\n", s.name, s.missing)
			continue
		}
		fmt.Printf("  - %s%s on %s: `%s %s`\n", s.name, version(s), s.addr, s.bin, strings.Join(s.args("ROOT", 0), " "))
	}
	kind := "one goroutine and one socket per transfer (tftptest)"
	if o.cfg.reactorClient && !o.cfg.verifySHA {
		kind = "one socket per transfer, all run on one epoll loop per CPU (tftpload), so the load generator takes little CPU from the servers"
	}
	fmt.Printf("- clients: %s, each from its own address 127.0.X.Y, all started at once; retransmit timeout %v, %d retries; downloads are %s\n",
		kind, o.cfg.timeout, o.cfg.retries, map[bool]string{false: "compared byte for byte with the file as they arrive", true: "checked by sha256"}[o.cfg.verifySHA])
	fmt.Printf("- server CPU: %s\n", cpuMethod)
	fmt.Println("- peak RSS: the main process's VmHWM; for a server that forks (tftp-hpa, one process per transfer) the larger of that and the sampled sum of the PSS of all its processes, which counts shared pages once")
	fmt.Println("- the best peer is the best of those that completed every transfer; out-of-order DATA counts blocks the clients got other than the next one (server retransmissions seen from outside)")
	fmt.Println("- MB/s is payload (10^6 bytes) over the time from the start of the storm to the last block, all rounds together, the rounds in brackets; p50/p99 are over every transfer of every round; CPU s/GB is server CPU seconds per 10^9 payload bytes")
	fmt.Println()
}

func printCase(c benchCase, aggs []*aggregate, took time.Duration) {
	fmt.Printf("## Case %s: %s\n\n", c.id, c.title)
	fmt.Println("| server | negotiated | MB/s (rounds) | p50 | p99 | CPU s/GB | CPU s/GB (/proc) | peak RSS | failures | client timeouts | out-of-order DATA | client CPU s |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	var notes []string
	for _, a := range aggs {
		if a.srv.missing != "" {
			fmt.Printf("| %s | %s | | | | | | | | | | |\n", a.srv.name, a.srv.missing)
			continue
		}
		mode := a.modeString()
		if c.windowsize > 0 && !a.srv.window {
			mode += " (no windowsize support: lock-step)"
		}
		var rounds []string
		for _, v := range a.mbps {
			rounds = append(rounds, fmt.Sprintf("%.1f", v))
		}
		cg := "n/a"
		if a.cgroup {
			cg = fmt.Sprintf("%.2f", a.cpuPerGB(false))
		}
		fails := fmt.Sprintf("%d of %d", a.fail, a.fail+a.ok)
		if a.died > 0 {
			fails += fmt.Sprintf(", **server crashed** in %d of %d runs", a.died, len(a.runs))
		}
		if a.firstErr != "" {
			notes = append(notes, fmt.Sprintf("- %s, first error: %s", a.srv.name, a.firstErr))
		}
		lost := ""
		if c.loss > 0 {
			lost = fmt.Sprintf(" (%d packets lost on purpose)", a.lost)
		}
		fmt.Printf("| %s | %s | %.1f (%s) | %s | %s | %s | %.2f | %.0f MB | %s | %d%s | %d | %.1f |\n",
			a.srv.name, mode, a.throughput(), strings.Join(rounds, ", "),
			fmtDur(a.percentile(0.50)), fmtDur(a.percentile(0.99)),
			cg, a.cpuPerGB(true), float64(a.rss)/1e6, fails, a.timeouts, lost, a.unexp, a.client.Seconds())
	}
	fmt.Println()
	for _, a := range aggs {
		if n := watchNote(a.srv.name, a.runs); n != "" {
			notes = append(notes, n)
		}
	}
	for _, n := range notes {
		fmt.Println(n)
	}
	if len(notes) > 0 {
		fmt.Println()
	}
	printRatios(c, aggs)
	fmt.Printf("(case took %v)\n\n", took.Round(time.Second))
}

// printRatios compares phoneboot with the best peer of this run and checks
// the targets of the issue.
func printRatios(c benchCase, aggs []*aggregate) {
	if c.id == "http" {
		printHTTPRatios(aggs)
		return
	}
	var pb *aggregate
	var peers, clean []*aggregate
	for _, a := range aggs {
		if !a.ran() {
			continue
		}
		if a.srv.name == "phoneboot" {
			pb = a
			continue
		}
		peers = append(peers, a)
		if a.fail == 0 && a.died == 0 && a.firstErr == "" {
			clean = append(clean, a)
		}
	}
	if pb == nil {
		fmt.Println("phoneboot did not complete a run: no comparison.")
		return
	}
	if c.prime {
		// Case 6 compares phoneboot with itself, recording off.
		for _, a := range peers {
			if a.srv.name == "phoneboot-untracked" && a.throughput() > 0 {
				cost := 1 - pb.throughput()/a.throughput()
				fmt.Printf("tracking costs %.1f%% of throughput (target < 10%%: %s); CPU per GB %.2f× untracked.\n",
					100*cost, verdict(cost < 0.10), pb.cpuPerGB(false)/a.cpuPerGB(false))
			}
		}
		return
	}
	var checks []string
	// A peer that dropped transfers is not a fair yardstick: its throughput
	// counts only what it finished and its CPU what it bothered to do.
	switch {
	case len(clean) > 0:
		peers = clean
	case len(peers) > 0:
		checks = append(checks, "every peer failed transfers, compared anyway")
	}
	var bestT, bestC *aggregate
	for _, a := range peers {
		if bestT == nil || a.throughput() > bestT.throughput() {
			bestT = a
		}
		if bestC == nil || a.cpuPerGB(false) < bestC.cpuPerGB(false) {
			bestC = a
		}
	}
	if bestT != nil {
		r := pb.throughput() / bestT.throughput()
		line := fmt.Sprintf("throughput %.2f× the best peer (%s)", r, bestT.srv.name)
		if want, ok := map[string]float64{"1": 1.2, "3": 1.3, "4a": 1.5}[c.id]; ok {
			line += fmt.Sprintf(", target ≥ %.1f×: %s", want, verdict(r >= want))
		}
		checks = append(checks, line)
		r = pb.cpuPerGB(false) / bestC.cpuPerGB(false)
		checks = append(checks, fmt.Sprintf("CPU per GB %.2f× the best peer (%s), target ≤ 1×: %s", r, bestC.srv.name, verdict(r <= 1)))
	}
	switch c.id {
	case "4b":
		checks = append(checks, fmt.Sprintf("zero failures: %s; RSS %.0f MB < 300 MB: %s", verdict(pb.fail == 0 && pb.firstErr == ""), float64(pb.rss)/1e6, verdict(pb.rss < 300e6)))
	case "5":
		checks = append(checks, fmt.Sprintf("every transfer complete with correct bytes: %s", verdict(pb.fail == 0 && pb.firstErr == "")))
	}
	fmt.Printf("phoneboot: %s.\n", strings.Join(checks, "; "))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**NOT met**"
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func commandLine() string {
	parts := []string{"go run ./bench"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// version asks a peer for its version, briefly.
func version(s *server) string {
	var args []string
	switch s.name {
	case "dnsmasq":
		args = []string{"--version"}
	case "tftp-hpa", "atftpd":
		args = []string{"-V"}
	default:
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, s.bin, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return ""
	}
	if len(line) > 60 {
		line = line[:60]
	}
	return " (" + line + ")"
}
