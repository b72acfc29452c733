// Command bench runs a TFTP boot storm against phoneboot and, in the same
// run and on the same files, against dnsmasq, tftp-hpa (in.tftpd -L) and
// atftpd, taking turns A B C D, A B C D…, and prints a markdown table per
// case: throughput, p50/p99 transfer time, server CPU per GB, peak RSS and
// failures. Case 6 runs phoneboot alone, with and without recording every
// transfer, to measure what tracking costs. Case http runs phoneboot alone,
// over its phones' HTTP service and over TFTP with windowsize. Case fleet
// boots 1,000 simulated phones at once against phoneboot on SQLite, on
// PostgreSQL and dnsmasq, DHCP and TFTP, then DHCP alone with perfdhcp
// (bench/fleet.go); case soak boots a slice of it again and again with
// packet loss (bench/fleetsoak.go).
//
//	go run ./bench [-cases 1,2,3,4a,4b,5,6,http,sse,fleet,soak] [-rounds 2] [-quick]
//
// Every packet goes to 127.0.0.0/8. Run it as root on an otherwise idle
// machine: the clients share the CPUs with the server they measure.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == fleetWorkerFlag {
		// The phones' process of the fleet and soak cases (fleetphones.go).
		if err := fleetWorker(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "bench phones:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	cases      []string
	rounds     int
	quick      bool
	clients    int
	only       []string
	cfg        stormConfig
	keepTmp    bool
	moduleRoot string
	// The fleet case's perfdhcp runs (fleetperf.go) and the soak
	// (fleetsoak.go).
	perf        []perfCase
	perfSecs    int
	soak        time.Duration
	soakPhones  int
	soakLoss    float64
	soakServers []string
}

var allCases = []benchCase{
	{id: "1", title: "200 clients × 2 MiB, 512-byte lock-step (no options)", clients: 200, file: "fw-2m.bin"},
	{id: "2", title: "200 clients × 2 MiB, blksize 1428", clients: 200, file: "fw-2m.bin", blksize: 1428},
	{id: "3", title: "50 clients × 2 MiB, blksize 1428, windowsize 16", clients: 50, file: "fw-2m.bin", blksize: 1428, windowsize: 16},
	{id: "4a", title: "2,000 concurrent lock-step transfers of 512 KiB", clients: 2000, file: "cfg-512k.bin"},
	{id: "4b", title: "10,000 concurrent lock-step transfers of 512 KiB", clients: 10000, file: "cfg-512k.bin"},
	{id: "5", title: "5% random loss each way, 200 clients × 2 MiB, lock-step", clients: 200, file: "fw-2m.bin", loss: 0.05},
	{id: "6", title: "tracking cost: 2,000 phones known by MAC × 512 KiB, every transfer recorded vs not", clients: 2000, file: "cfg-512k.bin",
		prime: true, servers: []string{"phoneboot", "phoneboot-untracked"}},
	{id: "sse", title: "2,000 phones known by MAC × 512 KiB while 4 live dashboards watch (Phones page: /live + reloads) vs none", clients: 2000,
		file: "cfg-512k.bin", prime: true, servers: []string{"phoneboot", "phoneboot-watched"}},
	{id: "http", title: "50 phones × 2 MiB, phoneboot over HTTP (port 6970) vs over TFTP with blksize 1428, windowsize 16", clients: 50,
		file: "fw-2m.bin", blksize: 1428, windowsize: 16, servers: []string{"phoneboot", "phoneboot-http"}},
	// fleet has its own runner (bench/fleet.go).
	{id: "fleet", title: "1,000 phones of mixed models boot at once", clients: 1000},
	// soak too (bench/fleetsoak.go).
	{id: "soak", title: "continuous boots with packet loss"},
}

var fileSizes = map[string]int{"fw-2m.bin": 2 << 20, "cfg-512k.bin": 512 << 10}

