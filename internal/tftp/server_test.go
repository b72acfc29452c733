package tftp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"phoneboot/internal/files"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

// These tests drive the server over real loopback sockets with a raw client
// that shows every packet, for the behaviours a normal client hides.

// eventLog follows a server's events, in order, as a tftptest.Recorder
// keeps them.
type eventLog struct {
	rec  *tftptest.Recorder
	seen int // events already returned by wait
}

func newEventLog() *eventLog { return &eventLog{rec: tftptest.NewRecorder()} }

// wait returns the next event or fails after 10 s.
func (l *eventLog) wait(t *testing.T) tftp.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		evs, changed := l.rec.Snapshot()
		if len(evs) > l.seen {
			l.seen++
			return evs[l.seen-1]
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("no transfer event within 10s")
			return tftp.Event{}
		}
	}
}

// startServer serves files from a temp dir on 127.0.0.1 and returns the
// listening address.
func startServer(t *testing.T, s *tftp.Server, contents map[string][]byte) (netip.AddrPort, *eventLog) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range contents {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := files.OpenDir(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	if s.Resolver == nil {
		s.Resolver = tftp.ByName(d)
	}
	log := newEventLog()
	s.OnEvent = log.rec.Add
	if useGoroutineDriver {
		tftp.UseGoroutineDriver(s)
	}
	conns, err := tftp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), conns[0]) }()
	t.Cleanup(func() {
		// Cut what a test left hanging rather than wait for its timeouts
		// (so Shutdown may well report its deadline).
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-served; !errors.Is(err, tftp.ErrServerClosed) {
			t.Errorf("Serve: %v, want ErrServerClosed", err)
		}
		d.Close()
	})
	return conns[0].LocalAddr().(*net.UDPAddr).AddrPort(), log
}

// useGoroutineDriver makes startServer use the portable driver instead of
// the platform's (epoll on Linux).
var useGoroutineDriver bool

// TestGoroutineDriver runs the behaviour tests again on the portable
// driver, which is what non-Linux systems use.
func TestGoroutineDriver(t *testing.T) {
	useGoroutineDriver = true
	defer func() { useGoroutineDriver = false }()
	for name, test := range map[string]func(*testing.T){
		"ReadLockstepAndWindow": TestReadLockstepAndWindow,
		"WrongTID":              TestWrongTID,
		"NoSorcerersApprentice": TestNoSorcerersApprentice,
		"RetransmitOnTimeout":   TestRetransmitOnTimeout,
		"GiveUp":                TestGiveUp,
		"Refusals":              TestRefusals,
		"Upload":                TestUpload,
	} {
		t.Run(name, test)
	}
}

type rawClient struct {
	t      *testing.T
	conn   *net.UDPConn
	server netip.AddrPort // the listening port
	tid    netip.AddrPort // the transfer's port, learned from the first answer
	buf    []byte
}

