package security

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/files"
	"phoneboot/internal/tftp"
	"phoneboot/internal/tftp/tftptest"
)

// setup says how a test wants its server.
type setup struct {
	listen string             // default "127.0.0.1:0"
	upload bool               // accept write requests into fixture.upload
	server func(*tftp.Server) // last-minute changes to the server
}

// fixture is one running server over a fresh directory tree:
//
//	base/root/            the served root (ok.bin, small.txt, sub/, symlinks)
//	base/root-private/    a sibling with the same prefix: must never be served
//	base/upload/          the upload directory, when setup.upload
type fixture struct {
	srv     *tftp.Server
	addr    netip.AddrPort // the listening socket
	base    string
	root    string
	private string // base/root-private/secret.txt
	upload  string
	ok      []byte // content of root/ok.bin (1500 bytes: 3 blocks of 512)
	blocks  []byte // content of root/blocks.bin (21 blocks of 512)
	events  *tftptest.Recorder
	logs    *lockedBuffer
}

// secret is the content of the file outside the root. No test may ever
// receive these bytes.
const secret = "TOP-SECRET-outside-the-tftp-root"

func start(t *testing.T, s setup) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{
		base:    base,
		root:    filepath.Join(base, "root"),
		private: filepath.Join(base, "root-private", "secret.txt"),
		upload:  filepath.Join(base, "upload"),
		ok:      pseudoRandom(1500, 1),
		blocks:  pseudoRandom(20*512+100, 2),
		events:  tftptest.NewRecorder(),
		logs:    &lockedBuffer{},
	}
	for _, d := range []string{f.root, filepath.Join(f.root, "sub"), filepath.Dir(f.private), f.upload} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(f.root, "ok.bin"), f.ok, 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "blocks.bin"), f.blocks, 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "small.txt"), []byte("hello phone\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "sub", "inner.bin"), []byte("inner"), 0o644))
	must(t, os.WriteFile(f.private, []byte(secret), 0o644))
	// Symlinks inside the root that point out of it (tftp-now evaluates
	// symlinks; peers.md §5 row 17): relative, to a directory, absolute.
	must(t, os.Symlink("../root-private/secret.txt", filepath.Join(f.root, "escape.txt")))
	must(t, os.Symlink("../root-private", filepath.Join(f.root, "escapedir")))
	must(t, os.Symlink(f.private, filepath.Join(f.root, "abs.txt")))

	dir, err := files.OpenDir(f.root, 64<<20)
	must(t, err)
	f.srv = &tftp.Server{
		Resolver: tftp.ByName(dir),
		// Generous fixed-ish timeouts: the suite shares 2 cores with other
		// work, and tests that count packets must not see retransmissions
		// caused by a slow scheduler. Abandoned transfers still end within
		// (Retries+1)*MaxTimeout = 4s.
		Timeout:    time.Second,
		MinTimeout: 500 * time.Millisecond,
		MaxTimeout: time.Second,
		Retries:    3,
		Logger:     slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnEvent:    f.events.Add,
	}
	if s.upload {
		up, err := tftp.OpenUploadDir(f.upload)
		must(t, err)
		t.Cleanup(func() { up.Close() })
		f.srv.Receiver = up
	}
	if s.server != nil {
		s.server(f.srv)
	}
	listen := s.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	conns, err := tftp.Listen(listen)
	must(t, err)
	if len(conns) != 1 {
		t.Fatalf("Listen(%q) gave %d sockets, want 1", listen, len(conns))
	}
	f.addr = conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(context.Background(), conns[0]) }()
	t.Cleanup(func() {
		// Shutdown cuts whatever a hostile test left running; it must
		// return and Serve must end (a hung server fails here).
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		f.srv.Shutdown(ctx)
		select {
		case err := <-served:
			if !errors.Is(err, tftp.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Shutdown")
		}
		dir.Close()
		// Filenames are data, never format strings (CVE-2006-0328).
		if l := f.logs.String(); strings.Contains(l, "%!") {
			t.Errorf("server log shows a formatting artefact (a name used as a format string?):\n%s", l)
		}
		if t.Failed() {
			l := f.logs.String()
			if len(l) > 8000 {
				l = "…" + l[len(l)-8000:]
			}
			t.Logf("server log (end):\n%s", l)
		}
	})
	return f
}

