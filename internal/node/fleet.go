package node

import (
	"context"
	"time"

	"phoneboot/internal/store"
)

// announceEvery is how often a node of a fleet says it is there.
const announceEvery = 30 * time.Second

// announce tells the other nodes of the fleet about this one (its
// networks, where they fetch its firmware) at start and then every
// announceEvery, until ctx ends. Alone, it does nothing.
func (n *node) announce(ctx context.Context) {
	if n.name == "" {
		return
	}
	started := time.Now()
	t := time.NewTicker(announceEvery)
	defer t.Stop()
	for {
		nc := n.cfg.Load().Node
		err := n.db.Announce(ctx, store.NodeInfo{Name: n.name, Networks: nc.Networks, FirmwareURL: nc.FirmwareURL,
			Started: started, Seen: time.Now()})
		if err != nil && ctx.Err() == nil {
			n.log.Warn("cannot tell the other nodes this one is there", "err", store.Reason(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