func newRawClient(t *testing.T, src string, server netip.AddrPort) *rawClient {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(src+":0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, server: server, buf: make([]byte, 70000)}
}

func (c *rawClient) request(b []byte) {
	c.t.Helper()
	if _, err := c.conn.WriteToUDPAddrPort(b, c.server); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) send(b []byte) {
	c.t.Helper()
	if _, err := c.conn.WriteToUDPAddrPort(b, c.tid); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next datagram, or nil after timeout.
func (c *rawClient) recv(timeout time.Duration) []byte {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	n, from, err := c.conn.ReadFromUDPAddrPort(c.buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		c.t.Fatal(err)
	}
	if !c.tid.IsValid() {
		c.tid = from
	}
	return c.buf[:n]
}

// awaitAck reads until the ACK of blk, skipping resent ACKs of earlier
// blocks (the server's timer can fire on a loaded machine).
func (c *rawClient) awaitAck(blk uint16) {
	c.t.Helper()
	for range 20 {
		n, err := tftp.ParseAck(c.mustRecv())
		if err == nil && n == blk {
			return
		}
		if err != nil || n != blk-1 {
			c.t.Fatalf("waiting for ACK %d: got %d, %v", blk, n, err)
		}
	}
	c.t.Fatalf("no ACK %d among 20 packets", blk)
}

func (c *rawClient) mustRecv() []byte {
	c.t.Helper()
	b := c.recv(5 * time.Second)
	if b == nil {
		c.t.Fatal("no packet from the server within 5s")
	}
	return b
}

// get runs a lock-step or windowed read with ACKs for the last block of
// each window and returns the file.
func (c *rawClient) get(name string, window int, opts ...tftp.Option) []byte {
	c.t.Helper()
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet, opts...))
	blksize := 512
	var out []byte
	b := c.mustRecv()
	if op, _ := tftp.PacketOpcode(b); op == tftp.OpOACK {
		got, _ := tftp.ParseOACK(b)
		for _, o := range got {
			if o.Name == "blksize" {
				n, err := strconv.Atoi(o.Value)
				if err != nil {
					c.t.Fatalf("OACK blksize %q: %v", o.Value, err)
				}
				blksize = n
			}
		}
		c.send(tftp.AppendAck(nil, 0))
		b = c.mustRecv()
	}
	inWindow := 0
	ack := make([]byte, 4)
	expected := uint16(1)
	for {
		n, payload, err := tftp.ParseData(b)
		if err != nil {
			code, msg, _ := tftp.ParseErrorPacket(b)
			c.t.Fatalf("expected DATA, got % x (error %d %q)", b[:min(len(b), 8)], code, msg)
		}
		if n != expected {
			// A retransmission (the server's timer can fire on a loaded
			// machine): ACK what we have, as real clients do.
			c.send(tftp.AppendAck(ack[:0], expected-1))
			inWindow = 0
			b = c.mustRecv()
			continue
		}
		expected++
		out = append(out, payload...)
		inWindow++
		last := len(payload) < blksize
		if last || inWindow == window {
			inWindow = 0
			c.send(tftp.AppendAck(ack[:0], n))
		}
		if last {
			return out
		}
		b = c.mustRecv()
	}
}

