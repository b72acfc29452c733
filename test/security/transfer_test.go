package security

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"phoneboot/internal/tftp"
)

// fastRetransmit makes the server retransmit after 200 ms so that a test
// can tell "the server ignored my packet and carried on" from "the server
// ended the transfer" by listening for a few hundred milliseconds.
func fastRetransmit(s *tftp.Server) {
	s.Timeout, s.MinTimeout, s.MaxTimeout, s.Retries = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, 2
}

// TestErrorPacketsDuringTransfer replays atftpd 0.7.1 CVE-2019-11365 (an
// ERROR packet "that has a length of 3 or less" overflowed a strncpy) and
// TFTP Server SP 1.4 CVE-2008-2161 (overlong ERROR message), peers.md §5
// rows 4 and 15. The server must end the transfer (no more DATA, no ERROR
// in answer to an ERROR) and keep serving.
func TestErrorPacketsDuringTransfer(t *testing.T) {
	f := start(t, setup{upload: true, server: fastRetransmit})
	packets := map[string][]byte{
		"2 bytes":          {0, 5},
		"3 bytes":          {0, 5, 0},
		"4 bytes":          {0, 5, 0, 0},
		"no NUL":           {0, 5, 0, 0, 'X'},
		"code 65535":       {0, 5, 0xff, 0xff, 'x', 0},
		"60 KB message":    append(append([]byte{0, 5, 0, 0}, bytes.Repeat([]byte("A"), 60000)...), 0),
		"60 KB, no NUL":    append([]byte{0, 5, 0, 1}, bytes.Repeat([]byte("%s"), 30000)...),
		"embedded NULs":    {0, 5, 0, 2, 'a', 0, 'b', 0, 'c'},
		"binary message":   {0, 5, 0, 3, 0xff, 0xfe, 0x1b, '[', '2', 'J', 0},
		"trailing garbage": append([]byte{0, 5, 0, 0, 'e', 0}, bytes.Repeat([]byte{0xAA}, 1000)...),
	}
	// Every case is started first, then all are watched for silence in
	// one shared 700ms window: a server that ignored an ERROR would have
	// resent its last packet after 200ms.
	type watched struct {
		what   string
		p      *peer
		event  bool   // the transfer must end with outcome aborted
		upload string // the upload that must not be kept
	}
	var all []watched
	i := 0
	for name, pkt := range packets {
		// A read transfer after DATA 1.
		p := newPeer(t, "127.0.0.1")
		first, tid := p.startRead(f.addr, "blocks.bin")
		expectData(t, first, 1)
		p.send(tid, pkt)
		all = append(all, watched{what: "read/" + name, p: p, event: true})

		// A read transfer after its OACK.
		p = newPeer(t, "127.0.0.1")
		first, tid = p.startRead(f.addr, "blocks.bin", opts("blksize", "1024")...)
		if op, _ := tftp.PacketOpcode(first); op != tftp.OpOACK {
			t.Fatalf("got %s, want OACK", describe(first))
		}
		p.send(tid, pkt)
		all = append(all, watched{what: "oack/" + name, p: p, event: true})

		// A write transfer after block 1.
		up := fmt.Sprintf("up-%d.bin", i)
		i++
		p = newPeer(t, "127.0.0.1")
		b, tid := p.ask(f.addr, tftp.AppendRequest(nil, tftp.OpWRQ, up, tftp.ModeOctet))
		if n, err := tftp.ParseAck(b); err != nil || n != 0 {
			t.Fatalf("WRQ: got %s, want ACK 0", describe(b))
		}
		p.send(tid, tftp.AppendData(nil, 1, make([]byte, 512)))
		if n, err := tftp.ParseAck(p.expectFrom(tid, 5*time.Second)); err != nil || n != 1 {
			t.Fatalf("want ACK 1")
		}
		p.send(tid, pkt)
		all = append(all, watched{what: "write/" + name, p: p, event: true, upload: up})

		// The listening port: RFC 1350, an ERROR is never answered.
		p = newPeer(t, "127.0.0.1")
		p.send(f.addr, pkt)
		all = append(all, watched{what: "listener/" + name, p: p})
	}
	quiet := time.Now().Add(700 * time.Millisecond)
	for _, w := range all {
		if b, from, ok := w.p.recv(max(time.Until(quiet), time.Millisecond)); ok {
			t.Errorf("%s: got %s from %v after the client's ERROR, want nothing", w.what, describe(b), from)
		}
	}
	for _, w := range all {
		if !w.event {
			continue
		}
		if ev := f.event(t, byPeer(w.p)); ev.Outcome != tftp.OutcomeAborted {
			t.Errorf("%s: event outcome %q (%s), want aborted", w.what, ev.Outcome, ev.Error)
		}
		if w.upload != "" {
			if _, err := os.Lstat(filepath.Join(f.upload, w.upload)); err == nil {
				t.Errorf("%s: aborted upload %s was kept", w.what, w.upload)
			}
		}
	}
	assertEmptyDir(t, f.upload)
	f.healthy(t)
}

