package tftp_test

import (
	"testing"
	"time"

	"phoneboot/internal/tftp"
)

// Stats counts every request once, when it ends, by its outcome, with the
// bytes acknowledged, the retransmissions and the rate limit's refusals.
func TestStats(t *testing.T) {
	srv := &tftp.Server{RatePerSource: 1, RateBurst: 1, Timeout: 50 * time.Millisecond, MinTimeout: 10 * time.Millisecond}
	addr, log := startServer(t, srv, map[string][]byte{"f": []byte("hello")})

	c := newRawClient(t, "127.0.0.2", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	c.mustRecv()
	c.mustRecv() // the block again, after the timeout
	c.send(tftp.AppendAck(nil, 1))
	log.wait(t)
	again := newRawClient(t, "127.0.0.2", addr) // over the limit of 1 a second
	again.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	again.mustRecv()
	log.wait(t)
	missing := newRawClient(t, "127.0.0.3", addr)
	missing.request(tftp.AppendRequest(nil, tftp.OpRRQ, "nothere", tftp.ModeOctet))
	missing.mustRecv()
	log.wait(t)

	st := srv.Stats()
	if st.Reads[tftp.OutcomeOK] != 1 || st.Reads[tftp.OutcomeRefused] != 1 || st.Reads[tftp.OutcomeNotFound] != 1 {
		t.Errorf("reads = %v, want one ok, one refused, one not-found", st.Reads)
	}
	if len(st.Reads) != 10 || len(st.Writes) != 10 || st.Writes[tftp.OutcomeOK] != 0 {
		t.Errorf("every outcome should be there, at 0 when none: reads %v, writes %v", st.Reads, st.Writes)
	}
	if st.BytesSent != 5 || st.BytesReceived != 0 || st.Retransmits < 1 || st.RateLimited != 1 || st.Active != 0 {
		t.Errorf("stats = %+v, want 5 bytes sent, retransmits, 1 rate-limited, none active", st)
	}
}
