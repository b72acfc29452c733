package syslog

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"phoneboot/internal/testutil"
)

// harness is a Server on 127.0.0.1 with a Handler that queues messages.
type harness struct {
	srv  *Server
	addr *net.UDPAddr
	msgs chan Message
	errc chan error
}

func start(t *testing.T, srv *Server) *harness {
	t.Helper()
	conns, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 {
		t.Fatalf("Listen(127.0.0.1:0) gave %d sockets, want 1", len(conns))
	}
	h := &harness{srv: srv, addr: conns[0].LocalAddr().(*net.UDPAddr), msgs: make(chan Message, 1000), errc: make(chan error, 1)}
	if srv.Handler == nil {
		srv.Handler = func(m Message) {
			select {
			case h.msgs <- m:
			default:
				t.Errorf("handler queue full")
			}
		}
	}
	go func() { h.errc <- srv.Serve(context.Background(), conns[0]) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-h.errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return h
}

// send sends datagrams from 127.0.0.<host> (any port).
func (h *harness) send(t *testing.T, host byte, datagrams ...[]byte) netip.AddrPort {
	t.Helper()
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, host)}, h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range datagrams {
		if _, err := c.Write(d); err != nil {
			t.Fatalf("send %d bytes: %v", len(d), err)
		}
	}
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (h *harness) next(t *testing.T) Message {
	t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message received")
		return Message{}
	}
}

