package node

import (
	"context"

	"golang.org/x/sync/errgroup"

	"phoneboot/internal/fwshare"
)

// shareFirmware runs the firmware sharing of a node of a fleet (a config
// with [node] name; docs/fleet.md "Firmware across nodes"): its loads
// published, the others' fetched. A load fetched is imported into the
// catalog, then the config is loaded again so that configs may name it.
func (n *node) shareFirmware(ctx context.Context, g *errgroup.Group) {
	if n.name == "" {
		return
	}
	cfg := n.cfg.Load()
	if cfg.Node.FirmwareURL != "" && n.opts.HTTPAddr == "" {
		n.log.Warn("node.firmware_url is set but the phone HTTP server is off (--http-addr \"\"): the other nodes cannot fetch this node's loads")
	}
	sh := &fwshare.Sharer{Store: n.db, Catalog: n.catalog, Node: n.name, Log: n.log,
		Imported: func(ctx context.Context) {
			if err := n.reload(ctx); err != nil {
				n.log.Error("reload after a firmware fetch failed; phones keep getting what they got before", "err", err)
			}
		}}
	g.Go(func() error { sh.Run(ctx); return nil })
}
