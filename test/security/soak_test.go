package security

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/testutil"
	"phoneboot/internal/tftp"
)

// TestParallelAbortSoak replays atftpd 0.7.1 CVE-2019-11366 (a race on the
// thread list crashed the daemon when many transfers started and ended at
// once, peers.md §5 row 5): 500 read requests from 500 ports on 10 source
// addresses, 25 at a time, each abandoned in one of five ways. Every
// request must end in exactly one event, the server must drain to zero
// transfers, and then serve normally.
func TestParallelAbortSoak(t *testing.T) {
	f := start(t, setup{server: func(s *tftp.Server) {
		// Abandoned transfers give up within ~1s so the soak drains fast.
		s.Timeout, s.MinTimeout, s.MaxTimeout, s.Retries = 100*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond, 2
	}})
	const workers, each = 25, 20
	var wg sync.WaitGroup
	problems := make(chan string, workers*each)
	// Sockets stay open to the end: a closed port could be handed out
	// again while the server still runs a transfer for it, and the new
	// RRQ would rightly be ignored as a duplicate.
	var mu sync.Mutex
	var conns []*net.UDPConn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for w := range workers {
		wg.Go(func() {
			ip := netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + w%10)})
			for i := range each {
				c, msg := abortOne(f.addr, ip, (w+i)%5, i%2 == 0)
				if c != nil {
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
				if msg != "" {
					problems <- msg
				}
			}
		})
	}
	wg.Wait()
	close(problems)
	for msg := range problems {
		t.Error(msg)
	}
	requests := map[netip.AddrPort]int{} // events per request, by its source
	for _, c := range conns {
		requests[c.LocalAddr().(*net.UDPAddr).AddrPort()] = 0
	}
	// Wait until every request has had its event.
	seen, counted := 0, 0 // requests with an event; events looked at
	count := func(evs []tftp.Event) {
		for _, ev := range evs[counted:] {
			if n, ok := requests[ev.Remote]; ok {
				if n == 0 {
					seen++
				}
				requests[ev.Remote] = n + 1
			}
		}
		counted = len(evs)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs, changed := f.events.Snapshot()
		if count(evs); seen == len(requests) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests have an event after 15s (%d transfers still running)", seen, len(requests), f.srv.Active())
		}
		select {
		case <-changed:
		case <-time.After(time.Second):
		}
	}
	// No second event, deterministically: the listener reads requests in
	// order, so once it has served a request sent after all of the soak's
	// (healthy), it has seen every one of them, duplicates included; once
	// no transfer runs, every transfer it started has had its event.
	f.healthy(t)
	f.waitIdle(t, 5*time.Second)
	evs, _ := f.events.Snapshot()
	count(evs)
	for from, n := range requests {
		if n != 1 {
			t.Errorf("request from %v: %d events, want exactly one", from, n)
		}
	}
	if want := len(requests) + 1; len(evs) != want {
		t.Errorf("%d events for %d requests and the health check, want exactly one each", len(evs), want)
	}
	if len(requests) != workers*each {
		t.Errorf("%d requests sent, want %d", len(requests), workers*each)
	}
	f.healthy(t)
}

// abortOne sends one RRQ from a fresh port and abandons it in the given
// way. It runs on many goroutines, so it reports problems as text instead
// of failing the test. The caller closes the socket.
func abortOne(server netip.AddrPort, ip netip.Addr, how int, withOptions bool) (*net.UDPConn, string) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, fmt.Sprintf("listen on %v: %v", ip, err)
	}
	return c, abandon(c, server, how, withOptions)
}

func abandon(c *net.UDPConn, server netip.AddrPort, how int, withOptions bool) string {
	var o []tftp.Option
	if withOptions {
		o = opts("blksize", "1024", "tsize", "0", "windowsize", "4")
	}
	req := tftp.AppendRequest(nil, tftp.OpRRQ, "blocks.bin", tftp.ModeOctet, o...)
	if _, err := c.WriteToUDPAddrPort(req, server); err != nil {
		return err.Error()
	}
	if how == 0 {
		return "" // vanish at once: the server times out alone
	}
	if how == 2 {
		// A duplicate, ignored by the server. Only in the case where the
		// client then goes silent: had it aborted at once, the transfer
		// could end before the listener reads the duplicate (under load),
		// and a request after the end is rightly a new transfer.
		c.WriteToUDPAddrPort(req, server)
	}
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, tid, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return fmt.Sprintf("no answer to an RRQ from %v: %v", c.LocalAddr(), err)
	}
	if op, _ := tftp.PacketOpcode(buf[:n]); op != tftp.OpDATA && op != tftp.OpOACK {
		return fmt.Sprintf("RRQ from %v answered with %s", c.LocalAddr(), describe(buf[:n]))
	}
	switch how {
	case 1: // abort politely
		c.WriteToUDPAddrPort(tftp.AppendError(nil, tftp.ErrUndefined, "abort"), tid)
	case 2: // take one step, then vanish
		blk := uint16(0)
		if op, _ := tftp.PacketOpcode(buf[:n]); op == tftp.OpDATA {
			blk = 1
		}
		c.WriteToUDPAddrPort(tftp.AppendAck(nil, blk), tid)
		c.SetReadDeadline(time.Now().Add(time.Second))
		c.ReadFromUDPAddrPort(buf)
	case 3: // the CVE-2019-11365 short ERROR
		c.WriteToUDPAddrPort([]byte{0, 5}, tid)
	case 4: // garbage to the transfer, then vanish
		c.WriteToUDPAddrPort([]byte{0, 9, 9}, tid)
	}
	return ""
}

