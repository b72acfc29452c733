//go:build linux

// Package tftpload drives thousands of concurrent TFTP downloads from one
// process for benchmarks. Its clients run on reactor loops like the
// server's transfers, so the load generator costs little CPU per packet
// and a benchmark on a small machine measures the server, not the client.
// Every byte received is compared with the expected file.
package tftpload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"phoneboot/internal/reactor"
	"phoneboot/internal/tftp"
)

// Spec describes one storm: Clients downloads of File started at once.
type Spec struct {
	Server  netip.AddrPort
	File    string
	Want    []byte // the file's content; every transfer is checked against it
	Clients int
	// Source gives client i its own source address (each simulated phone
	// its own, as on a real network); nil means 127.0.0.1.
	Source func(i int) netip.Addr
	// Blksize and Windowsize are requested as options when non-zero.
	Blksize, Windowsize int
	// Loss is the fraction of DATA received that is thrown away and of
	// ACKs that are not sent: a lossy network both ways, seeded by Seed.
	Loss float64
	Seed uint64
	// Timeout is the client's retransmission timeout (default 1s, like
	// most clients); Retries bounds resends without progress (default 5).
	Timeout time.Duration
	Retries int
}

// Result of a storm.
type Result struct {
	Durations []time.Duration // of the successful transfers, from their request
	Bytes     int64           // payload received and checked
	Failures  int
	FirstErr  error
	Wall      time.Duration
	// Resends counts the clients' retransmissions after a timeout;
	// Unexpected the DATA blocks that were not the next one (the server's
	// retransmissions seen from outside).
	Resends, Unexpected int
	// Lost counts the packets thrown away on purpose (Spec.Loss).
	Lost int
	// Negotiated counts the successful transfers by their block size and
	// window after option negotiation.
	Negotiated map[[2]int]int
}

// Run starts every client at once and returns when all have ended or ctx
// is done (the rest then count as failures).
func Run(ctx context.Context, spec Spec) (Result, error) {
	if spec.Timeout <= 0 {
		spec.Timeout = time.Second
	}
	if spec.Retries <= 0 {
		spec.Retries = 5
	}
	var loops []*reactor.Loop
	for range runtime.GOMAXPROCS(0) {
		l, err := reactor.New()
		if err != nil {
			return Result{}, err
		}
		loops = append(loops, l)
		go l.Run()
	}
	defer func() {
		for _, l := range loops {
			l.Stop()
		}
	}()
	bufs := make([][]byte, len(loops))
	for i := range bufs {
		bufs[i] = make([]byte, tftp.MaxBlksize+8)
	}

	clients := make([]*client, spec.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		c := &client{spec: &spec, expected: 1, blksize: 512, window: 1, fd: -1,
			rnd: rand.New(rand.NewPCG(spec.Seed, uint64(i)))}
		c.finished = wg.Done
		clients[i] = c
		wg.Add(1)
		l := loops[i%len(loops)]
		c.buf = bufs[i%len(loops)]
		src := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if spec.Source != nil {
			src = spec.Source(i)
		}
		l.Post(func() {
			c.start = time.Now()
			if err := c.open(src); err != nil {
				c.fail(err)
				c.Close()
				return
			}
			c.sendRequest(time.Now())
			if err := l.Add(c, c.fd, -1); err != nil {
				c.fail(err)
				c.Close()
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		for _, l := range loops {
			l.Post(func() {
				l.Sweep(func(h reactor.Handler) { h.(*client).fail(ctx.Err()) })
			})
		}
		<-done
	}
	r := Result{Wall: time.Since(start), Negotiated: map[[2]int]int{}}
	for _, c := range clients {
		r.Resends += c.resends
		r.Unexpected += c.unexpected
		r.Lost += c.lost
		if c.err != nil {
			r.Failures++
			if r.FirstErr == nil {
				r.FirstErr = c.err
			}
			continue
		}
		r.Bytes += c.got
		r.Durations = append(r.Durations, c.took)
		r.Negotiated[[2]int{c.blksize, c.window}]++
	}
	return r, nil
}

// client is one download: a reactor.Handler on a loop.
type client struct {
	spec     *Spec
	rnd      *rand.Rand
	fd       int
	buf      []byte // the loop's receive buffer
	start    time.Time
	deadline time.Time
	done     bool
	err      error
	finished func()

	connected  bool
	request    []byte
	ack        [4]byte
	acked      bool // the last packet sent is an ACK (else the request)
	expected   int64
	blksize    int
	window     int
	inWindow   int
	nacked     bool
	retries    int
	resends    int
	lost       int
	unexpected int
	got        int64
	took       time.Duration
}

func (c *client) open(src netip.Addr) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	c.fd = fd
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
		return err
	}
	var opts []tftp.Option
	if c.spec.Blksize > 0 {
		opts = append(opts, tftp.Option{Name: "blksize", Value: strconv.Itoa(c.spec.Blksize)})
	}
	if c.spec.Windowsize > 0 {
		opts = append(opts, tftp.Option{Name: "windowsize", Value: strconv.Itoa(c.spec.Windowsize)})
	}
	c.request = tftp.AppendRequest(nil, tftp.OpRRQ, c.spec.File, tftp.ModeOctet, opts...)
	return nil
}

func (c *client) sendRequest(now time.Time) {
	unix.Sendto(c.fd, c.request, 0, &unix.SockaddrInet4{Addr: c.spec.Server.Addr().As4(), Port: int(c.spec.Server.Port())})
	c.deadline = now.Add(c.spec.Timeout)
}

func (c *client) sendAck(block uint16, now time.Time) {
	c.ack = [4]byte{0, byte(tftp.OpACK), byte(block >> 8), byte(block)}
	c.acked = true
	c.deadline = now.Add(c.spec.Timeout)
	if c.spec.Loss > 0 && c.rnd.Float64() < c.spec.Loss {
		c.lost++
		return // lost on the way
	}
	unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&c.ack[0])), 4, 0, 0, 0)
}

