package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"phoneboot/internal/config"
	"phoneboot/internal/dhcp"
	"phoneboot/internal/event"
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
	// The config checks its own range (with its line); this is the flag's.
	if nd := cfg.Node; !nd.ServesPool(d.Pool.From, d.Pool.To) {
		return dhcp.Config{}, false, fmt.Errorf("DHCP range %s-%s is outside node %s's networks (%s):\n"+
			"  change the range, or add its network to [node] networks in %s",
			d.Pool.From, d.Pool.To, nd.Name, nd.NetworksText(), nodeFile(cfg))
	}
	dc := dhcp.Config{Node: cfg.Node.Name, Iface: d.Interface, Range: [2]netip.Addr{d.Pool.From, d.Pool.To}, Domain: d.Domain, LeaseTime: d.LeaseTime,
		Subnet: d.Subnet, Router: d.Router, DNS: d.DNS, NTP: d.NTP, TFTP: d.TFTP,
		NewLeasesPerMinute: d.NewLeasesPerMinute, NewLeaseBurst: d.NewLeaseBurst,
		Reservations: map[phone.MAC]netip.Addr{}, Listed: map[phone.MAC]bool{}}
	for _, cl := range d.Classes {
		dc.Overrides = append(dc.Overrides, dhcp.Override{Model: cl.Model.Name, VendorClass: cl.VendorClass, Router: cl.Router,
			DNS: cl.DNS, TFTP: cl.TFTP, LeaseTime: cl.LeaseTime})
	}
	// A fleet's inventory is every node's: a node reserves only the
	// addresses of its own networks (and the server only its subnet's).
	for _, p := range cfg.Phones {
		dc.Listed[p.MAC] = true
		if p.IP.IsValid() && cfg.Node.Serves(p.IP) {
			dc.Reservations[p.MAC] = p.IP
		}
	}
	return dc, true, nil
}

// dhcpService is phoneboot's DHCP server as the node runs it.
type dhcpService struct {
	n   *node
	srv *dhcp.Server
}

// dhcp makes the DHCP server when one is configured (nil when not). Its
// exchanges go to the phones' timelines; a lease binds an address to a
// phone, and a vendor class teaches the book its model. A node of a
// fleet first claims its range in the database, which refuses one that
// overlaps another node's; without DHCP it gives up the range it had.
func (n *node) dhcp(ctx context.Context) (*dhcpService, error) {
	cfg := n.cfg.Load()
	dc, on, err := dhcpConfig(cfg, n.opts.DHCPIface, n.opts.DHCPRange)
	if err != nil {
		return nil, err
	}
	if !on {
		if cfg.Node.Name != "" {
			if err := n.db.ClaimPools(ctx, cfg.Node.Name, nil); err != nil {
				n.log.Warn("could not give up this node's DHCP range in the store", "err", err)
			}
		}
		return nil, nil
	}
	srv, err := dhcp.New(dc, n.db, n.log, n.dhcpEvent)
	if err != nil {
		return nil, fmt.Errorf("DHCP: %w", err)
	}
	if cfg.Node.Name != "" {
		pool := store.Pool{First: dc.Range[0], Last: dc.Range[1]}
		if err := n.db.ClaimPools(ctx, cfg.Node.Name, []store.Pool{pool}); err != nil {
			return nil, explainClaim(err, cfg)
		}
	}
	n.running.dhcp.Store(srv)
	n.log.Info("dhcp serving", "iface", dc.Iface, "range", fmt.Sprintf("%s-%s", dc.Range[0], dc.Range[1]))
	return &dhcpService{n: n, srv: srv}, nil
}

// explainClaim says what to do about a range the store refused.
func explainClaim(err error, cfg *config.Config) error {
	var o *store.PoolOverlap
	if !errors.As(err, &o) {
		return fmt.Errorf("DHCP: %w", err)
	}
	if o.Node == cfg.Node.Name {
		return fmt.Errorf("DHCP: %w", err)
	}
	// Lines under 80 columns: a node name is at most 32 characters.
	return fmt.Errorf("DHCP range %v is not free:\n"+
		"  node %s serves %v.\n"+
		"  The nodes of a fleet share one database: no address may be in two\n"+
		"  nodes' pools. Change [dhcp] range (or --dhcp-range) in\n"+
		"  %s\n"+
		"  to addresses that node does not serve; or, if it no longer serves\n"+
		"  them, change or remove its [dhcp] range and restart it first (a node\n"+
		"  gives up its old range when it starts)", o.Pool, o.Node, o.Theirs, nodeFile(cfg))
}

// nodeFile is the file of the node's own sections ([node], [dhcp]).
func nodeFile(cfg *config.Config) string {
	if cfg.NodeFile != "" {
		return cfg.NodeFile
	}
	return cfg.File
}

func (n *node) dhcpEvent(ev dhcp.Event) {
	if ev.MAC == (phone.MAC{}) {
		return
	}
	if ev.Type == event.DHCPAck && ev.IP.IsValid() {
		n.book.Lease(ev.MAC, ev.IP)
	}
	var model string
	if m, ok := phone.ModelByName(ev.Model); ok {
		n.book.Learn(ev.MAC, m)
		model = m.Name
	}
	n.record(event.Event{Time: ev.Time, MAC: ev.MAC, IP: ev.IP, Source: event.DHCP, Kind: ev.Type, Detail: ev.Detail,
		Facts: event.Facts{Model: model}})
}

// run serves DHCP until ctx is done.
func (d *dhcpService) run(ctx context.Context) error {
	if err := d.srv.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("dhcp server stopped: %w", err)
	}
	return nil
}

// warn says what the start-up probe found (another DHCP server on the
// wire, reservations ignored) loudly, once it is done: it is the first
// thing to know.
func (d *dhcpService) warn(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-d.srv.Ready():
		for _, w := range d.srv.Warnings() {
			d.n.log.Warn("DHCP: " + w)
		}
	}
}