// healthy fetches ok.bin with a plain RRQ from a fresh port: after any
// hostile input the server must still serve a normal file, correctly.
func (f *fixture) healthy(t *testing.T) {
	t.Helper()
	p := newPeer(t, "127.0.0.1")
	x := p.get(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "ok.bin", tftp.ModeOctet), getOpts{})
	if x.errCode >= 0 || x.failure != "" || !bytes.Equal(x.data, f.ok) {
		t.Fatalf("server no longer serves ok.bin correctly: error %d %q, failure %q, got %d bytes want %d",
			x.errCode, x.errMsg, x.failure, len(x.data), len(f.ok))
	}
}

// event waits for the event that matches. Events are kept, not consumed,
// so parallel subtests can each wait for their own.
func (f *fixture) event(t *testing.T, match func(tftp.Event) bool) tftp.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		evs, changed := f.events.Snapshot()
		for _, ev := range evs {
			if match(ev) {
				return ev
			}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no matching transfer event within 10s")
			return tftp.Event{}
		}
	}
}

// byPeer matches the event of the request p sent.
func byPeer(p *peer) func(tftp.Event) bool {
	return func(ev tftp.Event) bool { return ev.Remote == p.addr() }
}

// waitIdle waits until the server has no transfer running.
func (f *fixture) waitIdle(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for f.srv.Active() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d transfers still running after %v", f.srv.Active(), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// peer is a raw UDP socket playing the client.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
	buf  []byte
}

func newPeer(t testing.TB, ip string) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c, buf: make([]byte, 70000)}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(to netip.AddrPort, b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatalf("send %d bytes to %v: %v", len(b), to, err)
	}
}

// recv returns the next datagram within d; ok is false on timeout.
func (p *peer) recv(d time.Duration) (b []byte, from netip.AddrPort, ok bool) {
	p.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := p.conn.ReadFromUDPAddrPort(p.buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, from, false
		}
		p.t.Fatalf("read: %v", err)
	}
	return bytes.Clone(p.buf[:n]), unmapped(from), true
}

// silent fails the test if any datagram arrives within d.
func (p *peer) silent(d time.Duration, why string) {
	p.t.Helper()
	if b, from, ok := p.recv(d); ok {
		p.t.Fatalf("%s: got %s from %v, want nothing", why, describe(b), from)
	}
}

// ask sends a request to the listening port and returns the first reply.
func (p *peer) ask(to netip.AddrPort, req []byte) ([]byte, netip.AddrPort) {
	p.t.Helper()
	p.send(to, req)
	b, from, ok := p.recv(5 * time.Second)
	if !ok {
		p.t.Fatalf("no answer within 5s to a %d-byte request (server hung or silently dropped it)", len(req))
	}
	return b, from
}

