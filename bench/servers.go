package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"phoneboot/internal/tftp/tftptest"
)

// server is one TFTP server under test.
type server struct {
	name    string
	bin     string // "" when not installed
	missing string // why it cannot run
	addr    netip.AddrPort
	window  bool // supports RFC 7440 windowsize
	// httpAddr, when set, is phoneboot's phone HTTP service: the storm
	// fetches from there over HTTP (bench/http.go).
	httpAddr netip.AddrPort
	// adminAddr is phoneboot's admin server, watched by watchers live
	// dashboards during the storm (bench/watch.go).
	adminAddr netip.AddrPort
	watchers  int
	// netns, when set, is the network namespace the server runs in (the
	// fleet's, fleetnet.go): started through ip netns exec, which execs
	// it in place, and found ready by the phones' process, which is the
	// only one that can reach it.
	netns string
	// args builds the command line for a root directory and a number of
	// concurrent transfers to allow.
	args func(root string, transfers int) []string
}

// freePort finds a UDP port free on addr, below the kernel's ephemeral
// range: a port from that range can be taken at any moment by some other
// program's socket (or a transfer socket of another TFTP server), and a
// probe would then get its answer from a stranger.
func freePort(addr netip.Addr) (uint16, error) {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2000 {
				lo = n
			}
		}
	}
	base := 1024 + (os.Getpid()*7919)%(lo-1024)
	for i := range 200 {
		port := uint16(1024 + (base-1024+i*97)%(lo-1024))
		if portFree(netip.AddrPortFrom(addr, port)) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free UDP port below %d on %s", lo, addr)
}

