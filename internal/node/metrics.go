package node

import (
	"context"
	"errors"
	"sync/atomic"

	"phoneboot/internal/dhcp"
	"phoneboot/internal/fleet"
	"phoneboot/internal/metrics"
	"phoneboot/internal/store"
	"phoneboot/internal/syslog"
	"phoneboot/internal/tftp"
)

// running are the services that start after the metrics are made (nil
// until then, and when off), for the metrics to read.
type running struct {
	dhcp   atomic.Pointer[dhcp.Server]
	syslog atomic.Pointer[syslog.Server]
}

// newMetrics makes the node's metrics: what each service counts, read at
// each scrape (the services may not be running yet: read them through
// n), and the events recorded.
func (n *node) newMetrics() *metrics.Metrics {
	return metrics.New(metrics.Sources{
		TFTP: func() (tftp.Stats, bool) {
			if n.opts.TFTP == nil {
				return tftp.Stats{}, false
			}
			return n.opts.TFTP.Stats(), true
		},
		DHCP: func() (dhcp.Stats, bool) {
			if s := n.running.dhcp.Load(); s != nil {
				return s.Stats(), true
			}
			return dhcp.Stats{}, false
		},
		Syslog: func() (syslog.Stats, bool) {
			if s := n.running.syslog.Load(); s != nil {
				return s.Stats(), true
			}
			return syslog.Stats{}, false
		},
		Events: func() (store.WriterStats, bool) {
			if n.events == nil {
				return store.WriterStats{}, false
			}
			return n.events.Stats(), true
		},
		Phones: n.phonesByState,
		Log:    n.log,
	})
}

// phonesByState counts the phones of the fleet view by state: what
// `phoneboot phones` shows.
func (n *node) phonesByState(ctx context.Context) (map[string]int, error) {
	cfg := n.cfg.Load()
	if n.db == nil || cfg == nil {
		return nil, errors.New("not serving yet")
	}
	rows, err := fleet.Fleet{Store: n.db, Config: cfg, Cache: n.fleet}.Phones(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.State]++
	}
	return out, nil
}
