package node

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/stale"
	"phoneboot/internal/tftp"
)

// StaleOptions are serve's --answer-stale flags (docs/stale-server.md).
type StaleOptions struct {
	Iface string // "": off
	// NoticeOnly: record phones asking for a stale server, take no
	// address (--notice-stale).
	NoticeOnly bool
	Max        int           // addresses held at once
	Idle       time.Duration // release after the phones stopped asking this long
}

// answerStale runs the stale-TFTP-server answer on --answer-stale IF. It
// is an extra: when it cannot start (no CAP_NET_RAW, no such interface)
// it says so once and the rest of phoneboot serves on.
func (n *node) answerStale(ctx context.Context, g *errgroup.Group) {
	o := n.opts.Stale
	if o.Iface == "" {
		return
	}
	srv := n.opts.TFTP
	cfg := stale.Config{Iface: o.Iface, Answer: !o.NoticeOnly, Max: o.Max, Idle: o.Idle,
		IsPhone: n.isPhone(), Record: n.record, Log: n.log}
	if host, port, err := net.SplitHostPort(n.opts.TFTPAddr); err == nil && host != "" {
		// A TFTP server bound to given addresses hears nothing sent to a
		// new one: it gets a listener of its own there. One on the
		// wildcard address (the default, ":69") answers from the address
		// each request was sent to (IP_PKTINFO), so a new address just
		// works.
		cfg.Listen = func(ctx context.Context, addr netip.Addr) error {
			conns, err := tftp.Listen(net.JoinHostPort(addr.String(), port))
			if err != nil {
				return err
			}
			for _, c := range conns {
				go srv.Serve(ctx, c)
			}
			return nil
		}
	}
	a, err := stale.Open(ctx, cfg)
	if err != nil {
		n.log.Warn("stale TFTP servers not answered (serving goes on): " + err.Error())
		return
	}
	n.stale.Store(a)
	if o.NoticeOnly {
		n.log.Info("noticing stale TFTP servers (taking no address)", "iface", o.Iface)
	} else {
		n.log.Info("answering for stale TFTP servers", "iface", o.Iface, "max", cfg.Max, "idle", o.Idle.String())
	}
	g.Go(func() error {
		// The addresses go once the running transfers are done (or
		// the grace is over): a phone fetching from one finishes.
		run, stop := context.WithCancel(context.Background())
		go func() {
			<-ctx.Done()
			a.Close()
			deadline := time.Now().Add(n.opts.Grace)
			for srv.Active() > 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			stop()
		}()
		a.Run(run)
		return nil
	})
}

// isPhone is who the stale answer acts for: a phone of the inventory, or
// one phoneboot has seen as a phone (the phone book: it asked for its own
// files, showed a phone's DHCP vendor class, or was heard on CDP/LLDP). A
// Cisco OUI alone is not enough: anyone can claim one, and Cisco's
// switches, routers and access points carry the same ones. Add such a
// phone to the inventory (phoneboot phones add MAC) and it is answered.
func (n *node) isPhone() func(phone.MAC) bool {
	var (
		mu   sync.Mutex
		from *config.Config
		inv  map[phone.MAC]bool
	)
	return func(mac phone.MAC) bool {
		cfg := n.cfg.Load()
		mu.Lock()
		if cfg != from {
			from, inv = cfg, make(map[phone.MAC]bool, len(cfg.Phones))
			for _, p := range cfg.Phones {
				inv[p.MAC] = true
			}
		}
		known := inv[mac]
		mu.Unlock()
		if known {
			return true
		}
		_, seen := n.book.Get(mac)
		return seen
	}
}

// sawStale tells the stale answer of a phone's file request: the
// address it asked for stays while the phone still fetches.
func (n *node) sawStale(ev event.Event) {
	if a := n.stale.Load(); a != nil && ev.IsRequest() && ev.MAC != (phone.MAC{}) {
		a.Saw(ev.MAC)
	}
}