func portFree(ap netip.AddrPort) bool {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// free69 returns the first of addrs whose port 69 is free: dnsmasq cannot
// use another port, and other programs on the machine may hold one.
func free69(addrs []netip.Addr) (netip.Addr, error) {
	for _, a := range addrs {
		if portFree(netip.AddrPortFrom(a, 69)) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("port 69 is busy on %v", addrs)
}

const tftpHPA = "/opt/tftpd-hpa/usr/sbin/in.tftpd"

// servers lists phoneboot and its peers in the order they take turns.
func servers(phoneboot string, dataDir string) []*server {
	lo := netip.MustParseAddr("127.0.0.1")
	var list []*server

	pb := &server{name: "phoneboot", bin: phoneboot, window: true}
	if p, err := freePort(lo); err == nil {
		pb.addr = netip.AddrPortFrom(lo, p)
	} else {
		pb.missing = "no free port: " + err.Error()
	}
	pb.args = func(_ string, transfers int) []string {
		return []string{"serve", "--data", dataDir, "--tftp-addr", pb.addr.String(),
			"--tftp-rate", "0", "--tftp-max-transfers", strconv.Itoa(max(transfers, 20000)), "--log-level", "error"}
	}
	list = append(list, pb)

	// The same phoneboot without recording transfers in its database:
	// case 6 measures what tracking costs.
	untracked := &server{name: "phoneboot-untracked", bin: phoneboot, window: true}
	if p, err := freePort(lo); err == nil {
		untracked.addr = netip.AddrPortFrom(lo, p)
	} else {
		untracked.missing = "no free port: " + err.Error()
	}
	untracked.args = func(root string, transfers int) []string {
		return []string{"serve", "--data", dataDir, "--tftp-addr", untracked.addr.String(),
			"--tftp-rate", "0", "--tftp-max-transfers", strconv.Itoa(max(transfers, 20000)), "--log-level", "error", "--record-events=false"}
	}
	list = append(list, untracked)

	dm := &server{name: "dnsmasq"}
	if p, err := exec.LookPath("dnsmasq"); err == nil {
		dm.bin = p
		cands := []netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("127.0.0.5"), netip.MustParseAddr("127.0.0.6")}
		if a, err := free69(cands); err == nil {
			dm.addr = netip.AddrPortFrom(a, 69)
		} else {
			dm.missing = err.Error()
		}
	} else {
		dm.missing = "not installed (apt-get install dnsmasq-base)"
	}
	dm.args = func(root string, transfers int) []string {
		// --quiet-tftp: phoneboot runs with --log-level error, so neither
		// pays for a log line per transfer. Not reading /etc/dnsmasq.conf
		// keeps a local configuration out of the measurement.
		return []string{"-d", "--port=0", "--enable-tftp", "--tftp-root=" + root,
			"--listen-address=" + dm.addr.Addr().String(), "--bind-interfaces",
			"--tftp-max=" + strconv.Itoa(max(transfers+10, 50)), "--user=root",
			"--conf-file=/dev/null", "--quiet-tftp", "--log-facility=-"}
	}
	list = append(list, dm)

	hpa := &server{name: "tftp-hpa"}
	if st, err := os.Stat(tftpHPA); err == nil && !st.IsDir() {
		hpa.bin = tftpHPA
		if p, err := freePort(lo); err == nil {
			hpa.addr = netip.AddrPortFrom(lo, p)
		} else {
			hpa.missing = "no free port: " + err.Error()
		}
	} else {
		hpa.missing = "not installed (apt-get download tftpd-hpa && dpkg -x tftpd-hpa_*.deb /opt/tftpd-hpa)"
	}
	hpa.args = func(root string, _ int) []string {
		return []string{"-L", "-s", root, "-a", hpa.addr.String(), "-u", "root"}
	}
	list = append(list, hpa)

	at := &server{name: "atftpd", window: true}
	if p, err := exec.LookPath("atftpd"); err == nil {
		at.bin = p
		if p, err := freePort(lo); err == nil {
			at.addr = netip.AddrPortFrom(lo, p)
		} else {
			at.missing = "no free port: " + err.Error()
		}
	} else {
		at.missing = "not installed (apt-get install atftpd)"
	}
	at.args = func(root string, transfers int) []string {
		return []string{"--daemon", "--no-fork", "--port", strconv.Itoa(int(at.addr.Port())),
			"--bind-address", at.addr.Addr().String(), "--user", "root", "--group", "root",
			"--logfile", "/dev/null", "--maxthread", strconv.Itoa(max(transfers+10, 100)), root}
	}
	list = append(list, at)
	return list
}

// running is a started server process.
type running struct {
	srv     *server
	cmd     *exec.Cmd
	cg      *cgroup // nil: measured from /proc only
	logPath string
	exited  chan struct{}
	waitErr error
}

// registry holds every process started, so that any exit path, Ctrl-C
// included, can stop them.
type registry struct {
	mu    sync.Mutex
	procs map[*running]struct{}
}

func (r *registry) add(p *running) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.procs == nil {
		r.procs = make(map[*running]struct{})
	}
	r.procs[p] = struct{}{}
}