func TestReadLockstepAndWindow(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB: exact multiple of 512
	addr, log := startServer(t, &tftp.Server{}, map[string][]byte{"a.bin": data})
	c := newRawClient(t, "127.0.0.2", addr)
	if got := c.get("a.bin", 1); !bytes.Equal(got, data) {
		t.Fatalf("lock-step: got %d bytes, want %d", len(got), len(data))
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeOK || ev.Bytes != int64(len(data)) || ev.Remote.Addr().String() != "127.0.0.2" {
		t.Fatalf("event = %+v", ev)
	}
	c = newRawClient(t, "127.0.0.3", addr)
	if got := c.get("a.bin", 8, tftp.Option{"blksize", "1000"}, tftp.Option{"windowsize", "8"}); !bytes.Equal(got, data) {
		t.Fatalf("windowed: got %d bytes, want %d", len(got), len(data))
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeOK || ev.Windowsize != 8 || ev.Blksize != 1000 {
		t.Fatalf("event = %+v", ev)
	}
}

// RFC 1350 §4: a packet from another port gets ERROR 5, and the transfer
// goes on undisturbed.
func TestWrongTID(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 1500)
	addr, log := startServer(t, &tftp.Server{}, map[string][]byte{"f": data})
	c := newRawClient(t, "127.0.0.2", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	first := append([]byte(nil), c.mustRecv()...)
	intruder := newRawClient(t, "127.0.0.2", addr)
	intruder.tid = c.tid
	intruder.send(tftp.AppendAck(nil, 1))
	b := intruder.mustRecv()
	if code, _, err := tftp.ParseErrorPacket(b); err != nil || code != tftp.ErrUnknownTID {
		t.Fatalf("intruder got % x, want ERROR 5", b)
	}
	got := append([]byte(nil), first[4:]...)
	c.send(tftp.AppendAck(nil, 1))
	for blk := uint16(2); ; blk++ {
		n, payload, err := tftp.ParseData(c.mustRecv())
		if err == nil && n == blk-1 {
			blk-- // a retransmission on a loaded machine; the ACK is below
			c.send(tftp.AppendAck(nil, n))
			continue
		}
		if err != nil || n != blk {
			t.Fatalf("block %d: got %d, %v", blk, n, err)
		}
		got = append(got, payload...)
		c.send(tftp.AppendAck(nil, n))
		if len(payload) < 512 {
			break
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeOK {
		t.Fatalf("event = %+v", ev)
	}
}

// RFC 1123 §4.2.3.1: never resend DATA on a duplicate ACK, only on timeout.
func TestNoSorcerersApprentice(t *testing.T) {
	addr, _ := startServer(t, &tftp.Server{Timeout: 2 * time.Second, MinTimeout: 2 * time.Second}, map[string][]byte{"f": bytes.Repeat([]byte{1}, 5000)})
	c := newRawClient(t, "127.0.0.2", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	c.mustRecv() // DATA 1
	c.send(tftp.AppendAck(nil, 1))
	c.mustRecv() // DATA 2
	for range 20 {
		c.send(tftp.AppendAck(nil, 1)) // duplicates of the previous ACK
	}
	if b := c.recv(300 * time.Millisecond); b != nil {
		t.Fatalf("server answered a duplicate ACK with % x", b[:4])
	}
}

// Timeouts resend the block; the event counts it.
func TestRetransmitOnTimeout(t *testing.T) {
	addr, log := startServer(t, &tftp.Server{Timeout: 50 * time.Millisecond, MinTimeout: 10 * time.Millisecond}, map[string][]byte{"f": []byte("hello")})
	c := newRawClient(t, "127.0.0.2", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	a := append([]byte(nil), c.mustRecv()...)
	b := c.mustRecv() // the same block again, after the timeout
	if !bytes.Equal(a, b) {
		t.Fatalf("retransmission % x differs from % x", b, a)
	}
	c.send(tftp.AppendAck(nil, 1))
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeOK || ev.Retransmits < 1 {
		t.Fatalf("event = %+v", ev)
	}
}

// A client that stops answering is given up on after the retries.
func TestGiveUp(t *testing.T) {
	addr, log := startServer(t, &tftp.Server{Timeout: 20 * time.Millisecond, MinTimeout: 10 * time.Millisecond, MaxTimeout: 40 * time.Millisecond, Retries: 3},
		map[string][]byte{"f": []byte("hello")})
	c := newRawClient(t, "127.0.0.2", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	ev := log.wait(t)
	if ev.Outcome != tftp.OutcomeTimeout || ev.Retransmits != 3 {
		t.Fatalf("event = %+v", ev)
	}
}

// Files over 32 MB at 512 bytes need the block number to wrap; with
// blksize 8 that happens after 512 KiB. Both wrap styles.
func TestRollover(t *testing.T) {
	data := make([]byte, 8*65536+5)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, toOne := range []bool{false, true} {
		addr, _ := startServer(t, &tftp.Server{RolloverToOne: toOne}, map[string][]byte{"big": data})
		c := newRawClient(t, "127.0.0.2", addr)
		c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "big", tftp.ModeOctet, tftp.Option{"blksize", "8"}, tftp.Option{"windowsize", "64"}))
		c.mustRecv() // OACK
		c.send(tftp.AppendAck(nil, 0))
		var got []byte
		var seen []uint16
		wire := func(idx int) uint16 {
			if toOne {
				return uint16((idx-1)%65535 + 1)
			}
			return uint16(idx)
		}
		for idx := 1; ; {
			n, payload, err := tftp.ParseData(c.mustRecv())
			if err != nil {
				t.Fatal(err)
			}
			if n != wire(idx) {
				// A resent window (a timer fired on a loaded machine).
				c.send(tftp.AppendAck(nil, wire(idx-1)))
				continue
			}
			if idx >= 65534 && idx <= 65537 {
				seen = append(seen, n)
			}
			got = append(got, payload...)
			if idx%64 == 0 || len(payload) < 8 {
				c.send(tftp.AppendAck(nil, n))
			}
			if len(payload) < 8 {
				break
			}
			idx++
		}
		want := []uint16{65534, 65535, 0, 1}
		if toOne {
			want = []uint16{65534, 65535, 1, 2}
		}
		if !bytes.Equal(got, data) || len(seen) != 4 || seen[2] != want[2] || seen[3] != want[3] {
			t.Fatalf("rollover to one=%v: blocks around the wrap %v, want %v; %d bytes", toOne, seen, want, len(got))
		}
	}
}

func TestRefusals(t *testing.T) {
	addr, log := startServer(t, &tftp.Server{}, map[string][]byte{"f": []byte("x"), "sub/g": []byte("y")})
	tests := []struct {
		name string
		req  []byte
		code tftp.ErrorCode
		out  tftp.Outcome
	}{
		{"missing file", tftp.AppendRequest(nil, tftp.OpRRQ, "CTLSEP001122334455.tlv", tftp.ModeOctet), tftp.ErrFileNotFound, tftp.OutcomeNotFound},
		{"directory", tftp.AppendRequest(nil, tftp.OpRRQ, "sub", tftp.ModeOctet), tftp.ErrFileNotFound, tftp.OutcomeNotFound},
		{"traversal", tftp.AppendRequest(nil, tftp.OpRRQ, "../f", tftp.ModeOctet), tftp.ErrAccessViolation, tftp.OutcomeDenied},
		{"write disabled", tftp.AppendRequest(nil, tftp.OpWRQ, "new", tftp.ModeOctet), tftp.ErrAccessViolation, tftp.OutcomeDenied},
		{"mail mode", tftp.AppendRequest(nil, tftp.OpRRQ, "f", "mail"), tftp.ErrIllegalOp, tftp.OutcomeBadReq},
	}
	for i, tt := range tests {
		c := newRawClient(t, "127.0.0."+string(rune('2'+i)), addr)
		c.request(tt.req)
		code, msg, err := tftp.ParseErrorPacket(c.mustRecv())
		if err != nil || code != tt.code {
			t.Errorf("%s: got error %d %q (%v), want code %d", tt.name, code, msg, err, tt.code)
		}
		if ev := log.wait(t); ev.Outcome != tt.out {
			t.Errorf("%s: event outcome %q, want %q", tt.name, ev.Outcome, tt.out)
		}
	}
}

func TestBusyAndRateLimit(t *testing.T) {
	addr, log := startServer(t, &tftp.Server{MaxTransfers: 1, Timeout: 2 * time.Second}, map[string][]byte{"f": bytes.Repeat([]byte{1}, 2000)})
	hung := newRawClient(t, "127.0.0.2", addr)
	hung.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	hung.mustRecv() // the transfer is running and waits for an ACK
	c := newRawClient(t, "127.0.0.3", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	code, msg, err := tftp.ParseErrorPacket(c.mustRecv())
	if err != nil || code != tftp.ErrUndefined || !strings.Contains(msg, "busy") {
		t.Fatalf("second transfer: error %d %q %v, want server busy", code, msg, err)
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeRefused {
		t.Fatalf("event = %+v", ev)
	}

	addr, _ = startServer(t, &tftp.Server{RatePerSource: 1, RateBurst: 1}, map[string][]byte{"f": []byte("x")})
	first := newRawClient(t, "127.0.0.4", addr)
	first.request(tftp.AppendRequest(nil, tftp.OpRRQ, "nothere", tftp.ModeOctet))
	first.mustRecv()
	second := newRawClient(t, "127.0.0.4", addr) // same IP, new port
	second.request(tftp.AppendRequest(nil, tftp.OpRRQ, "nothere", tftp.ModeOctet))
	code, msg, _ = tftp.ParseErrorPacket(second.mustRecv())
	if code != tftp.ErrUndefined || !strings.Contains(msg, "too many requests") {
		t.Fatalf("rate limit: error %d %q", code, msg)
	}
	other := newRawClient(t, "127.0.0.5", addr) // another phone is not affected
	other.request(tftp.AppendRequest(nil, tftp.OpRRQ, "nothere", tftp.ModeOctet))
	if code, _, _ := tftp.ParseErrorPacket(other.mustRecv()); code != tftp.ErrFileNotFound {
		t.Fatalf("other client got error %d, want 1", code)
	}
}

func TestUpload(t *testing.T) {
	up := t.TempDir()
	u, err := tftp.OpenUploadDir(up)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	addr, log := startServer(t, &tftp.Server{Receiver: u, Limits: tftp.Limits{MaxUpload: 4000}, Timeout: 50 * time.Millisecond, MinTimeout: 10 * time.Millisecond, Retries: 2}, nil)

	// A complete upload appears under its name.
	data := bytes.Repeat([]byte("log line\n"), 200) // 1800 bytes
	c := newRawClient(t, "127.0.0.2", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpWRQ, "crash.log", tftp.ModeOctet))
	if n, err := tftp.ParseAck(c.mustRecv()); err != nil || n != 0 {
		t.Fatalf("WRQ answer: ack %d %v", n, err)
	}
	for blk, off := uint16(1), 0; ; blk++ {
		end := min(off+512, len(data))
		c.send(tftp.AppendData(nil, blk, data[off:end]))
		c.awaitAck(blk)
		if end-off < 512 {
			break
		}
		off = end
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeOK || ev.Bytes != int64(len(data)) {
		t.Fatalf("event = %+v", ev)
	}
	if got, _ := os.ReadFile(filepath.Join(up, "crash.log")); !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes, want %d", len(got), len(data))
	}

	// An existing file is not replaced.
	c = newRawClient(t, "127.0.0.3", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpWRQ, "crash.log", tftp.ModeOctet))
	if code, _, _ := tftp.ParseErrorPacket(c.mustRecv()); code != tftp.ErrFileExists {
		t.Fatalf("overwrite: error %d, want 6", code)
	}
	log.wait(t)

	// A broken upload (client vanishes) and an oversized one leave nothing.
	c = newRawClient(t, "127.0.0.4", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpWRQ, "half.bin", tftp.ModeOctet))
	c.mustRecv()
	c.send(tftp.AppendData(nil, 1, make([]byte, 512)))
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeTimeout {
		t.Fatalf("abandoned upload: event = %+v", ev)
	}
	c = newRawClient(t, "127.0.0.5", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpWRQ, "big.bin", tftp.ModeOctet))
	c.mustRecv()
	for blk := uint16(1); blk <= 8; blk++ {
		c.send(tftp.AppendData(nil, blk, make([]byte, 512)))
		b := c.mustRecv()
		if code, _, err := tftp.ParseErrorPacket(b); err == nil {
			if code != tftp.ErrDiskFull {
				t.Fatalf("oversized upload: error %d, want 3", code)
			}
			break
		}
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeFailed {
		t.Fatalf("oversized upload: event = %+v", ev)
	}
	entries, err := os.ReadDir(up)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("upload dir holds %v, want only crash.log", names)
	}
}

// oneFileServer is a server (not yet serving) of one file, "f", and its
// listening socket on 127.0.0.1.
func oneFileServer(t *testing.T, content []byte) (*tftp.Server, *net.UDPConn, *eventLog) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := files.OpenDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	log := newEventLog()
	conns, err := tftp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &tftp.Server{Resolver: tftp.ByName(d), OnEvent: log.rec.Add, Timeout: 5 * time.Second}, conns[0], log
}

// Shutdown waits for running transfers; past its deadline it cuts them and
// each cut transfer still ends in one event.
func TestShutdown(t *testing.T) {
	s, conn, log := oneFileServer(t, bytes.Repeat([]byte{1}, 5000))
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), conn) }()
	c := newRawClient(t, "127.0.0.2", conn.LocalAddr().(*net.UDPAddr).AddrPort())
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	c.mustRecv()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	if err := <-served; !errors.Is(err, tftp.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeShutdown {
		t.Fatalf("event = %+v", ev)
	}
}

