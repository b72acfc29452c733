package main

// The "fleet" case: a building's phones boot at once after a power cut.
// 1,000 simulated phones (internal/sim) of mixed models lease an address
// by DHCP and ask over TFTP for what a booting phone asks for (CTL,
// SEP<MAC> configs, SIP/SCCP defaults, dial plan, loads); a third of them
// upgrade to a synthetic 3 MB load. The same fleet boots against
// phoneboot on SQLite, phoneboot on PostgreSQL (a throwaway cluster, as
// internal/store/pgtest starts one) and dnsmasq serving the files
// phoneboot generated, copied into a flat TFTP root first. Each server
// runs in a network namespace of its own, the phones in another
// (fleetnet.go, fleetphones.go). Then DHCP alone: perfdhcp against
// phoneboot and dnsmasq (fleetperf.go). The soak is fleetsoak.go.

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"phoneboot/internal/firmware/fwtest"
	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
	"phoneboot/internal/tftp/tftptest"
)

// fleetKind is a group of phones in the building.
type fleetKind struct {
	count  int
	model  string
	load   string // what it runs at the power cut
	target string // what it must run when done
	entry  string // extra keys of its [[phone]] entry
}

// The fleet: 1,000 phones, 333 of them upgrading (3.2 MB each).
var fleetKinds = []fleetKind{
	{count: 250, model: "7960", load: "P0S3-8-12-00", target: "P0S3-8-12-00"},
	{count: 150, model: "7940", load: "P00308010200", target: "P00308010200", entry: "protocol = \"SCCP\"\nload = \"P00308010200\"\n"},
	{count: 150, model: "7961", load: "SIP41.9-4-2SR3-1S", target: "SIP41.9-4-2SR3-1S"},
	{count: 117, model: "7970", load: "SIP70.9-4-2SR3-1S", target: "SIP70.9-4-2SR3-1S"},
	{count: 333, model: "7961", load: "SIP41.8-5-2S", target: "SIP41.9-4-2SR3-1S"},
}

const fleetSite = `[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
call_managers = ["127.0.0.1"]
tftp_via_dhcp = true

[site.loads]
7960 = "P0S3-8-12-00"
7961 = "SIP41.9-4-2SR3-1S"
`

// fleetAddr is phone i's source address: 127.1.X.Y, apart from the
// other cases' clients and the servers' 127.0.0.x.
func fleetAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(1 + i%250)})
}

// fleetPhone is one simulated phone and what it must end on.
type fleetPhone struct {
	sim    sim.Phone
	target string
}