// TestRatePerSource: TFTP reflection DDoS (Sieklik et al. 2016; Akamai
// advisory; peers.md §5 row 18) wants per-source-IP rate limits. Over the
// burst, a source gets ERROR 0 (not silence, so a phone learns why); other
// sources are unaffected.
func TestRatePerSource(t *testing.T) {
	f := start(t, setup{server: func(s *tftp.Server) { s.RatePerSource, s.RateBurst = 0.2, 3 }})
	flood := netip.MustParseAddr("127.0.0.5")
	for i := range 3 {
		p := newPeer(t, flood.String())
		if code, msg := p.askError(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "missing.txt", tftp.ModeOctet)); code != tftp.ErrFileNotFound {
			t.Fatalf("request %d within the burst: error %d %q, want 1", i+1, code, msg)
		}
	}
	p := newPeer(t, flood.String())
	code, msg := p.askError(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "ok.bin", tftp.ModeOctet))
	if code != tftp.ErrUndefined || !strings.Contains(msg, "too many") {
		t.Errorf("request over the burst: error %d %q, want 0 \"too many requests\"", code, msg)
	}
	f.healthy(t) // from 127.0.0.1: its own budget
}

// TestDualStackMappedPeers replays atftpd CVE-2020-6097 (TALOS-2020-1029:
// an assert() on an unexpected address family crashed the daemon): a
// dual-stack listener sees IPv4 clients as IPv4-mapped IPv6 addresses.
// Both families are served, answered from the right address, and the
// event shows the plain IPv4 address. The listener is on [::] because
// only a wildcard IPv6 socket receives IPv4 traffic as mapped addresses;
// the test sends only to 127.0.0.1 and ::1.
func TestDualStackMappedPeers(t *testing.T) {
	testutil.IPv6Loopback(t)
	f := start(t, setup{listen: "[::]:0", upload: false})
	port := f.addr.Port()
	for _, ip := range []string{"127.0.0.1", "::1"} {
		server := netip.AddrPortFrom(netip.MustParseAddr(ip), port)
		p := newPeer(t, ip)
		x := p.get(server, tftp.AppendRequest(nil, tftp.OpRRQ, "ok.bin", tftp.ModeOctet, opts("blksize", "1024")...), getOpts{})
		if x.errCode >= 0 || x.failure != "" || string(x.data) != string(f.ok) {
			t.Errorf("%s: error %d %q, %s, %d bytes", ip, x.errCode, x.errMsg, x.failure, len(x.data))
		}
		if x.tid.Addr() != server.Addr() {
			t.Errorf("%s: transfer answered from %v, want %v", ip, x.tid, server.Addr())
		}
		if ev := f.event(t, byPeer(p)); ev.Remote.Addr().Is4In6() || ev.Local != server.Addr() {
			t.Errorf("%s: event remote %v local %v, want plain addresses", ip, ev.Remote, ev.Local)
		}
		// Answers sent by the listener itself (refusals, garbage).
		if code, _ := p.askError(server, tftp.AppendRequest(nil, tftp.OpWRQ, "x", tftp.ModeOctet)); code != tftp.ErrAccessViolation {
			t.Errorf("%s: WRQ got error %d, want 2", ip, code)
		}
		if code, _ := p.askError(server, []byte{0, 9}); code != tftp.ErrIllegalOp {
			t.Errorf("%s: garbage got error %d, want 4", ip, code)
		}
		if code, _ := p.askError(server, tftp.AppendRequest(nil, tftp.OpRRQ, "missing", tftp.ModeOctet)); code != tftp.ErrFileNotFound {
			t.Errorf("%s: missing file got error %d, want 1", ip, code)
		}
	}
}