// askError sends req and requires an ERROR answer; it returns the code.
func (p *peer) askError(to netip.AddrPort, req []byte) (tftp.ErrorCode, string) {
	p.t.Helper()
	b, _ := p.ask(to, req)
	return checkError(p.t, b)
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// checkError requires b to be a well-formed ERROR packet: at most 512 bytes
// (RFC 1350 datagrams), a known code, a message of printable bytes and
// exactly one NUL, at the end. Stray bytes after the message were the
// dnsmasq 2.77 leak; an ERROR over 512 bytes would be dropped by strict
// clients.
func checkError(t testing.TB, b []byte) (tftp.ErrorCode, string) {
	t.Helper()
	if op, _ := tftp.PacketOpcode(b); op != tftp.OpERROR {
		t.Fatalf("got %s, want an ERROR packet", describe(b))
	}
	if len(b) < 5 || len(b) > 512 {
		t.Fatalf("ERROR packet is %d bytes, want 5..512", len(b))
	}
	if b[len(b)-1] != 0 || bytes.IndexByte(b[4:], 0) != len(b)-5 {
		t.Fatalf("ERROR packet % x: message must end with its only NUL, nothing after it", b)
	}
	for _, c := range b[4 : len(b)-1] {
		if c < 0x20 || c == 0x7f {
			t.Fatalf("ERROR message %q contains control byte 0x%02x", b[4:len(b)-1], c)
		}
	}
	code, msg, err := tftp.ParseErrorPacket(b)
	if err != nil {
		t.Fatalf("ParseErrorPacket: %v", err)
	}
	if code > tftp.ErrOptionRefused {
		t.Fatalf("ERROR code %d is not one RFC 1350/2347 defines", code)
	}
	return code, msg
}

// describe names a datagram for failure messages.
func describe(b []byte) string {
	op, err := tftp.PacketOpcode(b)
	if err != nil {
		return fmt.Sprintf("%d-byte datagram", len(b))
	}
	switch op {
	case tftp.OpDATA, tftp.OpACK:
		if len(b) >= 4 {
			return fmt.Sprintf("%s %d (%d bytes)", op, binary.BigEndian.Uint16(b[2:]), len(b))
		}
	case tftp.OpERROR:
		code, msg, _ := tftp.ParseErrorPacket(b)
		return fmt.Sprintf("ERROR %d %q", code, msg)
	case tftp.OpOACK:
		opts, _ := tftp.ParseOACK(b)
		return fmt.Sprintf("OACK %v", opts)
	}
	return fmt.Sprintf("%s (%d bytes)", op, len(b))
}

// getOpts change how get behaves as a client.
type getOpts struct {
	rollToOne bool // expect block numbers to wrap 65535 -> 1
	ackCopies int  // send every ACK this many extra times (ACK storm)
	// noACK0 stops after the OACK without acknowledging it.
	noACK0 bool
}

// xfer is what a client saw of one read transfer.
type xfer struct {
	data    []byte
	oack    []tftp.Option // options acknowledged; nil when no OACK came
	oackRaw []byte
	hadOACK bool
	errCode int // -1 when no ERROR came
	errMsg  string
	blocks  []uint16 // wire block number of every DATA packet, duplicates included
	tid     netip.AddrPort
	failure string // why the client gave up, "" when it did not
}

// get runs a read transfer as a careful client: it accepts an OACK,
// acknowledges windows (RFC 7440) or every block, re-ACKs the last
// in-order block on a sequence error, and gives up after 3 silent
// timeouts or 60 s. It never fails the test itself: callers judge xfer.
func (p *peer) get(to netip.AddrPort, req []byte, o getOpts) xfer {
	p.t.Helper()
	x := xfer{errCode: -1}
	p.send(to, req)
	blksize, window := int64(tftp.DefaultBlksize), int64(1)
	var idx int64 // absolute number of the last in-order block
	sinceAck := int64(0)
	var lastAck []byte
	ack := func(n uint16) {
		lastAck = tftp.AppendAck(nil, n)
		for range 1 + o.ackCopies {
			p.send(x.tid, lastAck)
		}
	}
	wire := func(i int64) uint16 {
		if o.rollToOne && i > 0 {
			return uint16((i-1)%65535 + 1)
		}
		return uint16(i)
	}
	deadline := time.Now().Add(60 * time.Second)
	timeouts := 0
	for packets := 0; packets < 2_000_000; packets++ {
		if time.Now().After(deadline) {
			x.failure = "transfer took over 60s"
			return x
		}
		b, from, ok := p.recv(3 * time.Second)
		if !ok {
			timeouts++
			if timeouts > 3 || lastAck == nil {
				x.failure = fmt.Sprintf("no packet for 3s after %d blocks", idx)
				return x
			}
			p.send(x.tid, lastAck)
			continue
		}
		timeouts = 0
		if !x.tid.IsValid() {
			if from.Addr() != to.Addr().Unmap() {
				x.failure = fmt.Sprintf("first answer came from %v, not %v", from, to.Addr())
				return x
			}
			x.tid = from
		} else if from != x.tid {
			x.failure = fmt.Sprintf("packet from %v during a transfer with %v", from, x.tid)
			return x
		}
		op, _ := tftp.PacketOpcode(b)
		switch op {
		case tftp.OpERROR:
			code, msg := checkError(p.t, b)
			x.errCode, x.errMsg = int(code), msg
			return x
		case tftp.OpOACK:
			if idx > 0 || x.hadOACK {
				continue // a retransmitted OACK; ACK 0 was sent already
			}
			opts, err := tftp.ParseOACK(b)
			if err != nil {
				x.failure = "malformed OACK: " + err.Error()
				return x
			}
			x.oack, x.oackRaw, x.hadOACK = opts, b, true
			for _, op := range opts {
				var n int64
				fmt.Sscan(op.Value, &n)
				switch strings.ToLower(op.Name) {
				case "blksize":
					blksize = n
				case "windowsize":
					window = n
				}
			}
			if o.noACK0 {
				return x
			}
			ack(0)
		case tftp.OpDATA:
			n, payload, err := tftp.ParseData(b)
			if err != nil {
				x.failure = "malformed DATA"
				return x
			}
			x.blocks = append(x.blocks, n)
			if n != wire(idx+1) {
				// Duplicate or out of order: ACK the last block in order
				// (RFC 7440 §4), which is also the RFC 1350 re-ACK.
				ack(wire(idx))
				sinceAck = 0
				continue
			}
			if int64(len(payload)) > blksize {
				x.failure = fmt.Sprintf("block %d has %d bytes, more than blksize %d", idx+1, len(payload), blksize)
				return x
			}
			idx++
			sinceAck++
			x.data = append(x.data, payload...)
			if int64(len(payload)) < blksize {
				ack(n)
				return x
			}
			if sinceAck >= window {
				ack(n)
				sinceAck = 0
			}
		default:
			x.failure = "unexpected " + describe(b)
			return x
		}
	}
	x.failure = "too many packets"
	return x
}

// oackMap returns the OACK as lower-case name -> value.
func (x xfer) oackMap() map[string]string {
	if !x.hadOACK {
		return nil
	}
	m := make(map[string]string, len(x.oack))
	for _, o := range x.oack {
		m[strings.ToLower(o.Name)] = o.Value
	}
	return m
}

// rrq builds a read request from NUL-separated fields after the opcode,
// exactly as given (no NUL is added): tests need malformed ones.
func rrq(fields string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(tftp.OpRRQ)), fields...)
}