// fleetSetup writes the template data directory (catalog and inventory)
// and returns the fleet.
func fleetSetup(ctx context.Context, bin, tmp string) (dataTmpl string, phones []fleetPhone, err error) {
	dataTmpl = filepath.Join(tmp, "fleet-data")
	pkgs := filepath.Join(tmp, "fleet-pkgs")
	loads := map[string]map[string][]byte{
		// 7940/7960 loads: loader and application, 1.2 MB each.
		"P0S3-8-12-00": fwtest.LoadFiles("P0S3-8-12-00", 1200<<10, fwtest.Classic("P0S3-8-12-00")...),
		"P00308010200": fwtest.LoadFiles("P00308010200", 1200<<10, fwtest.Classic("P00308010200")...),
	}
	comps := fwtest.Java("SIP41.9-4-2SR3-1S", "9-4-2ES26")
	java := fwtest.LoadFiles("SIP41.9-4-2SR3-1S", 640<<10, comps...) // 5 × 640 KiB
	java["term41.default.loads"] = fwtest.TermFile("41", "SIP41.9-4-2SR3-1S", comps...)
	java["term61.default.loads"] = fwtest.TermFile("61", "SIP41.9-4-2SR3-1S", comps...)
	loads["SIP41.9-4-2SR3-1S"] = java
	var dirs []string
	for id, files := range loads {
		dir := filepath.Join(pkgs, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return "", nil, err
			}
		}
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	imp := exec.CommandContext(ctx, bin, append([]string{"firmware", "import", "--data", dataTmpl}, dirs...)...)
	if out, err := imp.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("firmware import: %v: %s", err, out)
	}

	var inv strings.Builder
	inv.WriteString(fleetSite)
	n := 0
	for k, kind := range fleetKinds {
		m, ok := phone.ModelByName(kind.model)
		if !ok {
			return "", nil, fmt.Errorf("unknown model %s", kind.model)
		}
		for range kind.count {
			n++
			mac, err := phone.ParseMAC(fmt.Sprintf("00:13:7F:F%d:%02X:%02X", k, n/256, n%256))
			if err != nil {
				return "", nil, err
			}
			// running_load: the inventory knows what the building's phones
			// run, so phoneboot can name the target to a phone it has not
			// seen before (a Java phone's requests do not say its load).
			fmt.Fprintf(&inv, "\n[[phone]]\nmac = %q\nmodel = %q\nrunning_load = %q\n%s", mac.String(), kind.model, kind.load, kind.entry)
			fmt.Fprintf(&inv, "  [[phone.line]]\n  extension = \"%d\"\n  password = \"pw%d\"\n", 1000+n, n)
			phones = append(phones, fleetPhone{sim: sim.Phone{MAC: mac, Model: m, Load: kind.load}, target: kind.target})
		}
	}
	if err := os.WriteFile(filepath.Join(dataTmpl, "phoneboot.toml"), []byte(inv.String()), 0o644); err != nil {
		return "", nil, err
	}
	return dataTmpl, phones, nil
}

// fleetResult is one server's storm.
type fleetResult struct {
	wall     time.Duration // until every phone is done
	phoneCPU time.Duration // of the bench process: the simulated phones
	durs     []time.Duration
	failed   int
	firstErr string
	reports  []sim.Report
}

// fleetStorm boots every phone at once against addr.
func fleetStorm(ctx context.Context, addr netip.AddrPort, phones []fleetPhone) fleetResult {
	res := fleetResult{reports: make([]sim.Report, len(phones))}
	durs := make([]time.Duration, len(phones))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range phones {
		wg.Go(func() {
			<-gate
			t0 := time.Now()
			// Retry: the pause of a phone re-asking in a loop; a real
			// one waits seconds, which would only measure the phone.
			res.reports[i] = p.sim.Boot(ctx, sim.Options{Server: addr, Local: fleetAddr(i),
				Retry: 20 * time.Millisecond, MaxRequests: 120, MaxReboots: 6, Timeout: 3 * time.Minute})
			durs[i] = time.Since(t0)
		})
	}
	cpu0, t0 := cpuTime(), time.Now()
	close(gate)
	wg.Wait()
	res.wall, res.phoneCPU = time.Since(t0), cpuTime()-cpu0
	for i, r := range res.reports {
		if r.State != "up" || r.Load != phones[i].target {
			res.failed++
			if res.firstErr == "" {
				var asked []string
				for _, q := range r.Requests {
					asked = append(asked, q.Name+" ("+q.Result+")")
				}
				res.firstErr = fmt.Sprintf("%s %s: %s on %s (wanted %s), %d reboots, refused %q; asked for %s", r.Model, r.MAC, r.State, r.Load,
					phones[i].target, r.Reboots, r.Refused, strings.Join(asked, ", "))
			}
			continue
		}
		res.durs = append(res.durs, durs[i])
	}
	slices.Sort(res.durs)
	return res
}