// TestSorcerersApprentice sends every ACK four times in a lock-step
// transfer: a server that answers each copy multiplies DATA packets
// (RFC 1123 §4.2.3.1; tftp-hpa 5.4 fixed its guard, "SAS guard disabled
// by a select() bug", peers.md §5 row 2). Each block must arrive once.
func TestSorcerersApprentice(t *testing.T) {
	f := start(t, setup{server: func(s *tftp.Server) {
		// No timer retransmissions at all during the test: every extra
		// DATA packet would then come from a duplicate ACK.
		s.Timeout, s.MinTimeout, s.MaxTimeout = 3*time.Second, 3*time.Second, 3*time.Second
	}})
	nblocks := len(f.blocks)/512 + 1
	t.Run("lock-step", func(t *testing.T) {
		p := newPeer(t, "127.0.0.1")
		x := p.get(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "blocks.bin", tftp.ModeOctet), getOpts{ackCopies: 3})
		if x.errCode >= 0 || x.failure != "" || !bytes.Equal(x.data, f.blocks) {
			t.Fatalf("transfer failed: error %d %q, %s, %d bytes", x.errCode, x.errMsg, x.failure, len(x.data))
		}
		p.silent(300*time.Millisecond, "after the last block")
		if len(x.blocks) != nblocks {
			t.Errorf("received %d DATA packets for %d blocks (%v): duplicate ACKs multiplied DATA", len(x.blocks), nblocks, x.blocks)
		}
		for i, n := range x.blocks {
			if int(n) != i+1 {
				t.Fatalf("DATA packets in order %v, want 1..%d once each", x.blocks, nblocks)
			}
		}
		if ev := f.event(t, byPeer(p)); ev.Outcome != tftp.OutcomeOK || ev.Retransmits != 0 {
			t.Errorf("event outcome %q retransmits %d, want ok and 0", ev.Outcome, ev.Retransmits)
		}
	})
	t.Run("ACK storm of old blocks", func(t *testing.T) {
		// Every old ACK (0..n-1) re-sent after each block: all are stale
		// and must be ignored in lock-step.
		p := newPeer(t, "127.0.0.1")
		first, tid := p.startRead(f.addr, "blocks.bin")
		got := expectData(t, first, 1)
		count := 1
		for n := uint16(1); ; n++ {
			for old := range n {
				p.send(tid, tftp.AppendAck(nil, old))
			}
			p.send(tid, tftp.AppendAck(nil, n))
			payload := expectData(t, p.expectFrom(tid, 5*time.Second), n+1)
			count++
			got = append(got, payload...)
			if len(payload) < 512 {
				p.send(tid, tftp.AppendAck(nil, n+1))
				break
			}
		}
		p.silent(300*time.Millisecond, "after the last block")
		if !bytes.Equal(got, f.blocks) || count != nblocks {
			t.Errorf("got %d bytes in %d DATA packets, want %d in %d", len(got), count, len(f.blocks), nblocks)
		}
	})
	t.Run("windowed", func(t *testing.T) {
		// RFC 7440 §4 makes a duplicate ACK a loss signal, so one resend
		// of the window per position is right; more is multiplication.
		p := newPeer(t, "127.0.0.1")
		x := p.get(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "blocks.bin", tftp.ModeOctet, opts("windowsize", "4")...), getOpts{ackCopies: 3})
		if x.errCode >= 0 || x.failure != "" || !bytes.Equal(x.data, f.blocks) {
			t.Fatalf("transfer failed: error %d %q, %s, %d bytes", x.errCode, x.errMsg, x.failure, len(x.data))
		}
		// Late copies of the last window still count.
		for range 2 * nblocks {
			b, _, ok := p.recv(300 * time.Millisecond)
			if !ok {
				break
			}
			if n, _, err := tftp.ParseData(b); err == nil {
				x.blocks = append(x.blocks, n)
			}
		}
		if len(x.blocks) > 2*nblocks+4 {
			t.Errorf("received %d DATA packets for %d blocks: more than one resend per window", len(x.blocks), nblocks)
		}
	})
	f.healthy(t)
}

