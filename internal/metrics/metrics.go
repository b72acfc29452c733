// Package metrics is phoneboot's /metrics endpoint for Prometheus: what
// its services count, read from them when scraped, and the events
// phoneboot records, counted as they happen. (Skeleton: issue 13 fills
// it in.)
package metrics

import (
	"net/http"

	"phoneboot/internal/event"
)

// Sources are the counters of the running services, read at each scrape.
type Sources struct{}

// Metrics is a private registry of phoneboot's metrics.
type Metrics struct{}

// New returns the metrics of src.
func New(src Sources) *Metrics { return &Metrics{} }

// Observe counts one recorded event. It must not block.
func (m *Metrics) Observe(ev event.Event) {}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler { return http.NotFoundHandler() }