// flatRoot writes what the phones received from phoneboot into root, by
// the names they asked for: configs from the reports, firmware fetched
// once more from addr (still running) by the phone that asked for it.
func flatRoot(ctx context.Context, addr netip.AddrPort, res fleetResult, root string) (int, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return 0, err
	}
	written := map[string]bool{}
	for i, r := range res.reports {
		for _, q := range r.Requests {
			name := strings.TrimLeft(strings.TrimPrefix(q.Name, "./"), "/")
			if q.Result != "ok" || written[name] || strings.Contains(name, "..") || strings.Contains(name, "/") {
				continue
			}
			path := filepath.Join(root, name)
			if b, ok := r.Configs[q.Name]; ok {
				if err := os.WriteFile(path, b, 0o644); err != nil {
					return 0, err
				}
			} else {
				f, err := os.Create(path)
				if err != nil {
					return 0, err
				}
				c := tftptest.Client{Server: addr, Local: fleetAddr(i), Timeout: time.Second, Retries: 5}
				_, err = c.Get(ctx, q.Name, f)
				f.Close()
				if err != nil {
					return 0, fmt.Errorf("fetching %s for the flat root: %w", q.Name, err)
				}
			}
			written[name] = true
		}
	}
	return len(written), nil
}

// fleetAgg is one server's runs.
type fleetAgg struct {
	name, missing string
	runs          int
	phones        int
	wall          time.Duration // worst run
	durs          []time.Duration
	failed        int
	firstErr      string
	dhcpDurs      []time.Duration // until the ACK, of the phones that came up
	cpu           time.Duration
	phoneCPU      time.Duration
	rss           int64
	notes         []string
}

func (a *fleetAgg) pct(p float64) time.Duration { return pctOf(a.durs, p) }

// pctOf is the p-th quantile of sorted durations, 0 of none.
func pctOf(durs []time.Duration, p float64) time.Duration {
	if len(durs) == 0 {
		return 0
	}
	return durs[min(int(float64(len(durs))*p), len(durs)-1)]
}

func (a *fleetAgg) cpuPerBoot() time.Duration {
	if a.phones == 0 {
		return 0
	}
	return a.cpu / time.Duration(a.phones)
}

// pgCluster is a throwaway PostgreSQL cluster, as internal/store/pgtest
// starts one: in a temporary directory, on a Unix socket only, as the
// user postgres when the bench runs as root.
type pgCluster struct {
	dir   string
	pgctl []string
	url   string // of the "postgres" database
}

func startPostgres(tmp string) (*pgCluster, error) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
		if len(found) == 0 {
			return nil, fmt.Errorf("PostgreSQL is not installed (apt-get install postgresql)")
		}
		initdb = found[len(found)-1]
	}
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	bindir := filepath.Dir(initdb)
	dir := filepath.Join(tmp, "pg")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	var prefix []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no user postgres to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		// The server must reach its directory through tmp.
		os.Chmod(tmp, 0o755)
		prefix = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args = append(slices.Clone(prefix), args...)
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", filepath.Base(args[len(prefix)]), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run(filepath.Join(bindir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	c := &pgCluster{dir: dir, pgctl: append(slices.Clone(prefix), filepath.Join(bindir, "pg_ctl"), "-D", data)}
	// fsync stays on: the node is measured as it would run.
	opts := "-k " + dir + " -c listen_addresses= -c max_connections=200"
	if err := run(append(c.pgctl[len(prefix):], "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start")...); err != nil {
		return nil, err
	}
	c.url = (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres",
		RawQuery: url.Values{"host": {dir}}.Encode()}).String()
	return c, nil
}

