package tftptest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
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
)

// randomBytes returns n reproducible bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// startServer runs the real server over loopback UDP on a temp directory
// holding files.
func startServer(t *testing.T, contents map[string][]byte, configure func(*tftp.Server)) (netip.AddrPort, string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range contents {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := files.OpenDir(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	conns, err := tftp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &tftp.Server{Resolver: tftp.ByName(d)}
	if configure != nil {
		configure(srv)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background(), conns[0])
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		d.Close()
	})
	return conns[0].LocalAddr().(*net.UDPAddr).AddrPort(), dir
}

func get(t *testing.T, c *Client, name string, want []byte) Stats {
	t.Helper()
	var buf bytes.Buffer
	st, err := c.Get(context.Background(), name, &buf)
	if err != nil {
		t.Fatalf("Get %s: %v (stats %+v)", name, err, st)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Get %s: got %d bytes, want %d, contents differ", name, buf.Len(), len(want))
	}
	if st.Bytes != int64(len(want)) {
		t.Fatalf("Stats.Bytes = %d, want %d", st.Bytes, len(want))
	}
	return st
}

func TestGetLockstep(t *testing.T) {
	files := map[string][]byte{
		"empty":  {},
		"one":    randomBytes(512, 1), // exact multiple: ends with an empty block
		"small":  randomBytes(100, 2),
		"medium": randomBytes(100_000, 3),
	}
	addr, _ := startServer(t, files, nil)
	c := &Client{Server: addr, Local: netip.MustParseAddr("127.0.0.2")}
	for name, data := range files {
		st := get(t, c, name, data)
		if st.Blksize != 512 || st.Windowsize != 1 || st.Tsize != -1 {
			t.Errorf("%s: negotiated %+v, want plain RFC 1350", name, st)
		}
	}
}

func TestGetBlksizeTsize(t *testing.T) {
	data := randomBytes(300_000, 4)
	addr, _ := startServer(t, map[string][]byte{"f": data}, nil)
	c := &Client{Server: addr, Blksize: 1428, Tsize: true}
	st := get(t, c, "f", data)
	if st.Blksize != 1428 || st.Tsize != int64(len(data)) {
		t.Errorf("negotiated %+v, want blksize 1428 and tsize %d", st, len(data))
	}
}

func TestGetWindowsize(t *testing.T) {
	data := randomBytes(1<<20, 5)
	addr, _ := startServer(t, map[string][]byte{"f": data}, nil)
	c := &Client{Server: addr, Blksize: 1428, Windowsize: 16}
	st := get(t, c, "f", data)
	if st.Blksize != 1428 || st.Windowsize != 16 {
		t.Errorf("negotiated %+v, want blksize 1428 windowsize 16", st)
	}
}

func TestGetRollover(t *testing.T) {
	data := randomBytes(8*65535+1000, 6) // past block 65535
	for _, one := range []bool{false, true} {
		for _, window := range []int{0, 16} {
			if one && window == 0 {
				continue // lock-step over 65k blocks is the slow case: once is enough
			}
			addr, _ := startServer(t, map[string][]byte{"f": data}, func(s *tftp.Server) { s.RolloverToOne = one })
			c := &Client{Server: addr, Blksize: 8, Windowsize: window, RolloverToOne: one}
			get(t, c, "f", data)
		}
	}
}

func TestGetLossConcurrent(t *testing.T) {
	data := randomBytes(256<<10, 7)
	want := sha256.Sum256(data)
	addr, _ := startServer(t, map[string][]byte{"fw.bin": data}, func(s *tftp.Server) {
		s.Timeout = 50 * time.Millisecond
		s.MinTimeout = 10 * time.Millisecond
		s.MaxTimeout = 200 * time.Millisecond
	})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			c := &Client{
				Server:  addr,
				Local:   netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}),
				Timeout: 50 * time.Millisecond,
				Retries: 10,
				Loss:    0.05,
				Seed:    int64(i),
			}
			if i%2 == 1 {
				c.Blksize, c.Windowsize = 1428, 8
			}
			h := sha256.New()
			st, err := c.Get(context.Background(), "fw.bin", h)
			switch {
			case err != nil:
				errs <- err
			case [32]byte(h.Sum(nil)) != want:
				errs <- errors.New("sha256 mismatch")
			case st.Lost == 0:
				// 5% of some 200 to 1000 packets: none lost means Loss
				// did nothing.
				errs <- errors.New("no packet lost: loss not simulated")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestGetServerError(t *testing.T) {
	addr, _ := startServer(t, nil, nil)
	c := &Client{Server: addr}
	_, err := c.Get(context.Background(), "missing.cfg", &bytes.Buffer{})
	var e *Error
	if !errors.As(err, &e) || e.Code != tftp.ErrFileNotFound {
		t.Fatalf("err = %v, want a server error with code 1", err)
	}
	if !strings.Contains(err.Error(), "error 1") {
		t.Errorf("error text %q does not carry the code", err)
	}
}

func TestPut(t *testing.T) {
	up := t.TempDir()
	u, err := tftp.OpenUploadDir(up)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	// The server dallies 2 timeouts after an upload, and Shutdown waits.
	addr, _ := startServer(t, nil, func(s *tftp.Server) { s.Receiver = u; s.Timeout = 100 * time.Millisecond })
	for _, tc := range []struct {
		name    string
		size    int
		blksize int
	}{{"a.log", 100_000, 0}, {"b.log", 4000, 1000}, {"c.log", 0, 0}} {
		data := randomBytes(tc.size, uint64(tc.size))
		c := &Client{Server: addr, Blksize: tc.blksize, Tsize: true}
		st, err := c.Put(context.Background(), tc.name, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("Put %s: %v", tc.name, err)
		}
		if want := max(tc.blksize, 512); st.Blksize != want || st.Bytes != int64(tc.size) {
			t.Errorf("Put %s: stats %+v, want blksize %d and %d bytes", tc.name, st, want, tc.size)
		}
		got, err := os.ReadFile(filepath.Join(up, tc.name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("uploaded %s: %d bytes, err %v; want %d bytes", tc.name, len(got), err, len(data))
		}
	}
}

// fakeServer answers a request with script, run on a fresh socket (the
// transfer's TID). It returns the address to send requests to.
func fakeServer(t *testing.T, script func(tid *net.UDPConn, client netip.AddrPort)) netip.AddrPort {
	t.Helper()
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tid, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		_, from, err := l.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		script(tid, from)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Error("fake server script did not finish")
		}
		l.Close()
		tid.Close()
		<-done
	})
	return l.LocalAddr().(*net.UDPAddr).AddrPort()
}