// opts turns "name", "value", ... into options.
func opts(kv ...string) []tftp.Option {
	var o []tftp.Option
	for i := 0; i+1 < len(kv); i += 2 {
		o = append(o, tftp.Option{Name: kv[i], Value: kv[i+1]})
	}
	return o
}

func pseudoRandom(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer collects the server's log; the server writes from many
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func writeFile(name string, b []byte) error { return os.WriteFile(name, b, 0o644) }

// assertEmptyDir fails when dir holds anything: a refused or failed
// upload must leave neither the file nor a temporary.
func assertEmptyDir(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	for _, e := range ents {
		t.Errorf("%s: unexpected %q left behind", dir, e.Name())
	}
}

// startRead sends a plain RRQ for name and returns the first DATA packet
// and the transfer's address (TID).
func (p *peer) startRead(to netip.AddrPort, name string, o ...tftp.Option) ([]byte, netip.AddrPort) {
	p.t.Helper()
	b, tid := p.ask(to, tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet, o...))
	if op, _ := tftp.PacketOpcode(b); op != tftp.OpDATA && op != tftp.OpOACK {
		p.t.Fatalf("RRQ %s: got %s, want DATA or OACK", name, describe(b))
	}
	return b, tid
}

// expectFrom waits for the next datagram, which must come from tid.
func (p *peer) expectFrom(tid netip.AddrPort, d time.Duration) []byte {
	p.t.Helper()
	b, from, ok := p.recv(d)
	if !ok {
		p.t.Fatalf("nothing from %v within %v", tid, d)
	}
	if from != tid {
		p.t.Fatalf("got %s from %v, want a packet from the transfer %v", describe(b), from, tid)
	}
	return b
}