// newDB creates an empty database and returns its URL.
func (c *pgCluster) newDB(name string) (string, error) {
	db, err := sql.Open("pgx", c.url)
	if err != nil {
		return "", err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	u, _ := url.Parse(c.url)
	u.Path = "/" + name
	return u.String(), nil
}

// pids are the cluster's processes: postmaster and backends.
func (c *pgCluster) pids() []int {
	b, err := os.ReadFile(filepath.Join(c.dir, "data", "postmaster.pid"))
	if err != nil {
		return nil
	}
	main, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return nil
	}
	pids := []int{main}
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", main, main))
	for f := range strings.FieldsSeq(string(kids)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// cpu is the CPU the cluster's processes used so far (the postmaster's
// reaped children included).
func (c *pgCluster) cpu() time.Duration {
	var sum time.Duration
	for _, p := range c.pids() {
		d, _ := procCPU(p)
		sum += d
	}
	return sum
}

func (c *pgCluster) stop() {
	args := append(slices.Clone(c.pgctl), "-m", "immediate", "-w", "-t", "30", "stop")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec.CommandContext(ctx, args[0], args[1:]...).Run()
}

// runFleet runs the fleet case: setup, one untimed phoneboot run that
// writes dnsmasq's flat root, then the servers taking turns.
func runFleet(ctx context.Context, reg *registry, o *options, bin, tmp, cgBase string) error {
	caseStart := time.Now()
	fmt.Fprintln(os.Stderr, "bench: fleet: writing the catalog and the inventory…")
	tmpl, phones, err := fleetSetup(ctx, bin, tmp)
	if err != nil {
		return err
	}
	if n := o.clients; n > 0 || o.quick {
		if o.quick {
			n = 100
		}
		// Every kind keeps its share: take every len/n-th phone.
		var some []fleetPhone
		for i := 0; i < len(phones) && len(some) < n; i += max(len(phones)/n, 1) {
			some = append(some, phones[i])
		}
		phones = some
	}
	fleetBin, fleetTmpl, fleetTmp = bin, tmpl, tmp
	lo := netip.MustParseAddr("127.0.0.1")
	// The generating run is on loopback, without DHCP: each phone from
	// its own 127.1.X.Y, as fleetStorm boots them.
	phoneboot := func(name string) (*server, error) {
		data, err := freshData()
		if err != nil {
			return nil, err
		}
		s := &server{name: name, bin: bin, window: true}
		p, err := freePort(lo)
		if err != nil {
			return nil, err
		}
		s.addr = netip.AddrPortFrom(lo, p)
		s.args = func(_ string, transfers int) []string {
			return []string{"serve", "--data", data, "--tftp-addr", s.addr.String(), "--http-addr=", "--admin-addr=",
				"--syslog-addr=", "--tftp-rate", "0", "--tftp-max-transfers", strconv.Itoa(max(transfers, 20000)), "--log-level", "error"}
		}
		return s, nil
	}

	// The flat root: what phoneboot served, for dnsmasq.
	flat := filepath.Join(tmp, "fleet-flat")
	fmt.Fprintln(os.Stderr, "bench: fleet: generating dnsmasq's files with an untimed phoneboot run…")
	gen, err := phoneboot("phoneboot-gen")
	if err != nil {
		return err
	}
	p, err := start(ctx, reg, gen, "", tmp, "", len(phones))
	if err != nil {
		return err
	}
	genRes := fleetStorm(ctx, gen.addr, phones)
	files, err := flatRoot(ctx, gen.addr, genRes, flat)
	reg.stop(p)
	if err != nil {
		return err
	}
	if genRes.failed > 0 {
		return fmt.Errorf("the generating phoneboot run failed %d phones, first: %s", genRes.failed, genRes.firstErr)
	}

	// dnsmasq twice: as a phone network would run it for a storm
	// (--no-ping), and as it runs by default, pinging every address
	// before it offers it, each ping waiting for an ARP answer that
	// never comes.
	aggs := []*fleetAgg{{name: "phoneboot (SQLite)"}, {name: "phoneboot (PostgreSQL)"}, {name: "dnsmasq --no-ping"}, {name: "dnsmasq (default: pings)"}}
	pg, err := startPostgres(tmp)
	if err != nil {
		aggs[1].missing = "no PostgreSQL cluster: " + err.Error()
	} else {
		defer pg.stop()
	}
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		aggs[2].missing = "not installed (apt-get install dnsmasq-base)"
		aggs[3].missing = aggs[2].missing
		dnsmasq = ""
	}

	for round := range o.rounds {
		for i, a := range aggs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if a.missing != "" {
				continue
			}
			fmt.Fprintf(os.Stderr, "bench: case fleet round %d/%d: %s…\n", round+1, o.rounds, a.name)
			var mk func(n *fleetNet) (*server, error)
			switch i {
			case 0:
				mk = func(n *fleetNet) (*server, error) { return nsPhoneboot("phoneboot", "", n) }
			case 1:
				mk = func(n *fleetNet) (*server, error) {
					u, err := pg.newDB(fmt.Sprintf("fleet_%d_%d", os.Getpid(), round))
					if err != nil {
						return nil, err
					}
					return nsPhoneboot("phoneboot-pg", u, n)
				}
			case 2, 3:
				mk = func(n *fleetNet) (*server, error) { return nsDnsmasq(dnsmasq, tmp, n, i == 3), nil }
			}
			if err := fleetRun(ctx, reg, mk, flat, tmp, cgBase, phones, a, pg, i == 1); err != nil {
				a.notes = append(a.notes, err.Error())
			}
		}
	}
	printFleet(aggs, len(phones), files, time.Since(caseStart))
	if len(o.perf) > 0 {
		return runPerfdhcp(ctx, reg, o, bin, tmp, cgBase, dnsmasq)
	}
	return nil
}

