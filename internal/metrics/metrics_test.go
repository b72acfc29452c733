package metrics

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"phoneboot/internal/dhcp"
	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/store"
	"phoneboot/internal/syslog"
	"phoneboot/internal/tftp"
	"phoneboot/internal/track"
)

// compare checks the families named against want (text format, HELP and
// TYPE lines included).
func compare(t *testing.T, m *Metrics, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestObserve(t *testing.T) {
	m := New(Sources{})
	for _, ev := range []event.Event{
		{Source: event.HTTP, Kind: event.Request, Outcome: event.OK, Bytes: 1000},
		{Source: event.HTTP, Kind: event.Request, Outcome: event.OK, Bytes: 24},
		{Source: event.HTTP, Kind: event.Request, Outcome: event.NotFound},
		{Source: event.HTTP, Kind: event.Request, Outcome: "made-up"}, // counts as failed
		{Source: event.Provision, Kind: event.Upgrade},
		{Source: event.Provision, Kind: event.Upgrade},
		{Source: event.Provision, Kind: event.LoopBreaker},
		{Source: event.Provision, Kind: "new-kind"},                                 // other
		{Source: event.TFTP, Kind: event.Request, Outcome: event.OK, Bytes: 5},      // the TFTP server counts these
		{Source: event.DHCP, Kind: event.DHCPRequest},                               // not a file request
		{Source: event.Syslog, Kind: event.SyslogLine, Detail: "%PHONE-3-BOOT ..."}, // not counted
	} {
		m.Observe(ev)
	}
	compare(t, m, `
# HELP phoneboot_files_sent_bytes_total File bytes sent to phones (for TFTP: acknowledged), counted when a transfer ends.
# TYPE phoneboot_files_sent_bytes_total counter
phoneboot_files_sent_bytes_total{protocol="http"} 1024
# HELP phoneboot_provision_decisions_total Decisions provision took about phones, by kind.
# TYPE phoneboot_provision_decisions_total counter
phoneboot_provision_decisions_total{kind="auto-provisioned"} 0
phoneboot_provision_decisions_total{kind="config-loop"} 0
phoneboot_provision_decisions_total{kind="foreign"} 0
phoneboot_provision_decisions_total{kind="load"} 0
phoneboot_provision_decisions_total{kind="loop-breaker"} 1
phoneboot_provision_decisions_total{kind="other"} 1
phoneboot_provision_decisions_total{kind="upgrade"} 2
phoneboot_provision_decisions_total{kind="upgrade-blocked"} 0
`, "phoneboot_files_sent_bytes_total", "phoneboot_provision_decisions_total")
	got := transfers(t, m)
	want := map[string]float64{"http/ok": 2, "http/not-found": 1, "http/failed": 1}
	for _, o := range outcomes {
		k := "http/" + string(o)
		if got[k] != want[k] {
			t.Errorf("%s = %v, want %v", k, got[k], want[k])
		}
	}
	if len(got) != len(outcomes) {
		t.Errorf("transfers %v: want one series per outcome, http only (no TFTP source)", got)
	}
}

// transfers is phoneboot_files_transfers_total by "protocol/outcome".
func transfers(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "phoneboot_files_transfers_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range s.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[l["protocol"]+"/"+l["outcome"]] = s.GetCounter().GetValue()
		}
	}
	return out
}

func TestTFTP(t *testing.T) {
	st := tftp.Stats{Reads: map[tftp.Outcome]uint64{tftp.OutcomeOK: 7, tftp.OutcomeTimeout: 2},
		Writes:    map[tftp.Outcome]uint64{tftp.OutcomeOK: 1, tftp.OutcomeDenied: 3},
		BytesSent: 1 << 20, BytesReceived: 512, Retransmits: 9, RateLimited: 4, Active: 3}
	m := New(Sources{TFTP: func() (tftp.Stats, bool) { return st, true }})
	compare(t, m, `
# HELP phoneboot_files_sent_bytes_total File bytes sent to phones (for TFTP: acknowledged), counted when a transfer ends.
# TYPE phoneboot_files_sent_bytes_total counter
phoneboot_files_sent_bytes_total{protocol="http"} 0
phoneboot_files_sent_bytes_total{protocol="tftp"} 1.048576e+06
# HELP phoneboot_tftp_active_transfers TFTP transfers in progress.
# TYPE phoneboot_tftp_active_transfers gauge
phoneboot_tftp_active_transfers 3
# HELP phoneboot_tftp_received_bytes_total Bytes received by TFTP uploads.
# TYPE phoneboot_tftp_received_bytes_total counter
phoneboot_tftp_received_bytes_total 512
# HELP phoneboot_tftp_retransmits_total TFTP packets sent again after a timeout.
# TYPE phoneboot_tftp_retransmits_total counter
phoneboot_tftp_retransmits_total 9
# HELP phoneboot_ratelimit_refused_total Requests refused by a per-source (TFTP, syslog) or per-MAC (DHCP) rate limit.
# TYPE phoneboot_ratelimit_refused_total counter
phoneboot_ratelimit_refused_total{service="tftp"} 4
`, "phoneboot_files_sent_bytes_total", "phoneboot_tftp_active_transfers", "phoneboot_tftp_received_bytes_total",
		"phoneboot_tftp_retransmits_total", "phoneboot_ratelimit_refused_total")
	got := transfers(t, m)
	if got["tftp/ok"] != 7 || got["tftp/timeout"] != 2 || got["tftp/denied"] != 0 || len(got) != 2*len(outcomes) {
		t.Errorf("transfers = %v", got)
	}
	if n := testutil.CollectAndCount(collector{m}, "phoneboot_tftp_uploads_total"); n != len(outcomes) {
		t.Errorf("%d upload series, want one per outcome", n)
	}
}

