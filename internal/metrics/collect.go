package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"phoneboot/internal/event"
	"phoneboot/internal/phonetftp"
	"phoneboot/internal/tftp"
)

// The metrics, by family. docs/metrics.md says the same for admins; keep
// them together.
var (
	filesTransfers = desc("files_transfers_total", "File requests from phones (TFTP reads, HTTP GET/HEAD), by how they ended.", "protocol", "outcome")
	filesSent      = desc("files_sent_bytes_total", "File bytes sent to phones (for TFTP: acknowledged), counted when a transfer ends.", "protocol")

	tftpUploads     = desc("tftp_uploads_total", "TFTP write requests, by how they ended.", "outcome")
	tftpReceived    = desc("tftp_received_bytes_total", "Bytes received by TFTP uploads.")
	tftpRetransmits = desc("tftp_retransmits_total", "TFTP packets sent again after a timeout.")
	tftpActive      = desc("tftp_active_transfers", "TFTP transfers in progress.")

	rateRefused = desc("ratelimit_refused_total", "Requests refused by a per-source (TFTP, syslog) or per-MAC (DHCP) rate limit.", "service")

	dhcpPackets  = desc("dhcp_received_packets_total", "Datagrams received by the DHCP server.")
	dhcpMessages = desc("dhcp_messages_total", "DHCP client messages that passed the checks, by type.", "type")
	dhcpReplies  = desc("dhcp_replies_total", "DHCP replies sent, by type.", "type")
	dhcpDropped  = desc("dhcp_dropped_total", "DHCP messages not answered as asked, by reason (rate-limited ones are in phoneboot_ratelimit_refused_total).", "reason")
	dhcpLeases   = desc("dhcp_leases_active", "DHCP leases running now.")
	dhcpOffered  = desc("dhcp_offers_held", "Addresses offered and held for the client, not leased yet.")
	dhcpDeclined = desc("dhcp_declined_addresses", "Addresses a client declined (in use by someone else), held out of the pool.")
	dhcpPool     = desc("dhcp_pool_addresses", "Addresses in the DHCP pool.")

	syslogDatagrams = desc("syslog_datagrams_total", "Datagrams received by the syslog receiver.")
	syslogMessages  = desc("syslog_messages_total", "Syslog messages accepted, by format (parsed: RFC 5424 or 3164; raw: kept as text).", "format")
	syslogInvalid   = desc("syslog_invalid_total", "Syslog datagrams dropped as empty or binary.")

	eventsWritten = desc("events_written_total", "Events stored in the database.")
	eventsDropped = desc("events_dropped_total", "Events not stored, by reason (store-down: no room left in the buffer while the database could not be reached).", "reason")
	storeUp       = desc("store_up", "1 while the database answers, 0 while events wait in memory for it (docs/store.md).")

	provisionDecisions = desc("provision_decisions_total", "Decisions provision took about phones, by kind.", "kind")

	phonesByState = desc("phones", "Phones by state (inventory and seen), as `phoneboot phones` shows them, when last counted (they are counted every 30s at most).", "state")
	phonesCounted = desc("phones_counted_timestamp_seconds", "When the phones were last counted by state (Unix time).")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("phoneboot_"+name, help, labels, nil)
}

var allDescs = []*prometheus.Desc{filesTransfers, filesSent, tftpUploads, tftpReceived, tftpRetransmits, tftpActive,
	rateRefused, dhcpPackets, dhcpMessages, dhcpReplies, dhcpDropped, dhcpLeases, dhcpOffered, dhcpDeclined, dhcpPool,
	syslogDatagrams, syslogMessages, syslogInvalid, eventsWritten, eventsDropped, storeUp, provisionDecisions,
	phonesByState, phonesCounted}

// collector reads every source once per scrape.
type collector struct{ m *Metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m, src := c.m, c.m.src
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}

	// Observe's counts.
	for i, o := range outcomes {
		counter(filesTransfers, m.httpTransfers[i].Load(), "http", string(o))
	}
	counter(filesSent, m.httpBytes.Load(), "http")
	for i, k := range decisionKinds {
		counter(provisionDecisions, m.decisions[i].Load(), string(k))
	}

	if st, ok := call(src.TFTP); ok {
		reads, writes := byOutcome(st.Reads), byOutcome(st.Writes)
		for i, o := range outcomes {
			counter(filesTransfers, reads[i], "tftp", string(o))
			counter(tftpUploads, writes[i], string(o))
		}
		counter(filesSent, st.BytesSent, "tftp")
		counter(tftpReceived, st.BytesReceived)
		counter(tftpRetransmits, st.Retransmits)
		gauge(tftpActive, st.Active)
		counter(rateRefused, st.RateLimited, "tftp")
	}
	if st, ok := call(src.DHCP); ok {
		counter(dhcpPackets, st.Received)
		for typ, v := range map[event.Kind]uint64{event.DHCPDiscover: st.Discovers, event.DHCPRequest: st.Requests,
			event.DHCPInform: st.Informs, event.DHCPRelease: st.Releases, event.DHCPDecline: st.Declines} {
			counter(dhcpMessages, v, string(typ))
		}
		for typ, v := range map[event.Kind]uint64{event.DHCPOffer: st.Offers, event.DHCPAck: st.Acks, event.DHCPNak: st.Naks} {
			counter(dhcpReplies, v, string(typ))
		}
		for reason, v := range map[string]uint64{"malformed": st.Malformed, "ignored": st.Ignored, "exhausted": st.Exhausted,
			"throttled": st.Throttled, "store-error": st.StoreErrors, "send-error": st.SendErrors} {
			counter(dhcpDropped, v, reason)
		}
		gauge(dhcpLeases, st.Leased)
		gauge(dhcpOffered, st.Offered)
		gauge(dhcpDeclined, st.Declined)
		gauge(dhcpPool, st.Pool)
		counter(rateRefused, st.RateLimited, "dhcp")
	}
	if st, ok := call(src.Syslog); ok {
		counter(syslogDatagrams, st.Received)
		counter(syslogMessages, st.Parsed, "parsed")
		counter(syslogMessages, st.Unparsed, "raw")
		counter(syslogInvalid, st.Dropped-min(st.RateLimited, st.Dropped))
		counter(rateRefused, st.RateLimited, "syslog")
	}
	if st, ok := call(src.Events); ok {
		counter(eventsWritten, st.Written)
		counter(eventsDropped, st.Dropped, "queue-full")
		counter(eventsDropped, st.Limited, "rate-limit")
		counter(eventsDropped, st.Lost, "store-error")
		counter(eventsDropped, st.Outage, "store-down")
		up := 1
		if st.Down {
			up = 0
		}
		gauge(storeUp, up)
	}
	if m.phones != nil {
		if counts, at, ok := m.phones.get(); ok {
			for i, s := range phoneStates {
				gauge(phonesByState, counts[i], s.label)
			}
			ch <- prometheus.MustNewConstMetric(phonesCounted, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
		}
	}
}

// byOutcome puts TFTP's counts by outcome in the places of outcomes.
func byOutcome(counts map[tftp.Outcome]uint64) (out [len(outcomes)]uint64) {
	for o, v := range counts {
		out[outcomeIndex(phonetftp.Outcome(o))] += v
	}
	return out
}

// call calls f, if there is one.
func call[T any](f func() (T, bool)) (T, bool) {
	if f == nil {
		var zero T
		return zero, false
	}
	return f()
}
