package main

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/dhcp"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
)

// dhcpConfig merges the [dhcp] section with the --dhcp-iface and
// --dhcp-range flags (the flags win) and the inventory's reservations.
// ok is false when DHCP is off (no interface).
func dhcpConfig(cfg *config.Config, iface, rng string) (dhcp.Config, bool, error) {
	d := cfg.DHCP
	if iface != "" {
		d.Interface = iface
	}
	if d.Interface == "" {
		return dhcp.Config{}, false, nil
	}
	if rng != "" {
		pool, err := config.ParsePool(rng)
		if err != nil {
			return dhcp.Config{}, false, fmt.Errorf("--dhcp-range: %v", err)
		}
		d.Pool = pool
	}
	if !d.Pool.IsValid() {
		return dhcp.Config{}, false, fmt.Errorf("DHCP on %s needs a pool: --dhcp-range 10.0.0.100-10.0.0.199 (or range in [dhcp])", d.Interface)
	}
	dc := dhcp.Config{Iface: d.Interface, Range: [2]netip.Addr{d.Pool.From, d.Pool.To}, Domain: d.Domain, LeaseTime: d.LeaseTime,
		Subnet: d.Subnet, Router: d.Router, DNS: d.DNS, NTP: d.NTP, TFTP: d.TFTP,
		Reservations: map[phone.MAC]netip.Addr{}}
	for _, cl := range d.Classes {
		dc.Overrides = append(dc.Overrides, dhcp.Override{Model: cl.Model.Name, VendorClass: cl.VendorClass, Router: cl.Router,
			DNS: cl.DNS, TFTP: cl.TFTP, LeaseTime: cl.LeaseTime})
	}
	for _, p := range cfg.Phones {
		if p.IP.IsValid() {
			dc.Reservations[p.MAC] = p.IP
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
		p.events.Add(store.Event{Time: ev.Time, MAC: ev.MAC, IP: ev.IP, Source: "dhcp", Kind: ev.Type, Detail: ev.Detail})
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