// TestWrongPortGetsUnknownTID: packets from the right IP but the wrong
// port, or from another IP, get ERROR 5 and do not disturb the transfer
// (RFC 1350 §4: "the source of the incorrectly sent packet ... should be
// sent an error packet", peers.md extra list).
func TestWrongPortGetsUnknownTID(t *testing.T) {
	f := start(t, setup{})
	p := newPeer(t, "127.0.0.1")
	first, tid := p.startRead(f.addr, "blocks.bin")
	got := expectData(t, first, 1)

	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		for _, pkt := range [][]byte{tftp.AppendAck(nil, 1), tftp.AppendData(nil, 1, []byte("x")), tftp.AppendRequest(nil, tftp.OpRRQ, "ok.bin", tftp.ModeOctet), {0}, {}} {
			q := newPeer(t, ip)
			q.send(tid, pkt)
			b, from, ok := q.recv(3 * time.Second)
			if !ok {
				t.Fatalf("%s from %v: no answer, want ERROR 5", describe(pkt), q.addr())
			}
			if from != tid {
				t.Fatalf("answer came from %v, want the transfer's %v", from, tid)
			}
			if code, msg := checkError(t, b); code != tftp.ErrUnknownTID {
				t.Errorf("%s from %v: error %d %q, want 5", describe(pkt), q.addr(), code, msg)
			}
		}
		// An intruder's ERROR is not answered and does not end the transfer.
		q := newPeer(t, ip)
		q.send(tid, tftp.AppendError(nil, tftp.ErrUndefined, "go away"))
		q.silent(200*time.Millisecond, "an ERROR from a stranger")
	}
	// The intruder's ACK 1 must not have moved the transfer on.
	p.silent(200*time.Millisecond, "the real client has not ACKed yet")
	f.finishBlocks(t, p, tid, got)
	if ev := f.event(t, byPeer(p)); ev.Outcome != tftp.OutcomeOK {
		t.Errorf("event outcome %q (%s), want ok", ev.Outcome, ev.Error)
	}
	f.healthy(t)
}