// expectData requires b to be DATA with block n.
func expectData(t testing.TB, b []byte, n uint16) []byte {
	t.Helper()
	blk, payload, err := tftp.ParseData(b)
	if err != nil || blk != n {
		t.Fatalf("got %s, want DATA %d", describe(b), n)
	}
	return payload
}

// finishRead acknowledges block n and then runs the rest of a lock-step
// read transfer; it returns the payloads of blocks n+1.. .
func (p *peer) finishRead(tid netip.AddrPort, n uint16, blksize int) []byte {
	p.t.Helper()
	var data []byte
	for i := 0; i < 100000; i++ {
		p.send(tid, tftp.AppendAck(nil, n))
		b := p.expectFrom(tid, 5*time.Second)
		blk, payload, err := tftp.ParseData(b)
		if err != nil {
			p.t.Fatalf("got %s, want DATA %d", describe(b), n+1)
		}
		if blk == n {
			continue // a retransmission crossed our ACK
		}
		if blk != n+1 {
			p.t.Fatalf("got DATA %d, want %d", blk, n+1)
		}
		data = append(data, payload...)
		n++
		if len(payload) < blksize {
			p.send(tid, tftp.AppendAck(nil, n))
			return data
		}
	}
	p.t.Fatalf("transfer did not end")
	return nil
}

// put runs a lock-step write of data with the given options and returns
// the error code the server sent (-1 when it took everything).
func (p *peer) put(to netip.AddrPort, name string, data []byte, blksize int, o ...tftp.Option) (int, string) {
	p.t.Helper()
	b, tid := p.ask(to, tftp.AppendRequest(nil, tftp.OpWRQ, name, tftp.ModeOctet, o...))
	switch op, _ := tftp.PacketOpcode(b); op {
	case tftp.OpERROR:
		code, msg := checkError(p.t, b)
		return int(code), msg
	case tftp.OpACK, tftp.OpOACK:
	default:
		p.t.Fatalf("WRQ: got %s, want ACK 0, OACK or ERROR", describe(b))
	}
	for n := 1; ; n++ {
		chunk := data[min(len(data), (n-1)*blksize):min(len(data), n*blksize)]
		p.send(tid, tftp.AppendData(nil, uint16(n), chunk))
		for {
			b := p.expectFrom(tid, 5*time.Second)
			if op, _ := tftp.PacketOpcode(b); op == tftp.OpERROR {
				code, msg := checkError(p.t, b)
				return int(code), msg
			}
			blk, err := tftp.ParseAck(b)
			if err != nil {
				p.t.Fatalf("got %s, want ACK %d", describe(b), n)
			}
			if blk == uint16(n) {
				break
			}
		}
		if len(chunk) < blksize {
			return -1, ""
		}
	}
}

// finishBlocks reads the rest of blocks.bin after block 1 (got holds
// what came so far) and checks the whole file arrived.
func (f *fixture) finishBlocks(t *testing.T, p *peer, tid netip.AddrPort, got []byte) {
	t.Helper()
	got = append(got, p.finishRead(tid, 1, 512)...)
	if !bytes.Equal(got, f.blocks) {
		t.Errorf("got %d bytes, want %d", len(got), len(f.blocks))
	}
}
