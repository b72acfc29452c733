package main

// The phones' process: the bench runs itself again inside the phones'
// namespace (ip netns exec NS BENCH -fleet-phones SPEC), where every
// socket it opens is on the phones' side of the pair. Each simulated
// phone leases an address by DHCP (sim.DHCP, one socket on port 68 for
// all, each phone its own chaddr), adds it to the interface, and boots
// over TFTP from it, from the server option 150 named. The process says
// "ready" on stdout once the server answers DHCP and TFTP, starts when
// it reads a line on stdin, and writes what happened as JSON on stdout.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/sim"
	"phoneboot/internal/tftp/tftptest"
	"phoneboot/internal/udpnet"
)

const fleetWorkerFlag = "-fleet-phones"

// workerSpec is what the bench asks of the phones' process.
type workerSpec struct {
	Iface  string
	Probe  netip.Addr // the phones' side's own address, for the ready probe
	Phones []workerPhone
	// Soak, when set, reboots every phone again as soon as it is up,
	// until Soak has passed or MaxBoots boots started.
	Soak     time.Duration
	MaxBoots int
	Loss     float64 // each way, DHCP and TFTP DATA/ACK
	// Phone timings (sim.Options, sim.DHCPOptions).
	Retry, TFTPTimeout, DHCPTimeout, BootTimeout time.Duration
	MaxRequests, MaxReboots                      int
}

type workerPhone struct {
	MAC                 phone.MAC
	Model, Load, Target string
}

// workerBoot is one boot of one phone.
type workerBoot struct {
	Phone      int
	Start, End time.Duration // since the start signal
	DHCP       time.Duration // until the ACK
	OK         bool
	Why        string // of a failed boot
	Addr, TFTP string // leased address, option 150's server
}

type workerResult struct {
	Wall     time.Duration // start signal until the last boot ended
	CPU      time.Duration // this process's, for the phones
	Boots    []workerBoot
	DHCPLost int64 // messages the phones' loss threw away
	Err      string
}

// fleetWorker is main for the phones' process.
func fleetWorker(specPath string) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec workerSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("reading %s: %w", specPath, err)
	}
	if err := raiseFileLimit(); err != nil {
		return err
	}
	conn, err := udpnet.ListenDevice(spec.Iface, 68, 8<<20)
	if err != nil {
		return fmt.Errorf("DHCP client socket on %s: %w", spec.Iface, err)
	}
	defer conn.Close()
	adder, err := newAddrAdder(spec.Iface)
	if err != nil {
		return err
	}
	defer adder.close()
	dhcp := sim.NewDHCP(conn, sim.DHCPOptions{Timeout: spec.DHCPTimeout, Retries: 6, Loss: spec.Loss, Seed: uint64(os.Getpid())})
	defer dhcp.Close()

	if err := workerReady(dhcp, spec.Probe); err != nil {
		return err
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return errors.New("no start signal")
	}
	res := workerRun(dhcp, adder, &spec)
	res.DHCPLost = dhcp.Lost.Load()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// workerReady leases from a locally administered MAC until the server
// answers (phoneboot listens 1.5 s for another DHCP server before it
// serves), then asks option 150's server for a missing file until it
// answers: at most 60 s in all.
func workerReady(dhcp *sim.DHCP, probe netip.Addr) error {
	m, _ := phone.ModelByName("7960")
	p := sim.Phone{MAC: phone.MAC{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}, Model: m}
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		l, err := dhcp.Lease(ctx, p)
		cancel()
		if err != nil {
			last = err
			continue
		}
		srv, err := l.TFTPServer()
		if err != nil {
			return err
		}
		c := tftptest.Client{Server: srv, Local: probe, Timeout: 300 * time.Millisecond, Retries: 1}
		for time.Now().Before(deadline) {
			_, err := c.Get(context.Background(), "phoneboot-bench-probe-missing", discard{})
			var te *tftptest.Error
			if err == nil || errors.As(err, &te) {
				return nil
			}
			last = err
			time.Sleep(100 * time.Millisecond)
		}
	}
	return fmt.Errorf("the server did not answer DHCP and TFTP within 60 s: %v", last)
}