// TestDataToReadTransfer: DATA sent to a read transfer, and an ACK to a
// write transfer, are illegal operations (error 4) and end the transfer
// (peers.md extra list).
func TestDataToReadTransfer(t *testing.T) {
	f := start(t, setup{upload: true})
	p := newPeer(t, "127.0.0.1")
	first, tid := p.startRead(f.addr, "blocks.bin")
	expectData(t, first, 1)
	p.send(tid, tftp.AppendData(nil, 1, []byte("not for you")))
	if code, msg := checkError(t, p.expectFrom(tid, 3*time.Second)); code != tftp.ErrIllegalOp {
		t.Errorf("DATA to a read transfer: error %d %q, want 4", code, msg)
	}
	if ev := f.event(t, byPeer(p)); ev.Outcome == tftp.OutcomeOK {
		t.Errorf("event outcome ok for a transfer ended by an illegal packet")
	}

	q := newPeer(t, "127.0.0.1")
	b, wtid := q.ask(f.addr, tftp.AppendRequest(nil, tftp.OpWRQ, "up.bin", tftp.ModeOctet))
	if n, err := tftp.ParseAck(b); err != nil || n != 0 {
		t.Fatalf("WRQ: got %s, want ACK 0", describe(b))
	}
	q.send(wtid, tftp.AppendAck(nil, 0))
	if code, msg := checkError(t, q.expectFrom(wtid, 3*time.Second)); code != tftp.ErrIllegalOp {
		t.Errorf("ACK to a write transfer: error %d %q, want 4", code, msg)
	}
	f.event(t, byPeer(q))
	assertEmptyDir(t, f.upload)
	f.healthy(t)
}

// TestAckForFutureOrOldBlock: an ACK for a block not yet sent, and ACK 0
// after DATA started, are ignored in lock-step (RFC 1350; RFC 1123
// §4.2.3.1 forbids resending on a duplicate ACK); the transfer then
// completes normally (peers.md extra list).
func TestAckForFutureOrOldBlock(t *testing.T) {
	f := start(t, setup{})
	p := newPeer(t, "127.0.0.1")
	first, tid := p.startRead(f.addr, "blocks.bin")
	got := expectData(t, first, 1)
	for _, n := range []uint16{5, 2, 65535, 0, 0, 0} {
		p.send(tid, tftp.AppendAck(nil, n))
	}
	// Timeout is 1s: in 300ms nothing may come, neither DATA 2 nor DATA 6.
	p.silent(300*time.Millisecond, "after ACKs for blocks never sent and ACK 0")
	f.finishBlocks(t, p, tid, got)
	if ev := f.event(t, byPeer(p)); ev.Outcome != tftp.OutcomeOK {
		t.Errorf("event outcome %q (%s), want ok", ev.Outcome, ev.Error)
	}
	f.healthy(t)
}

// TestDuplicateRequestSamePort: a client retransmitting its RRQ while the
// transfer runs must not start a second transfer (Tftpd64: "duplicated
// requests are now ignored (it used to cause 'file not found' errors)").
func TestDuplicateRequestSamePort(t *testing.T) {
	f := start(t, setup{})
	p := newPeer(t, "127.0.0.1")
	first, tid := p.startRead(f.addr, "blocks.bin")
	got := expectData(t, first, 1)
	for range 3 {
		p.send(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "blocks.bin", tftp.ModeOctet))
	}
	p.silent(300*time.Millisecond, "after a duplicate RRQ")
	f.finishBlocks(t, p, tid, got)
	f.healthy(t)
}

// TestClientNeverAcksLastBlock: dnsmasq notes "some clients never send
// it". The server gives up after its retries, in bounded time, without
// flooding (at most 1+Retries copies of the block).
func TestClientNeverAcksLastBlock(t *testing.T) {
	f := start(t, setup{server: fastRetransmit})
	p := newPeer(t, "127.0.0.1")
	first, _ := p.startRead(f.addr, "small.txt")
	expectData(t, first, 1)
	copies := 1
	for range 10 {
		b, _, ok := p.recv(time.Second)
		if !ok {
			break
		}
		expectData(t, b, 1)
		copies++
	}
	if copies > 1+f.srv.Retries {
		t.Errorf("DATA 1 sent %d times, want at most %d", copies, 1+f.srv.Retries)
	}
	ev := f.event(t, byPeer(p))
	t.Logf("unacknowledged last block: outcome %q, %s", ev.Outcome, ev.Error)
	if ev.Outcome != tftp.OutcomeTimeout {
		t.Errorf("event outcome %q, want timeout", ev.Outcome)
	}
	f.healthy(t)
}

