package analyze

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/event"
)

// Bounds of the TCP reassembly: only the request line, the status line
// and Content-Length are read, from at most maxHead bytes of headers.
const (
	maxHead    = 4096
	maxPending = 8 // requests waiting for their responses, per connection
	connIdle   = 2 * time.Minute
)

type connKey struct{ client, server netip.AddrPort }

// httpReq is a request waiting for its response.
type httpReq struct {
	at     time.Time
	method string
	path   string
}

// side is one direction of a connection: the next byte expected and
// the head being read (or the body being skipped).
type side struct {
	next   uint32
	synced bool
	broken bool // a gap: the capture missed bytes; this side is no longer read
	head   []byte
	skip   int64 // body bytes still to skip
}

type httpConn struct {
	key      connKey
	last     time.Time
	req, res side
	pending  []httpReq
	// The response being read: its request, status, length and bytes.
	cur    *httpReq
	status int
	length int64
	got    int64
}

// httpFlows follows HTTP connections to the phone HTTP port.
type httpFlows struct {
	a       *analyzer
	max     int
	conns   map[connKey]*httpConn
	dropped int
}

func newHTTPFlows(a *analyzer, max int) *httpFlows {
	return &httpFlows{a: a, max: max, conns: map[connKey]*httpConn{}}
}

// segment takes a TCP segment; only those of the HTTP port are read.
func (h *httpFlows) segment(d datagram) {
	port := h.a.o.HTTPPort
	var k connKey
	toServer := d.dst.Port() == port
	switch {
	case toServer:
		k = connKey{d.src, d.dst}
	case d.src.Port() == port:
		k = connKey{d.dst, d.src}
	default:
		h.a.skipped++
		return
	}
	c := h.conns[k]
	if c == nil {
		if !toServer || !d.tcp.SYN && len(d.payload) == 0 {
			return
		}
		if len(h.conns) >= h.max {
			h.dropped++
			return
		}
		c = &httpConn{key: k}
		h.conns[k] = c
	}
	c.last = d.t
	s := &c.res
	if toServer {
		s = &c.req
	}
	seq := d.tcp.Seq
	if d.tcp.SYN {
		s.next, s.synced = seq+1, true
	}
	if len(d.payload) > 0 && !s.broken {
		data := d.payload
		if !s.synced {
			s.next, s.synced = seq, true // joined mid-connection
		}
		switch off := int32(s.next - seq); {
		case off < 0:
			s.broken = true // bytes missing from the capture
		case int(off) >= len(data):
			data = nil // a retransmission
		default:
			data = data[off:]
		}
		if data != nil && !s.broken {
			s.next += uint32(len(data))
			if toServer {
				h.request(c, d, data)
			} else {
				h.response(c, d, data)
			}
		}
	}
	if d.tcp.FIN || d.tcp.RST {
		if !toServer || d.tcp.RST {
			h.close(c, d.t)
		}
	}
}

// request reads request heads from the client's bytes.
func (h *httpFlows) request(c *httpConn, d datagram, data []byte) {
	s := &c.req
	for len(data) > 0 {
		if s.skip > 0 {
			n := min(int64(len(data)), s.skip)
			s.skip -= n
			data = data[n:]
			continue
		}
		end, rest := headEnd(s, data)
		if end < 0 {
			return
		}
		head := s.head[:end]
		s.head, data = s.head[:0], rest
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		f := strings.Fields(string(line))
		if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/") {
			h.a.problem(d.n, "HTTP request from %v: not a request line: %.60q", c.key.client, line)
			s.broken = true
			return
		}
		if n, ok := contentLength(head); ok {
			s.skip = n
		}
		path := f[1]
		if i := strings.IndexAny(path, "?#"); i >= 0 {
			path = path[:i]
		}
		if len(c.pending) < maxPending {
			c.pending = append(c.pending, httpReq{at: d.t, method: f[0], path: strings.TrimPrefix(path, "/")})
		}
		h.a.served(c.key.server.Addr(), "http", c.key.server.Port(), c.key.client.Addr())
		h.a.phones.sawName(c.key.client.Addr(), strings.TrimPrefix(path, "/"), d.t)
	}
}