func (c *client) fail(err error) {
	if c.done {
		return
	}
	c.err, c.done = err, true
}

// Readable implements reactor.Handler.
func (c *client) Readable(_ int, now time.Time) {
	var n int
	if c.connected {
		r, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(c.fd), uintptr(unsafe.Pointer(&c.buf[0])), uintptr(len(c.buf)), 0, 0, 0)
		if errno != 0 {
			return
		}
		n = int(r)
	} else {
		// The first answer names the server's transfer port: connect to
		// it, so the kernel filters strays and sends skip the route lookup.
		r, from, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			return
		}
		if err := unix.Connect(c.fd, from); err != nil {
			c.fail(err)
			return
		}
		c.connected = true
		n = r
	}
	c.handle(c.buf[:n], now)
}

func (c *client) handle(b []byte, now time.Time) {
	op, err := tftp.PacketOpcode(b)
	if err != nil {
		return
	}
	switch op {
	case tftp.OpERROR:
		code, msg, _ := tftp.ParseErrorPacket(b)
		c.fail(fmt.Errorf("server error %d: %s", code, msg))
	case tftp.OpOACK:
		if c.expected != 1 {
			return
		}
		opts, err := tftp.ParseOACK(b)
		if err != nil {
			c.fail(err)
			return
		}
		for _, o := range opts {
			v, _ := strconv.Atoi(o.Value)
			switch strings.ToLower(o.Name) {
			case "blksize":
				c.blksize = v
			case "windowsize":
				c.window = v
			}
		}
		c.sendAck(0, now)
	case tftp.OpDATA:
		c.data(b, now)
	}
}

func (c *client) data(b []byte, now time.Time) {
	n, payload, _ := tftp.ParseData(b)
	if n != uint16(c.expected) {
		c.unexpected++
		// A resend or a block after a gap: ACK the last block in order
		// (in lock-step every time, as RFC 1350 clients do; with a window
		// once until progress, RFC 7440).
		if c.window == 1 || !c.nacked {
			c.nacked, c.inWindow = true, 0
			c.sendAck(uint16(c.expected-1), now)
		}
		return
	}
	if c.spec.Loss > 0 && c.rnd.Float64() < c.spec.Loss {
		c.lost++
		return // lost on the way
	}
	off := (c.expected - 1) * int64(c.blksize)
	want := c.spec.Want[min(off, int64(len(c.spec.Want))):]
	want = want[:min(len(want), c.blksize)]
	if !bytes.Equal(payload, want) {
		c.fail(fmt.Errorf("block %d: %d bytes differ from the file (%d expected)", c.expected, len(payload), len(want)))
		return
	}
	c.got += int64(len(payload))
	c.expected++
	c.inWindow++
	c.nacked, c.retries = false, 0
	last := len(payload) < c.blksize
	if last || c.inWindow >= c.window {
		c.inWindow = 0
		c.sendAck(n, now)
	} else {
		c.deadline = now.Add(c.spec.Timeout)
	}
	if last {
		c.took = now.Sub(c.start)
		c.done = true
	}
}

// Expire implements reactor.Handler.
func (c *client) Expire(now time.Time) {
	if c.retries >= c.spec.Retries {
		c.fail(errors.New("timed out: " + strconv.Itoa(c.retries) + " resends without an answer at block " + strconv.FormatInt(c.expected, 10)))
		return
	}
	c.retries++
	c.resends++
	if c.acked {
		c.sendAck(uint16(c.expected-1), now)
	} else {
		c.sendRequest(now)
	}
}

// Deadline implements reactor.Handler.
func (c *client) Deadline() time.Time { return c.deadline }

// Done implements reactor.Handler.
func (c *client) Done() bool { return c.done }

// Close implements reactor.Handler.
func (c *client) Close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	c.finished()
}