// waitStats waits until the server has read n datagrams.
func (h *harness) waitStats(t *testing.T, n uint64) Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := h.srv.Stats()
		if st.Received >= n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("server read %d datagrams, want %d", st.Received, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSamples(t *testing.T) {
	h := start(t, &Server{})
	year := time.Now().UTC().Year()
	cases := []struct {
		name, in string
		want     Message // Raw, Time, From and Timestamp are checked apart
		ts       time.Time
	}{
		{
			name: "rfc5424",
			in:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event log entry...`,
			want: Message{Format: FormatRFC5424, Priority: 165, Facility: 20, Severity: 5, Hostname: "mymachine.example.com", App: "evntslog", Text: "An application event log entry..."},
			ts:   time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
		},
		{
			name: "rfc3164",
			in:   "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n",
			want: Message{Format: FormatRFC3164, Priority: 34, Facility: 4, Severity: 2, Hostname: "mymachine", App: "su", Text: "'su root' failed for lonvick on /dev/pts/8"},
			ts:   time.Date(year, 10, 11, 22, 14, 15, 0, time.UTC),
		},
		{
			name: "cisco-ios",
			in:   "<189>123: *Mar  1 00:00:00.000: %SYS-5-CONFIG_I: Configured from console by console",
			want: Message{Format: FormatRFC3164, Priority: 189, Facility: 23, Severity: 5, App: "%SYS-5-CONFIG_I", Text: "Configured from console by console"},
			ts:   time.Date(year, 3, 1, 0, 0, 0, 0, time.UTC),
		},
		{
			name: "cisco-ios-seq-host",
			in:   "<189>237: 000485: router1: *Jan  8 19:46:03.295: %LINEPROTO-5-UPDOWN: Line protocol on Interface Loopback100, changed state to up",
			want: Message{Format: FormatRFC3164, Priority: 189, Facility: 23, Severity: 5, Hostname: "router1", App: "%LINEPROTO-5-UPDOWN", Text: "Line protocol on Interface Loopback100, changed state to up"},
			ts:   time.Date(year, 1, 8, 19, 46, 3, 295e6, time.UTC),
		},
		{
			name: "phone-no-pri",
			in:   "Nov 24 14:00:00 SEP001122334455: CFG file not found\x00",
			want: Message{Format: FormatRFC3164, Priority: -1, Facility: -1, Severity: -1, App: "SEP001122334455", Text: "CFG file not found"},
			ts:   time.Date(year, 11, 24, 14, 0, 0, 0, time.UTC),
		},
		{
			name: "phone-debug-line",
			in:   "SEP001122334455: 12: TFTP timeout\r\n",
			want: Message{Format: FormatRaw, Priority: -1, Facility: -1, Severity: -1, Text: "SEP001122334455: 12: TFTP timeout"},
		},
		{
			name: "pri-then-text",
			in:   "<13>Load rejected HC",
			want: Message{Format: FormatRFC3164, Priority: 13, Facility: 1, Severity: 5, Text: "Load rejected HC"},
		},
		{
			name: "latin1",
			in:   "Anmeldung f\xfcr Nebenstelle 42",
			want: Message{Format: FormatRaw, Priority: -1, Facility: -1, Severity: -1, Text: "Anmeldung f\uFFFDr Nebenstelle 42"},
		},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := time.Now()
			from := h.send(t, byte(2+i), []byte(c.in))
			got := h.next(t)
			if got.From != from {
				t.Errorf("From = %v, want %v", got.From, from)
			}
			if got.Time.Before(before) || got.Time.After(time.Now()) {
				t.Errorf("Time = %v, not between send and receive", got.Time)
			}
			if want := strings.ToValidUTF8(strings.Trim(c.in, "\x00\r\n"), "\uFFFD"); got.Raw != want {
				t.Errorf("Raw = %q, want %q", got.Raw, want)
			}
			if c.want.Format == FormatRaw && got.Text != got.Raw {
				t.Errorf("raw message: Text %q != Raw %q", got.Text, got.Raw)
			}
			if !got.Timestamp.Equal(c.ts) {
				t.Errorf("Timestamp = %v, want %v", got.Timestamp, c.ts)
			}
			got.Raw, got.Time, got.From, got.Timestamp = "", time.Time{}, netip.AddrPort{}, time.Time{}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
	st := h.srv.Stats()
	if st.Received != uint64(len(cases)) || st.Parsed != 6 || st.Unparsed != 2 || st.Dropped != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestGarbage(t *testing.T) {
	h := start(t, &Server{})
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	big := []byte(strings.Repeat("<13>phone says: x", 65507/17))
	h.send(t, 2, nil, []byte("\x00\x00\r\n"), []byte("   \n"), random(512), random(65507), []byte("\x01\x02\x03hello\x04\x05\x06\x07"))
	h.send(t, 3, big, []byte("still alive"))
	m := h.next(t)
	if len(m.Raw) != MaxRaw || len(m.Text) > MaxRaw || m.Priority != 13 || !strings.HasPrefix(m.Text, "phone says: x") {
		t.Errorf("64 KiB datagram: len(Raw)=%d len(Text)=%d Priority=%d Text=%.40q", len(m.Raw), len(m.Text), m.Priority, m.Text)
	}
	if m := h.next(t); m.Text != "still alive" || m.Format != FormatRaw {
		t.Errorf("after garbage: %+v", m)
	}
	// The handler saw the last datagram: every counter is final.
	if st := h.srv.Stats(); st.Received != 8 || st.Dropped != 6 || st.Parsed != 1 || st.Unparsed != 1 {
		t.Errorf("Stats = %+v, want 8 received: 6 dropped, 1 parsed, 1 raw", st)
	}
}

func TestRateLimit(t *testing.T) {
	h := start(t, &Server{RatePerSource: 0.5, RateBurst: 3})
	var flood [][]byte
	for i := range 10 {
		flood = append(flood, []byte("<13>flood "+strconv.Itoa(i)))
	}
	h.send(t, 2, flood...)
	h.waitStats(t, 10)
	h.send(t, 3, []byte("<13>other phone"))
	for _, want := range []string{"flood 0", "flood 1", "flood 2", "other phone"} {
		if m := h.next(t); m.Text != want {
			t.Errorf("got %q, want %q", m.Text, want)
		}
	}
	if st := h.srv.Stats(); st.Received != 11 || st.Dropped != 7 || st.RateLimited != 7 || st.Parsed != 4 {
		t.Errorf("Stats = %+v, want 7 rate-limited of 11, 4 parsed", st)
	}
}

func TestShutdown(t *testing.T) {
	conns, err := Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) < 1 || len(conns) > 2 {
		t.Fatalf("Listen(:0) gave %d sockets", len(conns))
	}
	srv := &Server{}
	errc := make(chan error, len(conns))
	for _, c := range conns {
		go func() { errc <- srv.Serve(context.Background(), c) }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range conns {
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background(), c); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown returned %v", err)
	}
}

// TestServeUntilDone: Serve stops when its context is done, with nil, and
// leaves the server to serve other sockets.
func TestServeUntilDone(t *testing.T) {
	h := start(t, &Server{})
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx, c) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after its context ended returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	h.send(t, 2, []byte("<13>still here"))
	select {
	case m := <-h.msgs:
		if m.Text != "still here" {
			t.Errorf("got %q", m.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other socket stopped too")
	}
}

func TestShutdownBlockedHandler(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	h := start(t, &Server{Handler: func(Message) { close(entered); <-release }})
	h.send(t, 2, []byte("hello"))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a blocked handler returned %v", err)
	}
	close(release)
}

// TestLogger talks to util-linux logger(1), the syslog client on every
// Debian machine.
func TestLogger(t *testing.T) {
	logger := testutil.Tool(t, "logger")
	h := start(t, &Server{})
	for _, c := range []struct{ flag, format string }{{"--rfc5424", FormatRFC5424}, {"--rfc3164", FormatRFC3164}} {
		t.Run(c.flag, func(t *testing.T) {
			cmd := exec.Command(logger, "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(h.addr.Port), c.flag, "-p", "local3.warning", "-t", "phoneboot-test", "hello from logger")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd, err, out)
			}
			m := h.next(t)
			t.Logf("raw: %q", m.Raw)
			if m.Format != c.format || m.Priority != 19*8+4 || m.Facility != 19 || m.Severity != 4 ||
				m.App != "phoneboot-test" || m.Text != "hello from logger" || m.Timestamp.IsZero() ||
				!m.From.Addr().IsLoopback() {
				t.Errorf("got %+v", m)
			}
			if d := time.Since(m.Timestamp); d < -time.Minute || d > time.Minute {
				if c.format == FormatRFC5424 { // RFC 3164 stamps are local time read as UTC
					t.Errorf("Timestamp %v is not now", m.Timestamp)
				}
			}
		})
	}
}

func TestParseYearRollover(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC)
	m, ok := Parse([]byte("<13>Dec 31 23:59:59 host app: late"), now)
	if !ok || m.Timestamp != time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC) {
		t.Errorf("got %v %+v", ok, m)
	}
}

func TestParsePRI(t *testing.T) {
	for in, want := range map[string]int{"<0>x": 0, "<191>x": 191, "<192>x": -1, "<999>x": -1, "<1234>x": -1, "<>x": -1, "<13x": -1} {
		m, ok := Parse([]byte(in), time.Now())
		if !ok || m.Priority != want {
			t.Errorf("Parse(%q): ok=%v Priority=%d, want %d", in, ok, m.Priority, want)
		}
	}
}

// FuzzParse: never panics; Raw and Text are valid UTF-8 within the cap;
// fields are consistent.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event`,
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
		"<189>237: 000485: router1: *Jan  8 19:46:03.295: %LINEPROTO-5-UPDOWN: Line protocol",
		"<189>: *Mar  1 00:00:00.000: %SYS-5-CONFIG_I: x",
		"Nov 24 14:00:00 SEP001122334455: hello",
		"<13>1 badly",
		"<999>hi",
		"\x00\x01\x02",
		"",
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := Parse(b, now)
		if !ok {
			return
		}
		if len(m.Raw) > MaxRaw || len(m.Text) > MaxRaw || !utf8.ValidString(m.Raw) || !utf8.ValidString(m.Text) {
			t.Fatalf("Raw/Text over the cap or not UTF-8: %d %d", len(m.Raw), len(m.Text))
		}
		if m.Raw == "" || strings.Trim(m.Raw, "\x00\r\n") != m.Raw {
			t.Fatalf("bad Raw %q", m.Raw)
		}
		switch m.Format {
		case FormatRaw:
			if m.Text != m.Raw || m.Priority != -1 {
				t.Fatalf("raw message %+v", m)
			}
		case FormatRFC3164, FormatRFC5424:
		default:
			t.Fatalf("Format %q", m.Format)
		}
		if m.Priority < -1 || m.Priority > 191 {
			t.Fatalf("Priority %d", m.Priority)
		}
		if m.Priority >= 0 && (m.Facility != m.Priority/8 || m.Severity != m.Priority%8) ||
			m.Priority < 0 && (m.Facility != -1 || m.Severity != -1) {
			t.Fatalf("Priority %d Facility %d Severity %d", m.Priority, m.Facility, m.Severity)
		}
	})
}