// response reads response heads and skips their bodies.
func (h *httpFlows) response(c *httpConn, d datagram, data []byte) {
	s := &c.res
	for len(data) > 0 {
		if c.cur != nil {
			if c.length < 0 {
				c.got += int64(len(data)) // to the end of the connection
				return
			}
			n := min(int64(len(data)), c.length-c.got)
			c.got += n
			data = data[n:]
			if c.got >= c.length {
				h.done(c, d.t, "")
			}
			continue
		}
		end, rest := headEnd(s, data)
		if end < 0 {
			return
		}
		head := s.head[:end]
		s.head, data = s.head[:0], rest
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		f := strings.Fields(string(line))
		status := 0
		if len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") {
			status, _ = strconv.Atoi(f[1])
		}
		if status < 100 || status > 999 {
			h.a.problem(d.n, "HTTP response to %v: not a status line: %.60q", c.key.client, line)
			s.broken = true
			return
		}
		if status < 200 {
			continue // 100 Continue
		}
		var r httpReq
		if len(c.pending) > 0 {
			r, c.pending = c.pending[0], c.pending[1:]
		}
		c.cur, c.status, c.got = &r, status, 0
		n, ok := contentLength(head)
		switch {
		case r.method == "HEAD" || status == 204 || status == 304:
			c.length = 0
		case ok:
			c.length = n
		default:
			c.length = -1
		}
		if c.length == 0 {
			h.done(c, d.t, "")
		}
	}
}

// headEnd adds data to the side's head and returns where the head ends
// in it (-1: not yet) and the bytes after it.
func headEnd(s *side, data []byte) (int, []byte) {
	before := len(s.head)
	room := maxHead - before
	take := data[:min(len(data), room)]
	s.head = append(s.head, take...)
	if i := bytes.Index(s.head, []byte("\r\n\r\n")); i >= 0 {
		used := i + 4 - before
		return i, data[used:]
	}
	if len(s.head) >= maxHead {
		s.broken, s.head = true, nil // a head this long is no phone's
	}
	return -1, nil
}

// contentLength reads Content-Length from a head.
func contentLength(head []byte) (int64, bool) {
	for _, l := range bytes.Split(head, []byte("\r\n"))[1:] {
		name, v, ok := bytes.Cut(l, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(name)), "content-length") {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}

// done ends the response being read as an event.
func (h *httpFlows) done(c *httpConn, t time.Time, why string) {
	r := c.cur
	c.cur = nil
	if r.path == "" && r.method == "" {
		return // a response to a request the capture did not show
	}
	ev := event.Event{Time: r.at, IP: c.key.client.Addr(), Source: event.HTTP, Kind: event.Request, File: r.path,
		Bytes: c.got, Duration: t.Sub(r.at), Outcome: httpOutcome(r.method, c.status),
		Facts: event.Facts{Server: c.key.server.Addr()}}
	ev.Detail = fmt.Sprintf("%s from %v: %d", r.method, c.key.server, c.status)
	if c.length > 0 && c.got < c.length {
		ev.Outcome = event.Aborted
		why = fmt.Sprintf("%d of %d bytes before the connection ended", c.got, c.length)
	}
	if why != "" {
		ev.Detail += "; " + why
	}
	h.a.emit(ev)
}

// httpOutcome is the outcome of a status, as phonehttp records its own.
func httpOutcome(method string, status int) event.Outcome {
	switch {
	case method == "HEAD" && status < 300:
		return event.Probe
	case status == 206:
		return event.Partial
	case status < 400:
		return event.OK
	case status == 404:
		return event.NotFound
	case status == 403:
		return event.Denied
	case status == 429 || status == 503:
		return event.Refused
	case status < 500:
		return event.BadRequest
	}
	return event.Failed
}

// close ends a connection: a response read to its end is done; requests
// without a response are reported as such.
func (h *httpFlows) close(c *httpConn, t time.Time) {
	delete(h.conns, c.key)
	if c.cur != nil {
		h.done(c, t, "")
	}
	for _, r := range c.pending {
		h.a.emit(event.Event{Time: r.at, IP: c.key.client.Addr(), Source: event.HTTP, Kind: event.Request, File: r.path,
			Outcome: event.Timeout, Facts: event.Facts{Server: c.key.server.Addr()}, Detail: fmt.Sprintf("%s to %v: no response in the capture", r.method, c.key.server)})
	}
}

// sweep closes idle connections (all, at the end).
func (h *httpFlows) sweep(now time.Time, all bool) {
	for _, c := range h.conns {
		if all || now.Sub(c.last) > connIdle {
			h.close(c, now)
		}
	}
}