// nsPhoneboot is phoneboot as the fleet's DHCP and TFTP server, in n's
// server namespace, on a fresh copy of the template data directory.
func nsPhoneboot(name, dbURL string, n *fleetNet) (*server, error) {
	data, err := freshData()
	if err != nil {
		return nil, err
	}
	s := &server{name: name, bin: fleetBin, window: true, netns: n.srvNS, addr: netip.AddrPortFrom(n.self, 69)}
	s.args = func(_ string, transfers int) []string {
		a := []string{"serve", "--data", data, "--tftp-addr", s.addr.String(), "--dhcp-iface", n.srv,
			"--dhcp-range", n.lo.String() + "-" + n.hi.String(), "--http-addr=", "--admin-addr=",
			"--syslog-addr=", "--tftp-rate", "0", "--tftp-max-transfers", strconv.Itoa(max(transfers, 20000)), "--log-level", "error"}
		if dbURL != "" {
			a = append(a, "--db", dbURL)
		}
		return a
	}
	return s, nil
}

// nsDnsmasq is dnsmasq as the fleet's DHCP and TFTP server in n's server
// namespace: the same pool, option 150 naming itself, the TFTP root of
// the files phoneboot served. With ping it checks an address is free
// before it offers it, as it does by default.
func nsDnsmasq(bin, tmp string, n *fleetNet, ping bool) *server {
	fleetRunNo++
	dir := filepath.Join(tmp, fmt.Sprintf("dnsmasq-%d", fleetRunNo))
	os.MkdirAll(dir, 0o755)
	s := &server{name: "dnsmasq", bin: bin, netns: n.srvNS, addr: netip.AddrPortFrom(n.self, 69)}
	s.args = func(root string, transfers int) []string {
		a := []string{"-d", "--port=0", "--interface=" + n.srv, "--bind-interfaces",
			"--enable-tftp", "--tftp-root=" + root, "--tftp-max=" + strconv.Itoa(max(transfers+10, 50)),
			fmt.Sprintf("--dhcp-range=%v,%v,%s,24h", n.lo, n.hi, n.mask()), "--dhcp-option=150," + n.self.String(),
			"--dhcp-authoritative", "--dhcp-lease-max=70000", "--dhcp-leasefile=" + filepath.Join(dir, "leases"),
			"--pid-file=" + filepath.Join(dir, "pid"), "--user=root", "--conf-file=/dev/null",
			"--quiet-tftp", "--quiet-dhcp", "--log-facility=-"}
		if !ping {
			a = append(a, "--no-ping")
		}
		return a
	}
	return s
}

// The fleet's binary and template data directory, set by runFleet.
var (
	fleetBin, fleetTmpl, fleetTmp string
	fleetRunNo                    int
)

// freshData copies the template data directory for one server run.
func freshData() (string, error) {
	fleetRunNo++
	dir := filepath.Join(fleetTmp, fmt.Sprintf("fleet-data-%d", fleetRunNo))
	if out, err := exec.Command("cp", "-a", fleetTmpl, dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copying the data directory: %v: %s", err, out)
	}
	return dir, nil
}