// TestServeUntilDone: a listener stops when its context ends — Serve
// returns nil — while the transfer it started runs to its end, as serve's
// ordered shutdown needs (listeners first, then the drain).
func TestServeUntilDone(t *testing.T) {
	content := bytes.Repeat([]byte{7}, 3*512+10)
	s, conn, log := oneFileServer(t, content)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, conn) }()
	c := newRawClient(t, "127.0.0.2", conn.LocalAddr().(*net.UDPAddr).AddrPort())
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "f", tftp.ModeOctet))
	b := bytes.Clone(c.mustRecv())
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after its context ended = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	// The running transfer goes on to its last block.
	var got []byte
	for {
		got = append(got, b[4:]...)
		c.send(tftp.AppendAck(nil, binary.BigEndian.Uint16(b[2:4])))
		if len(b)-4 < 512 {
			break
		}
		b = bytes.Clone(c.mustRecv())
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("got %d bytes, want %d", len(got), len(content))
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeOK {
		t.Fatalf("event = %+v", ev)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}

// The hot path allocates nothing per packet: a transfer of 2,000 blocks
// allocates no more than one of 20 blocks.
func TestNoAllocationsPerPacket(t *testing.T) {
	small, big := make([]byte, 20*512+1), make([]byte, 2000*512+1)
	addr, log := startServer(t, &tftp.Server{}, map[string][]byte{"small": small, "big": big})
	c := newRawClient(t, "127.0.0.2", addr)
	ack := make([]byte, 4)
	run := func(name string) uint64 {
		c.tid = netip.AddrPort{}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c.request(tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet))
		for {
			b := c.mustRecv()
			n, payload, _ := tftp.ParseData(b)
			c.send(tftp.AppendAck(ack[:0], n))
			if len(payload) < 512 {
				break
			}
		}
		log.wait(t)
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	run("small") // warm the file cache
	run("big")
	a, b := run("small"), run("big")
	if perBlock := float64(int64(b)-int64(a)) / 1980; perBlock > 0.05 {
		t.Fatalf("%.2f allocations per block (small transfer %d, big %d)", perBlock, a, b)
	}
}

// getBlocks runs a lock-step read in mode and returns each DATA payload.
func (c *rawClient) getBlocks(name string, mode tftp.Mode) [][]byte {
	c.t.Helper()
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, name, mode))
	var blocks [][]byte
	for expected := uint16(1); len(blocks) < 1000; {
		b := c.mustRecv()
		n, payload, err := tftp.ParseData(b)
		if err != nil {
			code, msg, _ := tftp.ParseErrorPacket(b)
			c.t.Fatalf("expected DATA %d, got % x (error %d %q)", expected, b[:min(len(b), 8)], code, msg)
		}
		c.send(tftp.AppendAck(nil, n))
		if n != expected {
			continue // a retransmission on a loaded machine
		}
		expected++
		blocks = append(blocks, append([]byte(nil), payload...))
		if len(payload) < 512 {
			return blocks
		}
	}
	c.t.Fatal("more than 1000 blocks")
	return nil
}