// TestNoDataBeforeFirstAck: TFTP reflection DDoS (Sieklik et al. 2016,
// peers.md §5 row 18) needs a server that streams to a spoofed address.
// With options the server must send only its OACK until the client ACKs
// it; without options, only DATA 1 and its bounded retransmissions.
func TestNoDataBeforeFirstAck(t *testing.T) {
	f := start(t, setup{server: fastRetransmit})
	collect := func(p *peer) (n, bytes int, ops map[tftp.Opcode]int) {
		ops = map[tftp.Opcode]int{}
		for range 20 {
			// Retransmissions come every 200ms: 600ms of silence is the end.
			b, _, ok := p.recv(600 * time.Millisecond)
			if !ok {
				break
			}
			op, _ := tftp.PacketOpcode(b)
			ops[op]++
			n++
			bytes += len(b)
		}
		return n, bytes, ops
	}
	p := newPeer(t, "127.0.0.1")
	req := tftp.AppendRequest(nil, tftp.OpRRQ, "blocks.bin", tftp.ModeOctet, opts("blksize", "1428", "windowsize", "64", "tsize", "0")...)
	p.send(f.addr, req)
	n, size, ops := collect(p)
	if ops[tftp.OpDATA] > 0 || n == 0 || n > 1+f.srv.Retries {
		t.Errorf("spoofed windowed RRQ: got %v (%d packets, %d bytes), want only 1..%d OACKs", ops, n, size, 1+f.srv.Retries)
	}
	q := newPeer(t, "127.0.0.1")
	q.send(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "blocks.bin", tftp.ModeOctet))
	n, size, ops = collect(q)
	if ops[tftp.OpDATA] != n || n > 1+f.srv.Retries {
		t.Errorf("spoofed plain RRQ: got %v (%d packets), want at most %d copies of DATA 1", ops, n, 1+f.srv.Retries)
	}
	t.Logf("amplification of an unanswered plain RRQ: %d bytes out for %d in", size, len(tftp.AppendRequest(nil, tftp.OpRRQ, "blocks.bin", tftp.ModeOctet)))
	f.waitIdle(t, 5*time.Second)
	f.healthy(t)
}

// TestProbeThenAbort: PXE firmware and some phones take the tsize from the
// OACK and abort with "error 0 Early terminate" (dnsmasq logs it as a
// failure, netboot.xyz #1775). The event says probe, and the server goes on.
func TestProbeThenAbort(t *testing.T) {
	f := start(t, setup{})
	p := newPeer(t, "127.0.0.1")
	first, tid := p.startRead(f.addr, "blocks.bin", opts("tsize", "0", "blksize", "1456")...)
	x := xfer{}
	x.oack, _ = tftp.ParseOACK(first)
	x.hadOACK = true
	if got := x.oackMap(); got["tsize"] != fmt.Sprint(len(f.blocks)) {
		t.Fatalf("OACK %v, want tsize %d", got, len(f.blocks))
	}
	p.send(tid, tftp.AppendError(nil, tftp.ErrUndefined, "Early terminate"))
	p.silent(300*time.Millisecond, "after the probe's ERROR")
	if ev := f.event(t, byPeer(p)); ev.Outcome != tftp.OutcomeProbe {
		t.Errorf("event outcome %q, want probe", ev.Outcome)
	}
	f.healthy(t)
}