func parseFlags() (*options, error) {
	o := &options{}
	cases := flag.String("cases", "1,2,3,4a,4b,5,6", "comma-separated cases to run (6 runs phoneboot with and without tracking only)")
	only := flag.String("servers", "phoneboot,dnsmasq,tftp-hpa,atftpd", "comma-separated servers to run")
	flag.IntVar(&o.rounds, "rounds", 2, "times each server runs each case, taking turns")
	flag.BoolVar(&o.quick, "quick", false, "about 10× fewer clients per case, for a smoke run")
	flag.IntVar(&o.clients, "clients", 0, "clients per case instead of the case's own number (0: the case's)")
	flag.DurationVar(&o.cfg.timeout, "client-timeout", time.Second, "client retransmission timeout")
	flag.IntVar(&o.cfg.retries, "client-retries", 5, "client retransmissions of one packet before it gives up")
	flag.DurationVar(&o.cfg.perXfer, "transfer-timeout", 3*time.Minute, "longest one transfer may take")
	flag.DurationVar(&o.cfg.perRun, "run-timeout", 5*time.Minute, "longest one server's storm may take")
	flag.BoolVar(&o.cfg.verifySHA, "sha256", false, "verify downloads by sha256 instead of comparing bytes as they arrive (goroutine client)")
	client := flag.String("client", "reactor", "load generator: reactor (epoll loops, cheap per packet) or goroutine (one goroutine per client)")
	flag.BoolVar(&o.keepTmp, "keep", false, "keep the temporary directory (server logs)")
	perf := flag.String("perfdhcp", defaultPerf, "case fleet: perfdhcp runs `CLIENTS:RATE,…` against phoneboot and dnsmasq after the storm (none: skip; needs apt-get install kea-admin)")
	flag.IntVar(&o.perfSecs, "perfdhcp-secs", 10, "case fleet: seconds of each perfdhcp run")
	flag.DurationVar(&o.soak, "soak", 10*time.Minute, "case soak: how long the phones boot again and again (at most 2h)")
	flag.IntVar(&o.soakPhones, "soak-phones", 100, "case soak: phones booting at once, a slice of the fleet (1 to 1000)")
	flag.Float64Var(&o.soakLoss, "soak-loss", 0.02, "case soak: packet loss each way, 0 to 0.2")
	soakServers := flag.String("soak-servers", "sqlite", "case soak: comma-separated phoneboot stores to soak, in turn: sqlite, postgres")
	flag.Parse()
	var err error
	if o.perf, err = parsePerf(*perf); err != nil {
		return nil, err
	}
	switch {
	case o.perfSecs < 1 || o.perfSecs > 600:
		return nil, fmt.Errorf("-perfdhcp-secs must be 1 to 600")
	case o.soak <= 0 || o.soak > 2*time.Hour:
		return nil, fmt.Errorf("-soak must be more than 0 and at most 2h")
	case o.soakPhones < 1 || o.soakPhones > 1000:
		return nil, fmt.Errorf("-soak-phones must be 1 to 1000")
	case o.soakLoss < 0 || o.soakLoss > 0.2:
		return nil, fmt.Errorf("-soak-loss must be 0 to 0.2")
	}
	for s := range strings.SplitSeq(*soakServers, ",") {
		s = strings.TrimSpace(s)
		if s != "sqlite" && s != "postgres" {
			return nil, fmt.Errorf("-soak-servers: %q is neither sqlite nor postgres", s)
		}
		o.soakServers = append(o.soakServers, s)
	}
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	if o.clients < 0 || o.clients > 60000 {
		return nil, fmt.Errorf("-clients must be 0 to 60000")
	}
	if o.rounds < 1 || o.rounds > 100 {
		return nil, fmt.Errorf("-rounds must be 1 to 100")
	}
	if o.cfg.retries < 1 || o.cfg.timeout <= 0 {
		return nil, fmt.Errorf("-client-retries and -client-timeout must be positive")
	}
	switch *client {
	case "reactor":
		o.cfg.reactorClient = true
	case "goroutine":
	default:
		return nil, fmt.Errorf("-client must be reactor or goroutine, not %q", *client)
	}
	for c := range strings.SplitSeq(*cases, ",") {
		c = strings.TrimSpace(c)
		if c == "4" {
			o.cases = append(o.cases, "4a", "4b")
			continue
		}
		if !slices.ContainsFunc(allCases, func(b benchCase) bool { return b.id == c }) {
			return nil, fmt.Errorf("unknown case %q (have 1, 2, 3, 4a, 4b, 5, 6, http, sse, fleet, soak)", c)
		}
		o.cases = append(o.cases, c)
	}
	for s := range strings.SplitSeq(*only, ",") {
		o.only = append(o.only, strings.TrimSpace(s))
	}
	return o, nil
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := raiseFileLimit(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "phoneboot-bench-")
	if err != nil {
		return err
	}
	if o.keepTmp {
		defer fmt.Fprintln(os.Stderr, "bench: kept", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	reg := &registry{}
	defer reg.stopAll()

	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(root)) == "" || strings.TrimSpace(string(root)) == os.DevNull {
		return fmt.Errorf("run from inside the phoneboot module (go env GOMOD: %v)", err)
	}
	o.moduleRoot = filepath.Dir(strings.TrimSpace(string(root)))
	bin := filepath.Join(tmp, "phoneboot")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/phoneboot")
	build.Dir, build.Stdout, build.Stderr = o.moduleRoot, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building phoneboot: %w", err)
	}

	dataDir := filepath.Join(tmp, "data")
	fileRoot := filepath.Join(dataDir, "tftp")
	if err := os.MkdirAll(fileRoot, 0o755); err != nil {
		return err
	}
	contents := map[string][]byte{}
	rng := rand.New(rand.NewChaCha8([32]byte{'p', 'h', 'o', 'n', 'e', 'b', 'o', 'o', 't'}))
	for name, size := range fileSizes {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(fileRoot, name), b, 0o644); err != nil {
			return err
		}
		contents[name] = b
	}

	cgBase := cgroup2Base()
	removeStaleCgroups(cgBase)
	cpuMethod := "/proc/PID/stat utime+stime+cutime+cstime of the server's main process (no usable cgroup v2 here)"
	if cg, err := newCgroup(cgBase, fmt.Sprintf("phoneboot-bench-%d-check", os.Getpid())); err == nil {
		cg.remove()
		cpuMethod = "cgroup v2 cpu.stat usage_usec of a cgroup made for each server process (includes forked children); the /proc column is utime+stime+cutime+cstime of the main process"
	} else {
		cgBase = ""
	}

	all := append(servers(bin, dataDir), httpServer(bin, dataDir), watchedServer(bin, dataDir))
	srvs := slices.DeleteFunc(slices.Clone(all), func(s *server) bool { return !slices.Contains(o.only, s.name) })
	if len(srvs) == 0 {
		return errors.New("-servers selects no server")
	}
	printHeader(o, srvs, cpuMethod)

	for _, id := range o.cases {
		if id == "fleet" || id == "soak" {
			removeStaleFleetNets()
			defer removeStaleFleetNets()
			run := runFleet
			if id == "soak" {
				run = runSoak
			}
			if err := run(ctx, reg, o, bin, tmp, cgBase); err != nil {
				return fmt.Errorf("case %s: %w", id, err)
			}
			continue
		}
		i := slices.IndexFunc(allCases, func(b benchCase) bool { return b.id == id })
		c := allCases[i]
		switch {
		case o.clients > 0:
			c.clients = o.clients
			c.title += fmt.Sprintf(" — run with %d clients", c.clients)
		case o.quick:
			c.clients = max(c.clients/10, 5)
			c.title += fmt.Sprintf(" — quick: %d clients", c.clients)
		}
		srvs := srvs
		if c.servers != nil {
			srvs = slices.DeleteFunc(slices.Clone(all), func(s *server) bool { return !slices.Contains(c.servers, s.name) })
		}
		aggs := make([]*aggregate, len(srvs))
		for i := range aggs {
			aggs[i] = &aggregate{srv: srvs[i]}
		}
		content := contents[c.file]
		sum := sha256.Sum256(content)
		caseStart := time.Now()
		for round := range o.rounds {
			for si, s := range srvs {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if s.missing != "" {
					continue
				}
				fmt.Fprintf(os.Stderr, "bench: case %s round %d/%d: %s…\n", c.id, round+1, o.rounds, s.name)
				cfg := o.cfg
				cfg.seedOffset = int64(round) << 32
				m := measureRun(ctx, reg, s, c, fileRoot, tmp, cgBase, content, sum, cfg)
				aggs[si].add(m)
				m.progress(s.name)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		printCase(c, aggs, time.Since(caseStart))
	}
	return nil
}

// measureRun starts a fresh server, runs one storm against it and stops it.
func measureRun(ctx context.Context, reg *registry, s *server, c benchCase, root, tmp, cgBase string, content []byte, sum [32]byte, cfg stormConfig) runMeasure {
	var m runMeasure
	p, err := start(ctx, reg, s, root, tmp, cgBase, c.clients)
	if err != nil {
		m.startErr = err.Error()
		return m
	}
	defer reg.stop(p)
	m.cgroup = p.cg != nil
	if c.prime {
		primeMACs(ctx, s.addr, c.clients)
	}
	sampler := startRSSSampler(p.pids)
	cg0, proc0 := p.cpu()
	stopWatching := func() watchResult { return watchResult{} }
	if s.watchers > 0 {
		stopWatching = watch(ctx, s.adminAddr, s.watchers)
	}
	if s.httpAddr.IsValid() {
		m.res = stormHTTP(ctx, s.httpAddr, c, content, cfg)
	} else {
		m.res = storm(ctx, s.addr, c, content, sum, cfg)
	}
	cg1, proc1 := p.cpu()
	if s.watchers > 0 {
		// Transfers end together at the end of a storm, and their events
		// reach the pages within a few seconds: watch those too (after
		// the CPU is read, so the storm's numbers are the storm's).
		time.Sleep(4 * time.Second)
	}
	m.watch = stopWatching()
	m.cpuCG, m.cpuProc = cg1-cg0, proc1-proc0
	m.rss = max(sampler.finish(), procStatus(p.cmd.Process.Pid, "VmHWM"))
	if p.cg != nil {
		if peak, ok := p.cg.memPeak(); ok {
			m.rss = max(m.rss, peak)
		}
	}
	if !p.alive() {
		m.died = fmt.Sprintf("%s exited during the storm (%v); its output: %s", s.name, p.waitErr, p.logTail())
	}
	return m
}

// raiseFileLimit lifts RLIMIT_NOFILE for the bench (one socket per client)
// and for the servers, which inherit it (one socket per transfer). Setting
// it explicitly also stops Go from restoring the old soft limit in
// children.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	want := uint64(65536)
	if lim.Max < want {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
			return nil
		}
		// Not root: the hard limit is the most there is.
		want = lim.Max
	}
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: lim.Max})
}
