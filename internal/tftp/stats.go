package tftp

import (
	"slices"
	"sync/atomic"
)

// outcomes are the outcomes Stats counts, in the order of stats' arrays.
var outcomes = [...]Outcome{OutcomeOK, OutcomeNotFound, OutcomeDenied, OutcomeRefused, OutcomeBadReq,
	OutcomeTimeout, OutcomeAborted, OutcomeProbe, OutcomeFailed, OutcomeShutdown}

// Stats are what the server counted since it started: every request, when
// it ended, by its outcome.
type Stats struct {
	Reads, Writes map[Outcome]uint64 // requests by outcome (read: RRQ, write: WRQ)
	BytesSent     uint64             // payload of reads acknowledged by the clients
	BytesReceived uint64             // payload of writes received
	Retransmits   uint64             // packets sent again after a timeout
	RateLimited   uint64             // requests refused by the per-source rate limit
	Active        int                // transfers in progress now
}

// stats are the server's counters; emit counts each request once.
type stats struct {
	reads, writes                            [len(outcomes)]atomic.Uint64
	sent, received, retransmits, rateLimited atomic.Uint64
}

// outcomeIndex is o's place in outcomes (an unknown one counts as failed).
func outcomeIndex(o Outcome) int {
	for i, x := range outcomes {
		if x == o {
			return i
		}
	}
	return failedIndex
}

var failedIndex = slices.Index(outcomes[:], OutcomeFailed)

func (c *stats) count(ev *Event) {
	i := outcomeIndex(ev.Outcome)
	if ev.Op == OpWRQ {
		c.writes[i].Add(1)
		c.received.Add(uint64(max(ev.Bytes, 0)))
	} else {
		c.reads[i].Add(1)
		c.sent.Add(uint64(max(ev.Bytes, 0)))
	}
	if ev.Retransmits > 0 {
		c.retransmits.Add(uint64(ev.Retransmits))
	}
}

// Stats returns the counters now.
func (s *Server) Stats() Stats {
	c := &s.stats
	out := Stats{Reads: map[Outcome]uint64{}, Writes: map[Outcome]uint64{},
		BytesSent: c.sent.Load(), BytesReceived: c.received.Load(), Retransmits: c.retransmits.Load(),
		RateLimited: c.rateLimited.Load(), Active: s.Active()}
	for i, o := range outcomes {
		out.Reads[o], out.Writes[o] = c.reads[i].Load(), c.writes[i].Load()
	}
	return out
}
