package main

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/dhcp"
	"phoneboot/internal/event"
	"phoneboot/internal/phone"
)

// dhcpConfig merges the [dhcp] section with the --dhcp-iface and
// --dhcp-range flags (the flags win) and the inventory's reservations.
// ok is false when DHCP is off (no interface).
func dhcpConfig(cfg *config.Config, iface, rng string) (dhcp.Config, bool, error) {
	var d config.DHCP
	if cfg != nil {
		d = cfg.DHCP
	}
	if iface != "" {
		d.Interface = iface
	}
	if rng != "" {
		d.Range = rng
	}
	if d.Interface == "" {
		return dhcp.Config{}, false, nil
	}
	if d.Range == "" {
		return dhcp.Config{}, false, fmt.Errorf("DHCP on %s needs a pool: --dhcp-range 10.0.0.100-10.0.0.199 (or range in [dhcp])", d.Interface)
	}
	from, to, err := config.ParseRange(d.Range)
	if err != nil {
		return dhcp.Config{}, false, fmt.Errorf("--dhcp-range: %v", err)
	}
	dc := dhcp.Config{Iface: d.Interface, Range: [2]netip.Addr{from, to}, Domain: d.Domain, LeaseTime: d.LeaseTime.Duration,
		Reservations: map[phone.MAC]netip.Addr{}}
	if d.Subnet != "" {
		dc.Subnet, _ = netip.ParsePrefix(d.Subnet)
	}
	if d.Router != "" {
		dc.Router, _ = netip.ParseAddr(d.Router)
	}
	parse := func(list []string) []netip.Addr {
		var out []netip.Addr
		for _, s := range list {
			if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, a)
			}
		}
		return out
	}
	dc.DNS, dc.NTP, dc.TFTP = parse(d.DNS), parse(d.NTP), parse(d.TFTP)
	for _, cl := range d.Classes {
		o := dhcp.Override{Model: cl.Model, VendorClass: cl.VendorClass, DNS: parse(cl.DNS), TFTP: parse(cl.TFTP), LeaseTime: cl.LeaseTime.Duration}
		o.Router, _ = netip.ParseAddr(cl.Router)
		dc.Overrides = append(dc.Overrides, o)
	}
	if cfg != nil {
		for _, p := range cfg.Phones {
			if a, err := netip.ParseAddr(p.IP); err == nil {
				dc.Reservations[p.MAC] = a
			}
		}
	}
	return dc, true, nil
}

// startDHCP runs phoneboot's DHCP server when configured. Its exchanges
// go to the phones' timelines, and a lease tells provision which phone an
// address belongs to, and the vendor class which model it is.
func (p *provisioning) startDHCP(ctx context.Context, cfg *config.Config, iface, rng string, wg *sync.WaitGroup) error {
	dc, on, err := dhcpConfig(cfg, iface, rng)
	if err != nil || !on {
		return err
	}
	srv, err := dhcp.New(dc, p.db, p.log, func(ev dhcp.Event) {
		if ev.MAC == (phone.MAC{}) {
			return
		}
		if ev.Type == "ack" && ev.IP.IsValid() {
			p.prov.Bind(ev.MAC, ev.IP)
		}
		if m, ok := phone.ModelByName(ev.Model); ok {
			p.prov.Learn(ev.MAC, m)
		}
		var model string
		if m, ok := phone.ModelByName(ev.Model); ok {
			model = m.Name
		}
		p.events.Add(event.Event{Time: ev.Time, MAC: ev.MAC, IP: ev.IP, Source: event.DHCP, Kind: ev.Type, Detail: ev.Detail,
			Facts: event.Facts{Model: model}})
	})
	if err != nil {
		return fmt.Errorf("serve: DHCP: %w", err)
	}
	p.log.Info("dhcp serving", "iface", dc.Iface, "range", fmt.Sprintf("%s-%s", dc.Range[0], dc.Range[1]))
	wg.Go(func() {
		if err := srv.Run(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("dhcp server stopped", "err", err)
		}
	})
	wg.Go(func() {
		// The start listens for other DHCP servers on the wire: say so
		// loudly, it is the first thing to know.
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
			for _, w := range srv.Warnings() {
				p.log.Warn("DHCP: " + w)
			}
		}
	})
	return nil
}