func expectAck(t *testing.T, c *net.UDPConn, want uint16) {
	t.Helper()
	buf := make([]byte, 100)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Errorf("waiting for ACK %d: %v", want, err)
		return
	}
	if got, err := tftp.ParseAck(buf[:n]); err != nil || got != want {
		t.Errorf("got %x, want ACK %d", buf[:n], want)
	}
}

func TestGetIgnoresWrongTID(t *testing.T) {
	data := randomBytes(700, 8)
	addr := fakeServer(t, func(tid *net.UDPConn, client netip.AddrPort) {
		tid.WriteToUDPAddrPort(tftp.AppendData(nil, 1, data[:512]), client)
		expectAck(t, tid, 1)
		stray, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Error(err)
			return
		}
		defer stray.Close()
		stray.WriteToUDPAddrPort(tftp.AppendData(nil, 2, []byte("bogus")), client)
		time.Sleep(20 * time.Millisecond)
		tid.WriteToUDPAddrPort(tftp.AppendData(nil, 2, data[512:]), client)
		expectAck(t, tid, 2)
	})
	get(t, &Client{Server: addr}, "f", data)
}

func TestGetWindowGap(t *testing.T) {
	// Blocks of 8 bytes, window 4: the server loses block 3 of the first
	// window. The client must ACK 2 exactly once, then take the resend.
	data := randomBytes(8*6+3, 9)
	block := func(i int) []byte { return data[(i-1)*8 : min(i*8, len(data))] }
	addr := fakeServer(t, func(tid *net.UDPConn, client netip.AddrPort) {
		send := func(i int) { tid.WriteToUDPAddrPort(tftp.AppendData(nil, uint16(i), block(i)), client) }
		tid.WriteToUDPAddrPort(tftp.AppendOACK(nil, []tftp.Option{{Name: "blksize", Value: "8"}, {Name: "windowsize", Value: "4"}}), client)
		expectAck(t, tid, 0)
		send(1)
		send(2)
		send(4)
		expectAck(t, tid, 2)
		send(4) // still out of order: no second ACK
		for i := 3; i <= 6; i++ {
			send(i)
		}
		expectAck(t, tid, 6)
		send(7)
		expectAck(t, tid, 7)
	})
	st := get(t, &Client{Server: addr, Blksize: 8, Windowsize: 4}, "f", data)
	if st.Timeouts != 0 {
		t.Errorf("%d timeouts, want none", st.Timeouts)
	}
}

func TestGetTimeoutAndCancel(t *testing.T) {
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	addr := silent.LocalAddr().(*net.UDPAddr).AddrPort()

	c := &Client{Server: addr, Timeout: 20 * time.Millisecond, Retries: 2}
	st, err := c.Get(context.Background(), "f", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "timed out") || st.Timeouts != 2 {
		t.Errorf("silent server: err %v, %d timeouts; want a timeout after 2 retries", err, st.Timeouts)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	c = &Client{Server: addr, Timeout: 10 * time.Second}
	_, err = c.Get(ctx, "f", &bytes.Buffer{})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled Get: err %v after %v", err, time.Since(start))
	}
}

// TestGetAllocations checks that the cost of a transfer does not grow with
// its number of blocks: 10,000 concurrent transfers must not be paced by
// the garbage collector. The server runs in the same process, so this also
// holds it to the same rule.
func TestGetAllocations(t *testing.T) {
	small, big := randomBytes(16<<10, 10), randomBytes(512<<10, 11)
	addr, _ := startServer(t, map[string][]byte{"small": small, "big": big}, nil)
	c := &Client{Server: addr, Blksize: 1024}
	allocs := func(name string) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, err := c.Get(context.Background(), name, discard{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := allocs("small"), allocs("big")
	t.Logf("allocations per transfer: %.0f for 16 blocks, %.0f for 512 blocks", a, b)
	// 496 more blocks; allow a little noise from timers and the runtime.
	if b-a > 20 {
		t.Errorf("allocations: %.0f for 16 blocks, %.0f for 512 blocks: the per-packet path allocates", a, b)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