// TestGarbageToListeningPort replays Tftpd32 4.51 ("crash due to a simple
// deny of service attack") and 4.60 ("better handling of malformed
// packet"), peers.md §5 row 14: 0..3-byte datagrams, opcode 0 and 7+,
// transfer opcodes on the listening port, random bytes. The listener
// answers with ERROR 4 (never DATA, never to an ERROR) and keeps serving.
func TestGarbageToListeningPort(t *testing.T) {
	f := start(t, setup{})
	fixed := [][]byte{
		{}, {0}, {1}, {0, 0}, {0, 0, 0}, {0xff, 0xff, 0xff},
		{0, 0, 'o', 'k', 0, 'o', 'c', 't', 'e', 't', 0},
		{0, 3, 0, 1, 'd', 'a', 't', 'a'}, // DATA
		{0, 4, 0, 0},                     // ACK
		{0, 4},                           // short ACK
		{0, 6, 'b', 'l', 'k', 's', 'i', 'z', 'e', 0, '8', 0}, // OACK
		{0, 7, 'o', 'k', 0}, {0, 8}, {0, 255, 1, 2, 3}, {1, 1, 'o', 'k', 0, 'o', 'c', 't', 'e', 't', 0}, {0xff, 0xff},
	}
	for _, b := range fixed {
		p := newPeer(t, "127.0.0.1")
		code, msg := p.askError(f.addr, b)
		if code != tftp.ErrIllegalOp {
			t.Errorf("% x: error %d %q, want 4", b, code, msg)
		}
	}
	// Random datagrams from one socket; replies are drained as they come.
	r := rand.New(rand.NewPCG(14, 4_60))
	p := newPeer(t, "127.0.0.3")
	for i := range 300 {
		b := make([]byte, r.IntN(1500))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if i%3 == 0 && len(b) >= 2 {
			b[0], b[1] = 0, byte(r.IntN(8)) // valid-looking opcodes too
		}
		p.send(f.addr, b)
	}
	replies := 0
	for range 400 {
		b, _, ok := p.recv(300 * time.Millisecond)
		if !ok {
			break
		}
		replies++
		if op, _ := tftp.PacketOpcode(b); op != tftp.OpERROR {
			t.Errorf("random datagram answered with %s, want ERROR", describe(b))
			continue
		}
		checkError(t, b)
	}
	if replies == 0 {
		t.Errorf("no reply to 300 random datagrams: is the listener alive?")
	}
	f.healthy(t)
}

// TestRolloverTinyBlocks crosses block 65535 quickly with blksize 8 (the
// peers.md extra list): the block after 65535 is 0 by default (what
// tftp-hpa and most clients expect) or 1 with RolloverToOne, and the data
// is intact either way.
func TestRolloverTinyBlocks(t *testing.T) {
	for _, toOne := range []bool{false, true} {
		t.Run(fmt.Sprintf("RolloverToOne=%v", toOne), func(t *testing.T) {
			t.Parallel()
			f := start(t, setup{server: func(s *tftp.Server) { s.RolloverToOne = toOne }})
			data := pseudoRandom(70000*8+3, 8)
			must(t, writeFile(f.root+"/roll.bin", data))
			p := newPeer(t, "127.0.0.1")
			x := p.get(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "roll.bin", tftp.ModeOctet, opts("blksize", "8", "windowsize", "64")...), getOpts{rollToOne: toOne})
			if x.errCode >= 0 || x.failure != "" || !bytes.Equal(x.data, data) {
				t.Fatalf("transfer failed: error %d %q, %s, %d of %d bytes", x.errCode, x.errMsg, x.failure, len(x.data), len(data))
			}
			want := uint16(0)
			if toOne {
				want = 1
			}
			found := false
			for i := 1; i < len(x.blocks); i++ {
				if x.blocks[i-1] == 65535 && x.blocks[i] != 65535 {
					if x.blocks[i] != want {
						t.Fatalf("block after 65535 is %d, want %d", x.blocks[i], want)
					}
					found = true
				}
			}
			if !found {
				t.Fatalf("the transfer never crossed block 65535")
			}
			f.healthy(t)
		})
	}
}