// stormSpec is the phones' process's settings for the storm: the pause
// of a phone re-asking in a loop is short (a real one waits seconds,
// which would only measure the phone).
func stormSpec(phones []fleetPhone) workerSpec {
	spec := workerSpec{Retry: 20 * time.Millisecond, MaxRequests: 120, MaxReboots: 6, BootTimeout: 3 * time.Minute,
		TFTPTimeout: time.Second, DHCPTimeout: time.Second}
	for _, p := range phones {
		spec.Phones = append(spec.Phones, workerPhone{MAC: p.sim.MAC, Model: p.sim.Model.Name, Load: p.sim.Load, Target: p.target})
	}
	return spec
}

// fleetRun makes a fresh pair of namespaces, starts the server mk makes
// in it, boots the fleet against it (DHCP, then TFTP) from the phones'
// process, stops it and adds what it measured to a. With withPG, the
// PostgreSQL cluster's CPU and memory count as the node's.
func fleetRun(ctx context.Context, reg *registry, mk func(*fleetNet) (*server, error), root, tmp, cgBase string, phones []fleetPhone, a *fleetAgg, pg *pgCluster, withPG bool) error {
	n, err := newFleetNet()
	if err != nil {
		return err
	}
	defer n.close()
	s, err := mk(n)
	if err != nil {
		return err
	}
	p, err := start(ctx, reg, s, root, tmp, cgBase, len(phones))
	if err != nil {
		return err
	}
	defer reg.stop(p)
	ph, err := startPhones(ctx, n, stormSpec(phones), tmp)
	if err != nil {
		return fmt.Errorf("%w; %s's output: %s", err, s.name, p.logTail())
	}
	pids := p.pids
	if withPG {
		pids = func() []int { return append(p.pids(), pg.pids()...) }
	}
	sampler := startRSSSampler(pids)
	cg0, proc0 := p.cpu()
	var pg0 time.Duration
	if withPG {
		pg0 = pg.cpu()
	}
	res, err := ph.run()
	cg1, proc1 := p.cpu()
	cpu := proc1 - proc0
	if p.cg != nil {
		cpu = cg1 - cg0
	}
	if withPG {
		cpu += pg.cpu() - pg0
	}
	rss := sampler.finish()
	if err != nil {
		return err
	}
	if !withPG {
		rss = max(rss, procStatus(p.cmd.Process.Pid, "VmHWM"))
		if p.cg != nil {
			if peak, ok := p.cg.memPeak(); ok {
				rss = max(rss, peak)
			}
		}
	}
	if !p.alive() {
		return fmt.Errorf("%s exited during the storm (%v); its output: %s", s.name, p.waitErr, p.logTail())
	}
	failed := len(phones) - len(res.Boots)
	for _, b := range res.Boots {
		if !b.OK {
			failed++
			if a.firstErr == "" {
				a.firstErr = b.Why
			}
			continue
		}
		a.durs = append(a.durs, b.End-b.Start)
		a.dhcpDurs = append(a.dhcpDurs, b.DHCP)
	}
	slices.Sort(a.durs)
	slices.Sort(a.dhcpDurs)
	a.runs++
	a.phones += len(phones)
	a.wall = max(a.wall, res.Wall)
	a.failed += failed
	a.cpu += cpu
	a.phoneCPU += res.CPU
	a.rss = max(a.rss, rss)
	fmt.Fprintf(os.Stderr, "bench:   %s: %d phones in %v, %d failed, CPU %v\n", s.name, len(phones), res.Wall.Round(time.Millisecond), failed, cpu.Round(time.Millisecond))
	return nil
}

