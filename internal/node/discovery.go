package node

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"

	"phoneboot/internal/discovery"
)

// discover runs what --discover and --announce-voice-vlan ask for: a
// listener that teaches the phone book what phones say in CDP and LLDP,
// and the voice-VLAN announcer. Both are extras: an interface that cannot
// be opened (missing, or no CAP_NET_RAW) is said once and phoneboot goes
// on serving without it.
func (n *node) discover(ctx context.Context, g *errgroup.Group) {
	toldCap := false
	open := func(iface, off string) (*discovery.Conn, bool) {
		c, err := discovery.Listen(iface)
		switch {
		case err == nil:
			return c, true
		case !errors.Is(err, discovery.ErrNoCapability):
			n.log.Warn(off + " (serving goes on): " + err.Error())
		case !toldCap: // the same advice for both: once
			toldCap = true
			what := off
			if n.opts.AnnounceIface != "" && n.opts.DiscoverIface != "" {
				what = "phones not discovered and voice VLAN not announced"
			}
			n.log.Warn(what + " (serving goes on): " + err.Error())
		}
		return nil, false
	}
	var ann *discovery.Announcer
	if iface := n.opts.AnnounceIface; iface != "" {
		if c, ok := open(iface, "voice VLAN not announced"); ok {
			c.Deaf() // it only sends; the listener below hears the queries
			ann = discovery.NewAnnouncer(c, n.opts.AnnounceVLAN, n.log)
			n.log.Warn("announcing a voice VLAN as a switch would; docs/discovery.md says when not to", "iface", iface, "vlan", n.opts.AnnounceVLAN)
			g.Go(func() error { defer c.Close(); return ann.Run(ctx) })
		}
	}
	if iface := n.opts.DiscoverIface; iface != "" {
		if c, ok := open(iface, "phones not discovered"); ok {
			n.log.Info("listening for CDP and LLDP", "iface", iface)
			feed := &discovery.Feeder{Book: n.book, Record: n.record, Log: n.log}
			var answer *discovery.Announcer
			if iface == n.opts.AnnounceIface {
				answer = ann
			}
			g.Go(func() error { n.hear(ctx, c, feed, answer); return nil })
		}
	}
	if ann != nil && n.opts.AnnounceIface != n.opts.DiscoverIface {
		// Hear the phones' VoIP VLAN queries there, learning nothing.
		if c, err := discovery.Listen(n.opts.AnnounceIface); err == nil {
			g.Go(func() error { n.hear(ctx, c, nil, ann); return nil })
		}
	}
}

// hear reads c until ctx is done: each frame feeds feed (when set), and a
// phone's VoIP VLAN query makes ann answer (when set).
func (n *node) hear(ctx context.Context, c *discovery.Conn, feed *discovery.Feeder, ann *discovery.Announcer) {
	defer c.Close()
	buf := make([]byte, 2048)
	bad := 0
	for {
		f, err := c.Read(ctx, buf)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("discovery stopped on "+c.Iface.Name, "err", err)
			}
			return
		}
		nb, ok, err := discovery.Decode(f.Data)
		if err != nil {
			if bad++; bad == 1 || bad%1000 == 0 {
				n.log.Info("discovery: malformed frame", "iface", c.Iface.Name, "err", err, "malformed so far", bad)
			}
			continue
		}
		if !ok {
			continue
		}
		if ann != nil {
			ann.Heard(nb, f.Time)
		}
		if feed != nil {
			feed.Hear(nb, f.Time)
		}
	}
}
