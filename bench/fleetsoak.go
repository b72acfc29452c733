package main

// The "soak" case: a slice of the fleet (every kind keeps its share)
// boots again and again for -soak, each phone rebooting as soon as it is
// up (DHCP, then TFTP, a third upgrading every time, since every boot
// starts from the phone's old load), with -soak-loss packet loss: tc
// netem on both ends of the pair where the kernel has it, else loss in
// the simulated phones' sockets. It reports boots a minute, p50/p99 per
// boot, failed boots, and the server's memory every 30 s.
//
//	go run ./bench -cases soak -soak 10m [-soak-phones 100] [-soak-servers sqlite,postgres]

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"
)

// soakSample is the server's memory and CPU at one moment of the soak.
type soakSample struct {
	at  time.Duration
	rss int64
	cpu time.Duration
}

func runSoak(ctx context.Context, reg *registry, o *options, bin, tmp, cgBase string) error {
	caseStart := time.Now()
	fmt.Fprintln(os.Stderr, "bench: soak: writing the catalog and the inventory…")
	tmpl, phones, err := fleetSetup(ctx, bin, tmp)
	if err != nil {
		return err
	}
	fleetBin, fleetTmpl, fleetTmp = bin, tmpl, tmp
	phones = everyNth(phones, o.soakPhones)
	var pg *pgCluster
	for _, name := range o.soakServers {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		label := "phoneboot (SQLite)"
		mk := func(n *fleetNet) (*server, error) { return nsPhoneboot("phoneboot", "", n) }
		if name == "postgres" {
			label = "phoneboot (PostgreSQL)"
			if pg == nil {
				if pg, err = startPostgres(tmp); err != nil {
					fmt.Printf("## Case soak: %s\n\nmissing: no PostgreSQL cluster: %v\n\n", label, err)
					continue
				}
				defer pg.stop()
			}
			mk = func(n *fleetNet) (*server, error) {
				u, err := pg.newDB(fmt.Sprintf("soak_%d", os.Getpid()))
				if err != nil {
					return nil, err
				}
				return nsPhoneboot("phoneboot-pg", u, n)
			}
		}
		fmt.Fprintf(os.Stderr, "bench: soak: %s, %d phones for %v…\n", label, len(phones), o.soak)
		if err := soakRun(ctx, reg, o, label, mk, tmp, cgBase, phones, pg, name == "postgres"); err != nil {
			fmt.Printf("## Case soak: %s\n\nfailed: %v\n\n", label, err)
		}
	}
	fmt.Printf("Case took %s.\n\n", time.Since(caseStart).Round(time.Second))
	return nil
}

// everyNth keeps n phones of the fleet, every kind its share.
func everyNth(phones []fleetPhone, n int) []fleetPhone {
	if n <= 0 || n >= len(phones) {
		return phones
	}
	var some []fleetPhone
	for i := 0; i < len(phones) && len(some) < n; i += max(len(phones)/n, 1) {
		some = append(some, phones[i])
	}
	return some
}

func soakRun(ctx context.Context, reg *registry, o *options, label string, mk func(*fleetNet) (*server, error), tmp, cgBase string, phones []fleetPhone, pg *pgCluster, withPG bool) error {
	n, err := newFleetNet()
	if err != nil {
		return err
	}
	defer n.close()
	lossHow := fmt.Sprintf("tc netem loss %g%% on both ends of the veth pair", o.soakLoss*100)
	spec := stormSpec(phones)
	spec.Soak, spec.MaxBoots = o.soak, 1_000_000
	if !n.netem(o.soakLoss) {
		spec.Loss = o.soakLoss
		lossHow = fmt.Sprintf("injected in the simulated phones' sockets (no tc netem in this kernel): %g%% of DHCP messages each way, of TFTP DATA received and of ACKs sent (requests are never dropped)", o.soakLoss*100)
	}
	s, err := mk(n)
	if err != nil {
		return err
	}
	p, err := start(ctx, reg, s, "", tmp, cgBase, len(phones))
	if err != nil {
		return err
	}
	defer reg.stop(p)
	ph, err := startPhones(ctx, n, spec, tmp)
	if err != nil {
		return fmt.Errorf("%w; %s's output: %s", err, s.name, p.logTail())
	}
	pids := p.pids
	cpu := func() time.Duration {
		cg, proc := p.cpu()
		if p.cg != nil {
			proc = cg
		}
		if withPG {
			proc += pg.cpu()
		}
		return proc
	}
	if withPG {
		pids = func() []int { return append(p.pids(), pg.pids()...) }
	}
	rss := func() int64 {
		var sum int64
		if ps := pids(); len(ps) == 1 {
			sum = rssOf(ps[0])
		} else {
			for _, p := range ps {
				sum += pssOf(p)
			}
		}
		return sum
	}
	peak := startRSSSampler(pids)
	cpu0, t0 := cpu(), time.Now()
	samples := []soakSample{{0, rss(), 0}}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				samples = append(samples, soakSample{time.Since(t0), rss(), cpu() - cpu0})
			}
		}
	}()
	res, err := ph.run()
	close(stop)
	<-done
	end := soakSample{time.Since(t0), rss(), cpu() - cpu0}
	samples = append(samples, end)
	top := peak.finish()
	if err != nil {
		return err
	}
	if !p.alive() {
		return fmt.Errorf("%s exited during the soak (%v); its output: %s", s.name, p.waitErr, p.logTail())
	}
	printSoak(label, o, len(phones), lossHow, res, samples, top)
	return nil
}