func TestDHCP(t *testing.T) {
	st := dhcp.Stats{Received: 100, Malformed: 1, Ignored: 2, RateLimited: 3, Discovers: 40, Requests: 30, Informs: 1,
		Releases: 2, Declines: 1, Offers: 38, Acks: 29, Naks: 4, Exhausted: 2, Throttled: 5, StoreErrors: 1, SendErrors: 1,
		Leased: 25, Offered: 3, Declined: 1, Pool: 100}
	m := New(Sources{DHCP: func() (dhcp.Stats, bool) { return st, true }})
	compare(t, m, `
# HELP phoneboot_dhcp_received_packets_total Datagrams received by the DHCP server.
# TYPE phoneboot_dhcp_received_packets_total counter
phoneboot_dhcp_received_packets_total 100
# HELP phoneboot_dhcp_messages_total DHCP client messages that passed the checks, by type.
# TYPE phoneboot_dhcp_messages_total counter
phoneboot_dhcp_messages_total{type="decline"} 1
phoneboot_dhcp_messages_total{type="discover"} 40
phoneboot_dhcp_messages_total{type="inform"} 1
phoneboot_dhcp_messages_total{type="release"} 2
phoneboot_dhcp_messages_total{type="request"} 30
# HELP phoneboot_dhcp_replies_total DHCP replies sent, by type.
# TYPE phoneboot_dhcp_replies_total counter
phoneboot_dhcp_replies_total{type="ack"} 29
phoneboot_dhcp_replies_total{type="nak"} 4
phoneboot_dhcp_replies_total{type="offer"} 38
# HELP phoneboot_dhcp_dropped_total DHCP messages not answered as asked, by reason (rate-limited ones are in phoneboot_ratelimit_refused_total).
# TYPE phoneboot_dhcp_dropped_total counter
phoneboot_dhcp_dropped_total{reason="exhausted"} 2
phoneboot_dhcp_dropped_total{reason="ignored"} 2
phoneboot_dhcp_dropped_total{reason="malformed"} 1
phoneboot_dhcp_dropped_total{reason="send-error"} 1
phoneboot_dhcp_dropped_total{reason="store-error"} 1
phoneboot_dhcp_dropped_total{reason="throttled"} 5
# HELP phoneboot_dhcp_leases_active DHCP leases running now.
# TYPE phoneboot_dhcp_leases_active gauge
phoneboot_dhcp_leases_active 25
# HELP phoneboot_dhcp_offers_held Addresses offered and held for the client, not leased yet.
# TYPE phoneboot_dhcp_offers_held gauge
phoneboot_dhcp_offers_held 3
# HELP phoneboot_dhcp_declined_addresses Addresses a client declined (in use by someone else), held out of the pool.
# TYPE phoneboot_dhcp_declined_addresses gauge
phoneboot_dhcp_declined_addresses 1
# HELP phoneboot_dhcp_pool_addresses Addresses in the DHCP pool.
# TYPE phoneboot_dhcp_pool_addresses gauge
phoneboot_dhcp_pool_addresses 100
# HELP phoneboot_ratelimit_refused_total Requests refused by a per-source (TFTP, syslog) or per-MAC (DHCP) rate limit.
# TYPE phoneboot_ratelimit_refused_total counter
phoneboot_ratelimit_refused_total{service="dhcp"} 3
`, "phoneboot_dhcp_received_packets_total", "phoneboot_dhcp_messages_total", "phoneboot_dhcp_replies_total",
		"phoneboot_dhcp_dropped_total", "phoneboot_dhcp_leases_active", "phoneboot_dhcp_offers_held",
		"phoneboot_dhcp_declined_addresses", "phoneboot_dhcp_pool_addresses", "phoneboot_ratelimit_refused_total")
}

