package node

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"phoneboot/internal/fwshare"
	"phoneboot/internal/store"
)

// announceEvery is how often a node of a fleet says it is still there.
const announceEvery = time.Minute

// shareFirmware runs the firmware sharing of a node of a fleet (a config
// with [node] name; docs/fleet.md "Firmware across nodes"): its loads
// published, the others' fetched. A load fetched is imported into the
// catalog, then the config is loaded again so that configs may name it.
func (n *node) shareFirmware(ctx context.Context, g *errgroup.Group) {
	cfg := n.cfg.Load()
	if cfg == nil || cfg.Node.Name == "" {
		return
	}
	if cfg.Node.FirmwareURL != "" && n.opts.HTTPAddr == "" {
		n.log.Warn("node.firmware_url is set but the phone HTTP server is off (--http-addr \"\"): the other nodes cannot fetch this node's loads")
	}
	sh := &fwshare.Sharer{Store: n.db, Catalog: n.catalog, Node: cfg.Node.Name, Log: n.log,
		Imported: func(ctx context.Context) {
			if err := n.reload(ctx); err != nil {
				n.log.Error("reload after a firmware fetch failed; phones keep getting what they got before", "err", err)
			}
		}}
	g.Go(func() error { n.announce(ctx); return nil })
	g.Go(func() error { sh.Run(ctx); return nil })
}

// announce tells the fleet of this node (its networks, where it shares
// its firmware) at start, then every announceEvery until ctx ends.
//
// TODO(lead): the node wiring of the fleet announces the node too; keep
// one of the two.
func (n *node) announce(ctx context.Context) {
	node := n.cfg.Load().Node
	info := store.NodeInfo{Name: node.Name, Networks: node.Networks, FirmwareURL: node.FirmwareURL, Started: time.Now()}
	say := func() {
		info.Seen = time.Now()
		if err := n.db.Announce(ctx, info); err != nil && ctx.Err() == nil {
			n.log.Warn("cannot tell the fleet of this node (tried again soon)", "err", err)
		}
	}
	say()
	t := time.NewTicker(announceEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			say()
		}
	}
}