func printSoak(label string, o *options, phones int, lossHow string, res workerResult, samples []soakSample, peak int64) {
	var durs []time.Duration
	failed := 0
	var firstErr string
	for _, b := range res.Boots {
		if !b.OK {
			failed++
			if firstErr == "" {
				firstErr = b.Why
			}
			continue
		}
		durs = append(durs, b.End-b.Start)
	}
	slices.Sort(durs)
	end := samples[len(samples)-1]
	mins := res.Wall.Minutes()
	fmt.Printf("## Case soak: %d phones boot again and again for %v with %g%% loss: %s\n\n", phones, o.soak, o.soakLoss*100, label)
	fmt.Println("| server | phones | boots | failed boots | boots/min | p50 boot | p99 boot | server CPU s | CPU ms / boot | RSS start → end MiB | peak RSS MiB |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	perBoot := 0.0
	if len(res.Boots) > 0 {
		perBoot = float64(end.cpu.Microseconds()) / 1000 / float64(len(res.Boots))
	}
	fmt.Printf("| %s | %d | %d | %d | %.0f | %s | %s | %.1f | %.2f | %.1f → %.1f | %.1f |\n\n", label, phones, len(res.Boots), failed,
		float64(len(durs))/mins, fmtDur(pctOf(durs, 0.5)), fmtDur(pctOf(durs, 0.99)), end.cpu.Seconds(), perBoot,
		float64(samples[0].rss)/(1<<20), float64(end.rss)/(1<<20), float64(peak)/(1<<20))
	fmt.Println("Every 30 s (boots ended in the 30 s before, and the server's memory then):")
	fmt.Println()
	fmt.Println("| at | boots | failed | p99 boot | server RSS MiB | server CPU s so far |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|")
	for i, sm := range samples[1:] {
		from := samples[i].at
		var win []time.Duration
		bad := 0
		for _, b := range res.Boots {
			if b.End > from && b.End <= sm.at {
				if b.OK {
					win = append(win, b.End-b.Start)
				} else {
					bad++
				}
			}
		}
		slices.Sort(win)
		fmt.Printf("| %s | %d | %d | %s | %.1f | %.1f |\n", sm.at.Round(time.Second), len(win)+bad, bad, fmtDur(pctOf(win, 0.99)),
			float64(sm.rss)/(1<<20), sm.cpu.Seconds())
	}
	fmt.Println()
	fmt.Printf("- loss: %s\n", lossHow)
	fmt.Println("- a boot is DHCP (DISCOVER…ACK) and then every TFTP request until the phone is up on its target load; every phone reboots at once when up, from its old load again (a third upgrade on every boot); a boot still running when the time is up finishes")
	fmt.Printf("- bounded: %v, and at most 1,000,000 boots; a boot at most 3 min\n", o.soak)
	if firstErr != "" {
		fmt.Printf("- first failure: %s\n", firstErr)
	}
	fmt.Printf("- target: 0 failed boots: %d — %s\n\n", failed, verdict(failed == 0 && len(res.Boots) > 0))
}