func (r *registry) stopAll() {
	r.mu.Lock()
	ps := make([]*running, 0, len(r.procs))
	for p := range r.procs {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	for _, p := range ps {
		r.stop(p)
	}
}

func (r *registry) stop(p *running) {
	p.stop()
	r.mu.Lock()
	delete(r.procs, p)
	r.mu.Unlock()
}

var cgroupSeq int

// start runs srv on root in its own process group and, when possible, its
// own cgroup, and waits until it answers.
func start(ctx context.Context, reg *registry, srv *server, root, tmp, cgBase string, transfers int) (*running, error) {
	if srv.netns == "" && !portFree(srv.addr) {
		// Taken since the last run: by a leftover, or by someone else.
		if srv.addr.Port() == 69 {
			return nil, fmt.Errorf("%s is busy: another program listens there", srv.addr)
		}
		p, err := freePort(srv.addr.Addr())
		if err != nil {
			return nil, err
		}
		srv.addr = netip.AddrPortFrom(srv.addr.Addr(), p)
	}
	cgroupSeq++
	tag := fmt.Sprintf("%d-%d-%s", os.Getpid(), cgroupSeq, srv.name)
	p := &running{srv: srv, exited: make(chan struct{}), logPath: filepath.Join(tmp, "log-"+tag+".txt")}
	logf, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	if cg, err := newCgroup(cgBase, "phoneboot-bench-"+tag); err == nil {
		p.cg = cg
	}
	mk := func(intoCgroup bool) *exec.Cmd {
		cmd := exec.Command(srv.bin, srv.args(root, transfers)...)
		if srv.netns != "" {
			cmd = exec.Command("ip", append([]string{"netns", "exec", srv.netns, srv.bin}, srv.args(root, transfers)...)...)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		// Own process group: a terminal's Ctrl-C reaches only the bench,
		// which then stops the servers in order. Pdeathsig: a bench killed
		// outright does not leave them running.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if intoCgroup {
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = int(p.cg.fd.Fd())
		}
		return cmd
	}
	p.cmd = mk(p.cg != nil)
	err = p.cmd.Start()
	if err != nil && p.cg != nil {
		// No clone3 into a cgroup here: start normally and move it.
		p.cmd = mk(false)
		if err = p.cmd.Start(); err == nil {
			if werr := os.WriteFile(filepath.Join(p.cg.dir, "cgroup.procs"), []byte(strconv.Itoa(p.cmd.Process.Pid)), 0); werr != nil {
				p.cg.remove()
				p.cg = nil
			}
		}
	}
	if err != nil {
		if p.cg != nil {
			p.cg.remove()
		}
		return nil, err
	}
	reg.add(p)
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if srv.netns != "" {
		// Only a start that fails at once is seen from here.
		time.Sleep(300 * time.Millisecond)
		if !p.alive() {
			reg.stop(p)
			return nil, fmt.Errorf("%s exited at start (%v); its output: %s", srv.name, p.waitErr, p.logTail())
		}
		return p, nil
	}
	if err := p.ready(ctx); err != nil {
		reg.stop(p)
		return nil, fmt.Errorf("%s did not start: %w; its output: %s", srv.name, err, p.logTail())
	}
	return p, nil
}

// ready waits until the server answers a request for a missing file.
func (p *running) ready(ctx context.Context) error {
	probe := &tftptest.Client{Server: p.srv.addr, Local: netip.MustParseAddr("127.0.0.2"), Timeout: 200 * time.Millisecond, Retries: 1}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("exited (%v)", p.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		_, err := probe.Get(ctx, "phoneboot-bench-probe-missing", discard{})
		var te *tftptest.Error
		if err == nil || errors.As(err, &te) {
			// A server that failed to bind exits at once; make sure the
			// answer did not come from someone else on that port.
			select {
			case <-p.exited:
				return fmt.Errorf("exited (%v) although %s answered", p.waitErr, p.srv.addr)
			case <-time.After(100 * time.Millisecond):
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no answer within 10s")
}

func (p *running) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	if s == "" {
		return "(none)"
	}
	// One line: it ends up in a markdown list.
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ⏎ ")), " ")
}

func (p *running) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// pids lists the server's processes: the cgroup's, or just the main one.
func (p *running) pids() []int {
	if p.cg != nil {
		return p.cg.pids()
	}
	return []int{p.cmd.Process.Pid}
}

// cpu returns the server's CPU time by cgroup (all its processes) and by
// /proc (the main process and the children it reaped).
func (p *running) cpu() (cg, proc time.Duration) {
	if p.cg != nil {
		cg, _ = p.cg.cpu()
	}
	proc, _ = procCPU(p.cmd.Process.Pid)
	return cg, proc
}

// stop kills the process group and the cgroup, bounded in time.
func (p *running) stop() {
	pid := p.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGKILL)
	if p.cg != nil {
		p.cg.kill()
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "bench: %s (pid %d) did not exit after SIGKILL\n", p.srv.name, pid)
	}
	if p.cg != nil {
		if err := p.cg.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: cannot remove cgroup %s: %v\n", p.cg.dir, err)
		}
	}
}