// workerRun boots every phone at once, and with a soak again and again.
func workerRun(dhcp *sim.DHCP, adder *addrAdder, spec *workerSpec) workerResult {
	var (
		res     workerResult
		mu      sync.Mutex
		started int
		wg      sync.WaitGroup
	)
	// A boot never outlasts the soak by more than its own timeout.
	limit := spec.BootTimeout + max(spec.Soak, 0) + time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cpu0, t0 := cpuTime(), time.Now()
	for i, wp := range spec.Phones {
		m, ok := phone.ModelByName(wp.Model)
		if !ok {
			return workerResult{Err: "unknown model " + wp.Model}
		}
		p := sim.Phone{MAC: wp.MAC, Model: m, Load: wp.Load}
		wg.Go(func() {
			for n := 0; ; n++ {
				mu.Lock()
				more := n == 0 || (time.Since(t0) < spec.Soak && started < spec.MaxBoots)
				if more {
					started++
				}
				mu.Unlock()
				if !more || ctx.Err() != nil {
					return
				}
				b := workerBootOnce(ctx, dhcp, adder, spec, p, wp.Target, int64(i)<<20+int64(n), t0)
				b.Phone = i
				mu.Lock()
				res.Boots = append(res.Boots, b)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Wall, res.CPU = time.Since(t0), cpuTime()-cpu0
	slices.SortFunc(res.Boots, func(a, b workerBoot) int { return int(a.End - b.End) })
	return res
}

func workerBootOnce(ctx context.Context, dhcp *sim.DHCP, adder *addrAdder, spec *workerSpec, p sim.Phone, target string, seed int64, t0 time.Time) workerBoot {
	b := workerBoot{Start: time.Since(t0)}
	fail := func(format string, a ...any) workerBoot {
		b.End = time.Since(t0)
		b.Why = fmt.Sprintf("%s %s: ", p.Model.Name, p.MAC) + fmt.Sprintf(format, a...)
		return b
	}
	bctx, cancel := context.WithTimeout(ctx, spec.BootTimeout)
	defer cancel()
	l, err := dhcp.Lease(bctx, p)
	if err != nil {
		return fail("DHCP: %v", err)
	}
	b.DHCP = time.Since(t0) - b.Start
	b.Addr = l.Addr.String()
	srv, err := l.TFTPServer()
	if err != nil {
		return fail("%v", err)
	}
	b.TFTP = srv.Addr().String()
	if err := adder.add(l.Addr); err != nil {
		return fail("%v", err)
	}
	r := p.Boot(bctx, sim.Options{Server: srv, Local: l.Addr, Retry: spec.Retry, MaxRequests: spec.MaxRequests,
		MaxReboots: spec.MaxReboots, Timeout: spec.BootTimeout, TFTPTimeout: spec.TFTPTimeout, Loss: spec.Loss, Seed: seed})
	if r.State != "up" || r.Load != target {
		var asked []string
		for _, q := range r.Requests {
			asked = append(asked, q.Name+" ("+q.Result+")")
		}
		return fail("%s on %s (wanted %s), %d reboots, refused %q; asked for %s", r.State, r.Load, target, r.Reboots,
			r.Refused, strings.Join(asked, ", "))
	}
	b.End, b.OK = time.Since(t0), true
	return b
}

// phonesProc is the phones' process, seen from the bench.
type phonesProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *strings.Builder
}

// startPhones starts the phones' process in n's phones' namespace and
// waits (bounded) until it says the server answers.
func startPhones(ctx context.Context, n *fleetNet, spec workerSpec, tmp string) (*phonesProc, error) {
	spec.Iface, spec.Probe = n.cli, n.probe
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	path := fmt.Sprintf("%s/phones-%s.json", tmp, n.cliNS)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.cliNS, exe, fleetWorkerFlag, path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &phonesProc{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := p.out.ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) == "ready" {
			return p, nil
		}
	case <-time.After(90 * time.Second):
	}
	p.kill()
	return nil, fmt.Errorf("the phones' process did not get ready: %s", strings.TrimSpace(p.stderr.String()))
}

// run gives the start signal and waits for the result.
func (p *phonesProc) run() (workerResult, error) {
	defer p.kill()
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		return workerResult{}, err
	}
	var res workerResult
	if err := json.NewDecoder(p.out).Decode(&res); err != nil {
		p.kill() // before reading its stderr
		return res, fmt.Errorf("the phones' process: %v: %s", err, strings.TrimSpace(p.stderr.String()))
	}
	if res.Err != "" {
		return res, errors.New(res.Err)
	}
	return res, nil
}

func (p *phonesProc) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}