func printFleet(aggs []*fleetAgg, phones, files int, took time.Duration) {
	fmt.Printf("## Case fleet: %d phones boot at once (7940/7960/7961/7970, a third upgrading to a 3.2 MB load)\n\n", phones)
	fmt.Println("| server | runs | done in (worst run) | p50 boot | p99 boot | p50 / p99 DHCP | failed boots | server CPU s | CPU ms / boot | peak RSS MiB | phones' CPU s |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, a := range aggs {
		if a.missing != "" || a.runs == 0 {
			why := a.missing
			if why == "" {
				why = strings.Join(a.notes, "; ")
			}
			fmt.Printf("| %s | 0 | missing: %s | | | | | | | | |\n", a.name, why)
			continue
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %s / %s | %d | %.2f | %.2f | %.1f | %.2f |\n", a.name, a.runs, fmtDur(a.wall), fmtDur(a.pct(0.5)),
			fmtDur(a.pct(0.99)), fmtDur(pctOf(a.dhcpDurs, 0.5)), fmtDur(pctOf(a.dhcpDurs, 0.99)), a.failed, a.cpu.Seconds(), float64(a.cpuPerBoot().Microseconds())/1000, float64(a.rss)/(1<<20), a.phoneCPU.Seconds())
	}
	fmt.Println()
	fmt.Printf("- dnsmasq serves the %d files the phones received from an untimed phoneboot run, flat in one TFTP root.\n", files)
	fmt.Println("- A boot is one phone from power-on to up (every upgrade reboot included); it fails unless the phone comes up on its target load.")
	fmt.Println("- PostgreSQL node: CPU and peak memory include the PostgreSQL cluster's processes (postmaster and backends, from /proc).")
	fmt.Println("- phones' CPU is the bench process's own (the simulated phones), on the same CPUs as the server.")
	fmt.Println("- Network: the server runs in a network namespace of its own, the phones in another, joined by a veth pair on " + fleetNetPrefix.String() + " (server .0.1); nothing else carries the storm.")
	fmt.Println("- A boot starts with DHCP: DISCOVER/OFFER/REQUEST/ACK from one socket on port 68 shared by all phones, each phone its own chaddr (its MAC), client-id, hostname SEP<MAC> and vendor class; the phone then adds the leased address to its interface and fetches every file from it, from the server option 150 named.")
	fmt.Println("- The generating run that writes dnsmasq's root is on loopback without DHCP (each phone from its own 127.1.X.Y); it is not timed.")
	for _, a := range aggs {
		if a.firstErr != "" {
			fmt.Printf("- %s: first failure: %s\n", a.name, a.firstErr)
		}
		for _, n := range a.notes {
			fmt.Printf("- %s: %s\n", a.name, n)
		}
	}
	sq, pgA, dm, dmPing := aggs[0], aggs[1], aggs[2], aggs[3]
	fmt.Println()
	if sq.runs > 0 && dm.runs > 0 {
		r := sq.wall.Seconds() / dm.wall.Seconds()
		fmt.Printf("- target: phoneboot (SQLite) done in at most half of dnsmasq's time (--no-ping, the faster) with 0 failures: %.2f× its time, %d failures — %s\n",
			r, sq.failed, verdict(r <= 0.5 && sq.failed == 0))
	}
	if pgA.runs > 0 && dm.runs > 0 {
		r := pgA.wall.Seconds() / dm.wall.Seconds()
		fmt.Printf("- phoneboot (PostgreSQL) done in %.2f× dnsmasq --no-ping's time, %d failures — %s\n", r, pgA.failed, verdict(r <= 0.5 && pgA.failed == 0))
	}
	if sq.runs > 0 && dmPing.runs > 0 {
		r := sq.wall.Seconds() / dmPing.wall.Seconds()
		fmt.Printf("- against dnsmasq as it runs by default (pings): phoneboot (SQLite) done in %.2f× its time; dnsmasq failed %d boots\n", r, dmPing.failed)
	}
	if sq.runs > 0 && pgA.runs > 0 && sq.cpuPerBoot() > 0 {
		r := float64(pgA.cpuPerBoot()) / float64(sq.cpuPerBoot())
		fmt.Printf("- target: PostgreSQL node within 1.2× the SQLite node's CPU per boot: %.2f× — %s\n", r, verdict(r <= 1.2))
	}
	fmt.Printf("\nCase took %s.\n\n", took.Round(time.Second))
}