func TestSyslogAndEvents(t *testing.T) {
	m := New(Sources{
		Syslog: func() (syslog.Stats, bool) {
			return syslog.Stats{Received: 20, Parsed: 12, Unparsed: 3, Dropped: 5, RateLimited: 4}, true
		},
		Events: func() (store.WriterStats, bool) {
			return store.WriterStats{Written: 1000, Dropped: 2, Limited: 30, Lost: 1, Outage: 7, Down: true}, true
		},
	})
	compare(t, m, `
# HELP phoneboot_syslog_datagrams_total Datagrams received by the syslog receiver.
# TYPE phoneboot_syslog_datagrams_total counter
phoneboot_syslog_datagrams_total 20
# HELP phoneboot_syslog_messages_total Syslog messages accepted, by format (parsed: RFC 5424 or 3164; raw: kept as text).
# TYPE phoneboot_syslog_messages_total counter
phoneboot_syslog_messages_total{format="parsed"} 12
phoneboot_syslog_messages_total{format="raw"} 3
# HELP phoneboot_syslog_invalid_total Syslog datagrams dropped as empty or binary.
# TYPE phoneboot_syslog_invalid_total counter
phoneboot_syslog_invalid_total 1
# HELP phoneboot_ratelimit_refused_total Requests refused by a per-source (TFTP, syslog) or per-MAC (DHCP) rate limit.
# TYPE phoneboot_ratelimit_refused_total counter
phoneboot_ratelimit_refused_total{service="syslog"} 4
# HELP phoneboot_events_written_total Events stored in the database.
# TYPE phoneboot_events_written_total counter
phoneboot_events_written_total 1000
# HELP phoneboot_events_dropped_total Events not stored, by reason (store-down: no room left in the buffer while the database could not be reached).
# TYPE phoneboot_events_dropped_total counter
phoneboot_events_dropped_total{reason="queue-full"} 2
phoneboot_events_dropped_total{reason="rate-limit"} 30
phoneboot_events_dropped_total{reason="store-error"} 1
phoneboot_events_dropped_total{reason="store-down"} 7
# HELP phoneboot_store_up 1 while the database answers, 0 while events wait in memory for it (docs/store.md).
# TYPE phoneboot_store_up gauge
phoneboot_store_up 0
`, "phoneboot_syslog_datagrams_total", "phoneboot_syslog_messages_total", "phoneboot_syslog_invalid_total",
		"phoneboot_ratelimit_refused_total", "phoneboot_events_written_total", "phoneboot_events_dropped_total",
		"phoneboot_store_up")
}

// A service that does not run has no metrics (rather than zeros that say
// it runs and is idle).
func TestServicesNotRunning(t *testing.T) {
	off := Sources{
		TFTP:   func() (tftp.Stats, bool) { return tftp.Stats{}, false },
		DHCP:   func() (dhcp.Stats, bool) { return dhcp.Stats{}, false },
		Syslog: func() (syslog.Stats, bool) { return syslog.Stats{}, false },
		Events: func() (store.WriterStats, bool) { return store.WriterStats{}, false },
	}
	for _, src := range []Sources{{}, off} {
		m := New(src)
		for _, name := range []string{"phoneboot_tftp_active_transfers", "phoneboot_dhcp_leases_active",
			"phoneboot_syslog_datagrams_total", "phoneboot_events_written_total", "phoneboot_ratelimit_refused_total",
			"phoneboot_phones"} {
			if n, err := testutil.GatherAndCount(m.Registry(), name); err != nil || n != 0 {
				t.Errorf("%s: %d series (%v), want none", name, n, err)
			}
		}
	}
}

func TestPhones(t *testing.T) {
	var calls atomic.Int32
	m := New(Sources{PhonesEvery: time.Hour, Phones: func(context.Context) (map[string]int, error) {
		calls.Add(1)
		return map[string]int{track.PhaseUpToDate: 9000, track.PhaseUpgrade: 40, track.PhaseStuck: 2,
			fleet.NeverSeen: 7, "a state track has not got yet": 1}, nil
	}})
	want := `
# HELP phoneboot_phones Phones by state (inventory and seen), as ` + "`phoneboot phones`" + ` shows them, when last counted (they are counted every 30s at most).
# TYPE phoneboot_phones gauge
phoneboot_phones{state="booting"} 0
phoneboot_phones{state="fetching-config"} 0
phoneboot_phones{state="never-seen"} 7
phoneboot_phones{state="other"} 1
phoneboot_phones{state="quiet"} 0
phoneboot_phones{state="rebooting"} 0
phoneboot_phones{state="stuck"} 2
phoneboot_phones{state="unknown"} 0
phoneboot_phones{state="up-to-date"} 9000
phoneboot_phones{state="upgrading"} 40
`
	before := time.Now()
	compare(t, m, want, "phoneboot_phones")
	compare(t, m, want, "phoneboot_phones")
	if n := calls.Load(); n != 1 {
		t.Errorf("counted %d times in two scrapes, want once an hour", n)
	}
	at := value(t, m, "phoneboot_phones_counted_timestamp_seconds")
	if at < float64(before.Unix()) || at > float64(time.Now().Unix()+1) {
		t.Errorf("counted at %v, want between %v and now", at, before.Unix())
	}
}