// TestNetasciiBlockEnds: line ends whose CR is the last byte of a block.
// An upload in netascii whose CR NUL and CR LF pairs are split across
// blocks is stored as CR and LF; a download of a file whose LF and bare
// CR fall at a block end sends CR at the end of one block and LF or NUL
// at the start of the next.
func TestNetasciiBlockEnds(t *testing.T) {
	up := t.TempDir()
	u, err := tftp.OpenUploadDir(up)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	a511, b510 := strings.Repeat("a", 511), strings.Repeat("b", 510)
	text := a511 + "\n" + b510 + "\r" + "end\n"
	addr, log := startServer(t, &tftp.Server{Receiver: u}, map[string][]byte{"text.txt": []byte(text)})

	// Upload: block 1 ends in the CR of CR NUL, block 2 in the CR of CR LF.
	blocks := []string{a511 + "\r", "\x00" + b510 + "\r", "\nend"}
	c := newRawClient(t, "127.0.0.2", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpWRQ, "up.txt", tftp.ModeNetascii))
	c.awaitAck(0)
	for i, b := range blocks {
		c.send(tftp.AppendData(nil, uint16(i+1), []byte(b)))
		c.awaitAck(uint16(i + 1))
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeOK || ev.Mode != tftp.ModeNetascii {
		t.Fatalf("upload event = %+v", ev)
	}
	got, err := os.ReadFile(filepath.Join(up, "up.txt"))
	if want := a511 + "\r" + b510 + "\nend"; err != nil || string(got) != want {
		t.Errorf("stored %d bytes (%v), want %d: %q ... %q", len(got), err, len(want), got[min(len(got), 505):min(len(got), 520)], got[min(len(got), 1015):])
	}

	// Download: the LF after 511 bytes and the bare CR after 510 more.
	c = newRawClient(t, "127.0.0.3", addr)
	wire := c.getBlocks("text.txt", tftp.ModeNetascii)
	if len(wire) != 3 || len(wire[0]) != 512 || len(wire[1]) != 512 || wire[0][511] != '\r' || wire[1][0] != '\n' ||
		wire[1][511] != '\r' || string(wire[2]) != "\x00end\r\n" {
		t.Errorf("netascii blocks %d; want block 1 ending in CR, block 2 LF ... CR, block 3 %q; got %q", len(wire), "\x00end\r\n", wire)
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeOK || ev.Size != int64(len(text)+3) {
		t.Errorf("download event = %+v, want ok and %d bytes on the wire", ev, len(text)+3)
	}
}

// What a phone is told and what the event says of a refused read are
// words, never a system call's text: the TFTP root's "RINGLIST.DAT is not
// in the TFTP root" reaches both as it is, and a resolver that returns a
// raw os error is told and logged in words too.
func TestRefusalsInWords(t *testing.T) {
	addr, log := startServer(t, &tftp.Server{}, map[string][]byte{"f": []byte("x")})
	c := newRawClient(t, "127.0.0.2", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "RINGLIST.DAT", tftp.ModeOctet))
	code, msg, err := tftp.ParseErrorPacket(c.mustRecv())
	want := "RINGLIST.DAT is not in the TFTP root"
	if err != nil || code != tftp.ErrFileNotFound || msg != want {
		t.Errorf("ERROR %d %q (%v), want %d %q", code, msg, err, tftp.ErrFileNotFound, want)
	}
	if ev := log.wait(t); ev.Outcome != tftp.OutcomeNotFound || ev.Error != want {
		t.Errorf("event %q %q, want not-found %q", ev.Outcome, ev.Error, want)
	}

	// A resolver that hands back what os.Open said.
	raw := func(_ context.Context, req *tftp.Request) (tftp.File, error) {
		_, err := os.Open(filepath.Join(t.TempDir(), req.Path))
		return nil, err
	}
	addr, log = startServer(t, &tftp.Server{Resolver: tftp.ResolverFunc(raw)}, nil)
	c = newRawClient(t, "127.0.0.3", addr)
	c.request(tftp.AppendRequest(nil, tftp.OpRRQ, "dialplan.xml", tftp.ModeOctet))
	code, msg, err = tftp.ParseErrorPacket(c.mustRecv())
	if err != nil || code != tftp.ErrFileNotFound || msg != "file not found" {
		t.Errorf("ERROR %d %q (%v), want file not found", code, msg, err)
	}
	ev := log.wait(t)
	for _, s := range []string{ev.Error, msg} {
		if strings.Contains(s, "open ") || strings.Contains(s, "no such file") || strings.Contains(s, "/") {
			t.Errorf("%q holds system call text", s)
		}
	}
	if ev.Error != "file not found" {
		t.Errorf("event error %q, want \"file not found\"", ev.Error)
	}
}
