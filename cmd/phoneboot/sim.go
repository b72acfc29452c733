package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"phoneboot/internal/phone"
	"phoneboot/internal/printable"
	"phoneboot/internal/sim"
)

// simulate boots simulated phones against a TFTP server and reports what
// each ended up running: a dry run of a configuration before real phones
// touch it.
func simulate(ctx context.Context, args []string, stdout io.Writer) error {
	fs, _, _ := commonFlags("sim")
	var (
		server   = fs.String("server", "127.0.0.1:69", "TFTP server `address` to boot from")
		local    = fs.String("local", "127.0.0.2", "source `address` of the first phone; the next ones count up (127.0.0.2, 127.0.0.3 …)")
		model    = fs.String("model", "7960", "phone model: 7940, 7960, 7941, 7961, 7970 …")
		macText  = fs.String("mac", "00:13:7F:00:00:01", "MAC of the first phone; the next ones count up")
		load     = fs.String("load", "", "load the phones run now, e.g. P0S3-8-12-00 or SIP41.8-3-2S (default: a model-typical old load)")
		proto    = fs.String("protocol", "", "protocol they run now (default: from the load)")
		count    = fs.Int("count", 1, "phones booting at once")
		ctlLoop  = fs.Bool("ctl-loop", false, "phones loop on CTLSEP<MAC>.tlv until they get a file (the seed page's first story)")
		ctlEmpty = fs.Bool("ctl-loop-empty", false, "phones also loop on an empty CTL file until it is gone (the seed page's Feb 2005 story)")
		ctlAgain = fs.Bool("ctl-loop-again", false, "the CTL loop comes back on every boot of a UAL load, after each upgrade reboot too")
		reset    = fs.Bool("factory-reset", false, "Java phones start from termNN.default.loads")
		retry    = fs.Duration("retry", 3*time.Second, "pause between repeated requests in a loop")
		timeout  = fs.Duration("timeout", 5*time.Minute, "give up on a phone after this long")
		asJSON   = fs.Bool("json", false, "print JSON for scripts (with every request)")
		verbose  = fs.Bool("v", false, "print every request as it happens")
	)
	if _, err := parseFlags(fs, args, stdout, "Boots simulated Cisco phones against a TFTP server and reports what each ends up running.", 0); err != nil {
		return err
	}
	srv, err := netip.ParseAddrPort(*server)
	if err != nil {
		return fmt.Errorf("sim: --server %q: want ip:port, e.g. 127.0.0.1:69", *server)
	}
	from, err := netip.ParseAddr(*local)
	if err != nil {
		return fmt.Errorf("sim: --local %q: want an IP address", *local)
	}
	m, ok := phone.ModelByName(*model)
	if !ok {
		return fmt.Errorf("sim: unknown model %q", *model)
	}
	mac, err := phone.ParseMAC(*macText)
	if err != nil {
		return fmt.Errorf("sim: --mac: %v", err)
	}
	if *count < 1 || *count > 10000 {
		return fmt.Errorf("sim: --count must be from 1 to 10000")
	}
	if *load == "" {
		*load = sim.TypicalLoad(m)
	}
	phones := make([]sim.Phone, *count)
	for i := range phones {
		phones[i] = sim.Phone{MAC: mac, Model: m, Load: *load, Protocol: strings.ToUpper(*proto),
			CTLLoop: *ctlLoop || *ctlEmpty || *ctlAgain, CTLLoopEmpty: *ctlEmpty, CTLLoopAgain: *ctlAgain, FactoryReset: *reset}
		mac = mac.Next()
	}
	o := sim.Options{Server: srv, Local: from, Retry: *retry, Timeout: *timeout}
	if *verbose {
		o.Log = func(s string) { printable.Fprintln(stdout, s) }
	}
	reports := sim.Run(ctx, phones, o)
	if *asJSON {
		return printJSON(stdout, reports)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PHONE\tMODEL\tLOAD BEFORE → AFTER\tPROTOCOL\tREBOOTS\tREQUESTS\tSTATE")
	stuck := 0
	for _, r := range reports {
		if r.State != "up" {
			stuck++
		}
		printable.Fprintf(tw, "%s\t%s\t%s → %s\t%s\t%d\t%d\t%s\n", r.MAC.DeviceName(), r.Model, dash(r.StartLoad), dash(r.Load), r.Protocol, r.Reboots, len(r.Requests), r.State)
	}
	tw.Flush()
	if stuck > 0 {
		return fmt.Errorf("sim: %d of %d phones did not come up", stuck, len(reports))
	}
	return nil
}
