package node

import "phoneboot/internal/metrics"

// newMetrics makes the node's metrics: what each service counts, read at
// each scrape (the services may not be running yet: read them through
// n), and the events recorded.
func (n *node) newMetrics() *metrics.Metrics {
	return metrics.New(metrics.Sources{})
}
