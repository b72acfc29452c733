// Package metrics is phoneboot's /metrics endpoint for Prometheus: what
// its services count, read from them when scraped, and the events
// phoneboot records, counted as they happen. Every label value comes from
// a closed set written here (never a MAC, a file name or anything else a
// sender chose), so the number of series is fixed. docs/metrics.md lists
// them.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"phoneboot/internal/dhcp"
	"phoneboot/internal/event"
	"phoneboot/internal/store"
	"phoneboot/internal/syslog"
	"phoneboot/internal/tftp"
)

// Sources are the counters of the running services, read at each scrape.
// Each is called once per scrape; false (or a nil func) means the
// service does not run, and its metrics are left out.
type Sources struct {
	TFTP   func() (tftp.Stats, bool)
	DHCP   func() (dhcp.Stats, bool)
	Syslog func() (syslog.Stats, bool)
	Events func() (store.WriterStats, bool)
	// Phones counts the phones by their fleet state (fleet.Row.State).
	// It is the one expensive source: a scrape calls it only when the
	// last call ended PhonesEvery (0: 30s) ago or more, one call at a
	// time, and waits for it at most 2s, showing the last counts when it
	// takes longer.
	Phones      func(context.Context) (map[string]int, error)
	PhonesEvery time.Duration
	Log         *slog.Logger // nil: discard
}

// Metrics is a private registry of phoneboot's metrics.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler
	src     Sources
	phones  *phoneCounts // nil without Sources.Phones

	// What Observe counts: the events no service counts itself.
	httpTransfers [len(outcomes)]atomic.Uint64
	httpBytes     atomic.Uint64
	decisions     [len(decisionKinds)]atomic.Uint64
}

// New returns the metrics of src, with the Go runtime's (go_*) and the
// process's (process_*).
func New(src Sources) *Metrics {
	if src.Log == nil {
		src.Log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), src: src}
	if src.Phones != nil {
		m.phones = newPhoneCounts(src.Phones, src.PhonesEvery, phonesWait, src.Log)
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collector{m})
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(src.Log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		// Each scrape reads every service (and may count the phones):
		// a few at a time is plenty for Prometheus and a curl.
		MaxRequestsInFlight: 4,
	})
	return m
}

// phonesWait is how long a scrape waits for the phones to be counted.
const phonesWait = 2 * time.Second

// Observe counts one recorded event. It must not block: it is called on
// the path of every transfer, so it only adds to counters.
func (m *Metrics) Observe(ev event.Event) {
	switch ev.Source {
	case event.HTTP:
		// TFTP transfers are counted by the TFTP server itself; the HTTP
		// service's come here.
		if ev.Kind == event.Request {
			m.httpTransfers[outcomeIndex(ev.Outcome)].Add(1)
			if ev.Bytes > 0 {
				m.httpBytes.Add(uint64(ev.Bytes))
			}
		}
	case event.Provision:
		m.decisions[decisionIndex(ev.Kind)].Add(1)
	}
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry is the registry behind Handler (for tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// outcomes are the label values of a transfer's outcome: the event
// vocabulary's (TFTP's are the same words).
var outcomes = [...]event.Outcome{event.OK, event.NotFound, event.Denied, event.Refused, event.BadRequest,
	event.Timeout, event.Aborted, event.Probe, event.Failed, event.Shutdown, event.Partial}

// outcomeIndex is o's place in outcomes; an unknown one counts as failed.
func outcomeIndex(o event.Outcome) int {
	for i, x := range outcomes {
		if x == o {
			return i
		}
	}
	return failedIndex
}

const failedIndex = 8 // event.Failed in outcomes; TestOutcomes checks it

// decisionKinds are the kinds of provision's events, the label values of
// phoneboot_provision_decisions_total; "other" (last) counts a kind added
// to provision but not here yet.
var decisionKinds = [...]event.Kind{event.AutoProvisioned, event.LoopBreaker, event.ConfigLoop, event.Load,
	event.Upgrade, event.UpgradeBlocked, event.Foreign, "other"}

// decisionIndex is k's place in decisionKinds.
func decisionIndex(k event.Kind) int {
	for i, x := range decisionKinds[:len(decisionKinds)-1] {
		if x == k {
			return i
		}
	}
	return len(decisionKinds) - 1
}