// value is the value of the one series of family name.
func value(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			s := f.GetMetric()[0]
			return s.GetGauge().GetValue() + s.GetCounter().GetValue()
		}
	}
	t.Fatalf("no single series of %s", name)
	return 0
}

// A slow count does not hold a scrape for longer than the wait: it shows
// the counts it has, and the next scrape gets the new ones.
func TestPhonesSlowCount(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	p := newPhoneCounts(func(ctx context.Context) (map[string]int, error) {
		if calls.Add(1) > 1 {
			<-release
		}
		return map[string]int{track.PhaseStuck: int(calls.Load())}, nil
	}, time.Nanosecond, 50*time.Millisecond, nil)
	counts, _, ok := p.get()
	if !ok || counts[stateIndex(track.PhaseStuck)] != 1 {
		t.Fatalf("first count: %v %v", counts, ok)
	}
	time.Sleep(time.Millisecond)
	start := time.Now()
	counts, _, ok = p.get() // starts the second count, which hangs
	if d := time.Since(start); d > time.Second || !ok || counts[stateIndex(track.PhaseStuck)] != 1 {
		t.Fatalf("scrape during a slow count took %v and got %v %v; want the old counts after ~50ms", d, counts, ok)
	}
	p.get() // another scrape does not start another count
	if n := calls.Load(); n != 2 {
		t.Errorf("%d counts, want one at a time", n)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if counts, _, _ = p.get(); counts[stateIndex(track.PhaseStuck)] == 2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the second count never showed: %v", counts)
}

// A count that fails keeps nothing and says nothing wrong: no phones
// until one succeeds.
func TestPhonesCountFails(t *testing.T) {
	m := New(Sources{Phones: func(context.Context) (map[string]int, error) { return nil, errors.New("database is locked") }})
	for _, name := range []string{"phoneboot_phones", "phoneboot_phones_counted_timestamp_seconds"} {
		if n, err := testutil.GatherAndCount(m.Registry(), name); err != nil || n != 0 {
			t.Errorf("%s: %d series (%v), want none", name, n, err)
		}
	}
}

// The names, types, units and help of every family pass promlint, the
// linter of Prometheus' conventions.
func TestLint(t *testing.T) {
	m := New(everySource())
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "phoneboot_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

func everySource() Sources {
	return Sources{
		TFTP:   func() (tftp.Stats, bool) { return tftp.Stats{}, true },
		DHCP:   func() (dhcp.Stats, bool) { return dhcp.Stats{}, true },
		Syslog: func() (syslog.Stats, bool) { return syslog.Stats{}, true },
		Events: func() (store.WriterStats, bool) { return store.WriterStats{}, true },
		Phones: func(context.Context) (map[string]int, error) { return map[string]int{}, nil },
	}
}

// The handler answers the text exposition format, with phoneboot's
// families and the Go runtime's and the process's.
func TestHandler(t *testing.T) {
	m := New(everySource())
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("not the text format: %v", err)
	}
	var ours int
	for name := range fams {
		if strings.HasPrefix(name, "phoneboot_") {
			ours++
		}
	}
	if ours != len(allDescs) {
		t.Errorf("%d phoneboot families, want %d (every one described)", ours, len(allDescs))
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

func TestOutcomes(t *testing.T) {
	if outcomes[failedIndex] != event.Failed {
		t.Errorf("failedIndex %d is %q", failedIndex, outcomes[failedIndex])
	}
}

func BenchmarkObserve(b *testing.B) {
	m := New(Sources{})
	evs := []event.Event{
		{Source: event.TFTP, Kind: event.Request, Outcome: event.OK, Bytes: 1 << 20},
		{Source: event.HTTP, Kind: event.Request, Outcome: event.NotFound},
		{Source: event.Provision, Kind: event.UpgradeBlocked},
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Observe(evs[i%len(evs)])
			i++
		}
	})
}
