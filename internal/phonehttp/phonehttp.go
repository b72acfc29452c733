// Package phonehttp serves provision's files over HTTP, on the port
// (6970) where 79x1, 79x2, 79x5 and 797x firmware looks before TFTP: the
// same resolver, attribution, identity policy and events as phonetftp,
// and the same per-address rate limit as the TFTP server
// (internal/ratelimit). An HTTP request becomes a provision.Request, a
// refusal a status with its reason in words, and every answered GET or
// HEAD goes to provision.Transferred and into the phone's timeline as an
// event of source "http".
package phonehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/files"
	"phoneboot/internal/firmware"
	"phoneboot/internal/phonestate"
	"phoneboot/internal/provision"
	"phoneboot/internal/ratelimit"
	"phoneboot/internal/tftp"
)

// Service is an http.Handler over a Provisioner. Fields must not change
// once it serves.
type Service struct {
	Prov *provision.Provisioner
	// Record receives each request as an event of the phone it is
	// attributed to; nil records none. It must not block.
	Record func(event.Event)

	// RatePerSource limits new requests per client address per second,
	// with bursts of RateBurst, as the TFTP server's --tftp-rate does
	// (0: no limit). Over it a request gets 429 and Retry-After.
	RatePerSource float64
	RateBurst     int
	// MaxActive caps the requests served at once; more get 503 and
	// Retry-After (0: 10000, as TFTP's --tftp-max-transfers).
	MaxActive int
	// StallTimeout is how long one write to a client may block before
	// the download is abandoned as timed out (0: 30s): a phone that
	// stops reading holds no connection for ever.
	StallTimeout time.Duration
	Logger       *slog.Logger
	// Shared, when set, serves the catalog's loads to the other nodes of
	// a fleet under firmware.SharedPrefix (see shared.go); nil: 404.
	Shared LoadFiles

	once   sync.Once
	limit  *ratelimit.Keyed[netip.Addr] // nil: no per-source limit
	active atomic.Int64
}

func (s *Service) init() {
	s.once.Do(func() {
		if s.RatePerSource > 0 {
			s.limit = ratelimit.NewAddr(s.RatePerSource, s.RateBurst, ratelimit.MaxKeys)
		}
		if s.MaxActive <= 0 {
			s.MaxActive = 10000
		}
		if s.StallTimeout <= 0 {
			s.StallTimeout = 30 * time.Second
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// exchange is one request and how it ended: the facts of its event.
type exchange struct {
	start   time.Time
	remote  netip.AddrPort
	local   netip.Addr
	file    string // as the phone spelled it (the event's File)
	name    string // what provision is told of (cleaned when it could be)
	outcome event.Outcome
	bytes   int64
	detail  string
	whole   bool // the whole file reached the phone (provision learns from it)
	quiet   bool // refused by the rate limit, whose sender was told within the second: logged at debug
}

// ServeHTTP answers GET and HEAD for a file.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(s.StallTimeout))
	cw := &countingWriter{ResponseWriter: w, rc: rc, stall: s.StallTimeout}
	x := &exchange{start: time.Now(), local: localAddr(r), file: clip(strings.TrimPrefix(r.URL.Path, "/"))}
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "phoneboot cannot tell the address of this request", http.StatusBadRequest)
		return
	}
	x.remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if strings.HasPrefix(r.URL.Path, firmware.SharedPrefix) {
		s.serveShared(cw, r, x) // a node, not a phone: nothing for provision
		return
	}
	if !s.serve(cw, r, x) {
		return // no file request (another method): nothing to learn or record
	}
	rc.SetWriteDeadline(time.Now().Add(s.StallTimeout)) // bounds the flush after the handler
	s.finish(x)
}

// serve answers r into w and sets x's outcome; false when r is not a
// file request at all.
func (s *Service) serve(w *countingWriter, r *http.Request, x *exchange) bool {
	if s.limit != nil {
		if ok, tell := s.limit.Allow(x.remote.Addr(), x.start); !ok {
			// Told by address only: a refused request names no phone,
			// as over TFTP, where it is refused before it is parsed.
			msg := fmt.Sprintf("too many requests from %s: the limit is %g per second; try again in a second", x.remote.Addr(), s.RatePerSource)
			x.quiet = !tell // a flood must not flood the log too
			w.Header().Set("Retry-After", "1")
			s.refuse(w, x, http.StatusTooManyRequests, event.Refused, msg)
			return true
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, r.Method+" is not served here: phones GET their files (Allow: GET, HEAD)", http.StatusMethodNotAllowed)
		return false
	}
	x.name = x.file
	clean, status, msg := fileName(r)
	if status != 0 {
		outcome := event.BadRequest
		if status == http.StatusNotFound {
			outcome = event.NotFound
		}
		s.refuse(w, x, status, outcome, msg)
		return true
	}
	x.name = clean
	if n := s.active.Add(1); n > int64(s.MaxActive) {
		s.active.Add(-1)
		w.Header().Set("Retry-After", "1")
		s.refuse(w, x, http.StatusServiceUnavailable, event.Refused, fmt.Sprintf("server busy: %d downloads running; try again in a second", n-1))
		return true
	}
	defer s.active.Add(-1)

	f, err := s.Prov.Open(r.Context(), provision.Request{Name: clean, Client: x.remote, Local: x.local, Transport: event.HTTP})
	if err != nil {
		status, outcome, msg := refusal(err)
		if outcome == event.Failed {
			s.Logger.Error("phone http: cannot open a file", "file", x.file, "client", x.remote.String(), "err", err)
		}
		s.refuse(w, x, status, outcome, msg)
		return true
	}
	defer f.Close()
	s.send(w, r, x, f)
	return true
}

// send writes f (or the range asked for) and says how it went.
func (s *Service) send(w *countingWriter, r *http.Request, x *exchange, f files.File) {
	h := w.Header()
	h.Set("Content-Type", contentType(x.name))
	// What a name gets depends on the phone and its upgrade: never cached.
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	size := f.Size()
	// ServeContent answers HEAD, Range (206, 416) and the conditional
	// requests; it never lists a folder.
	http.ServeContent(w, r, "", modTime(f), io.NewSectionReader(f, 0, size))
	if w.err == nil && r.Method == http.MethodGet {
		if err := w.rc.Flush(); err != nil && w.err == nil {
			w.err = err
		}
	}
	x.bytes = w.n
	switch {
	case w.err != nil:
		// The client is gone or stopped reading: a cut-off transfer, as
		// a TFTP timeout.
		x.outcome, x.detail = event.Aborted, fmt.Sprintf("the phone closed the connection after %d of %d bytes", w.n, size)
		if errors.Is(w.err, os.ErrDeadlineExceeded) {
			x.outcome, x.detail = event.Timeout, fmt.Sprintf("the phone stopped reading after %d of %d bytes (%v without progress)", w.n, size, s.StallTimeout)
		}
	case r.Method == http.MethodHead:
		x.outcome = event.Probe
	case w.status == http.StatusOK:
		x.outcome, x.whole = event.OK, w.n == size
	case w.status == http.StatusNotModified:
		// The phone has this file already, as it would after a download.
		x.outcome, x.whole, x.detail = event.OK, true, "not modified since the phone's copy"
	case w.status == http.StatusPartialContent && h.Get("Content-Range") == fmt.Sprintf("bytes 0-%d/%d", size-1, size) && w.n == size:
		x.outcome, x.whole, x.detail = event.OK, true, "the whole file, asked for as a range"
	case w.status == http.StatusPartialContent:
		// Part of the file is not the file: no load is learned from it.
		x.outcome, x.detail = event.Partial, "range "+h.Get("Content-Range")
		if x.detail == "range " {
			x.detail = "several ranges of " + fmt.Sprint(size) + " bytes"
		}
	case w.status == http.StatusRequestedRangeNotSatisfiable:
		x.outcome, x.detail = event.BadRequest, fmt.Sprintf("the range asked for (%s) is outside the file (%d bytes)", clip(r.Header.Get("Range")), size)
		fmt.Fprintln(w.ResponseWriter, x.detail) // instead of ServeContent's words (muted)
	default:
		x.outcome, x.detail = event.BadRequest, fmt.Sprintf("answered %d %s", w.status, http.StatusText(w.status))
	}
}

// refuse answers status with msg, the reason in words, and notes it.
func (s *Service) refuse(w http.ResponseWriter, x *exchange, status int, outcome event.Outcome, msg string) {
	x.outcome, x.detail = outcome, msg
	http.Error(w, msg, status)
}

// finish tells provision how the request ended and records it, exactly as
// phonetftp does for a TFTP read.
func (s *Service) finish(x *exchange) {
	d := time.Since(x.start)
	lvl := slog.LevelWarn
	switch {
	case x.outcome == event.OK, x.outcome == event.Probe, x.outcome == event.Partial, x.outcome == event.NotFound:
		lvl = slog.LevelInfo // phones ask for many files that do not exist; that is normal
	case x.quiet:
		lvl = slog.LevelDebug
	}
	s.Logger.Log(context.Background(), lvl, "http transfer", "client", x.remote.String(), "file", x.file,
		"outcome", string(x.outcome), "bytes", x.bytes, "duration", d, "detail", x.detail)
	att := s.Prov.Transferred(provision.Request{Name: x.name, Client: x.remote, Local: x.local, Transport: event.HTTP}, x.whole)
	if s.Record == nil || att.Verdict != phonestate.Own {
		return // a foreign request is in the phone's timeline as provision's event.Foreign
	}
	s.Record(event.Event{Time: x.start, MAC: att.MAC, IP: x.remote.Addr(), Source: event.HTTP, Kind: event.Request,
		File: x.file, Outcome: x.outcome, Bytes: x.bytes, Duration: d, Detail: x.detail})
}

// fileName is the file r asks for, cleaned as TFTP cleans names
// (tftp.CleanName: '\' is a separator, no "..", no control characters),
// or the status and reason of a refusal.
func fileName(r *http.Request) (name string, status int, msg string) {
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		return "", http.StatusBadRequest, "phoneboot serves files by name only: no query string (?…)"
	}
	if strings.Trim(r.URL.Path, "/.") == "" {
		return "", http.StatusNotFound, "no file named: ask for one, e.g. /SEP0011223344AA.cnf.xml (phoneboot lists no folder)"
	}
	name, err := tftp.CleanName(r.URL.Path)
	if err != nil {
		var te *tftp.Error
		if errors.As(err, &te) {
			if te.Code == tftp.ErrFileNotFound {
				return "", http.StatusNotFound, te.Message
			}
			return "", http.StatusBadRequest, te.Message
		}
		return "", http.StatusBadRequest, "file name refused"
	}
	return name, 0, ""
}

// refusal maps an error of provision's Open to a status, an outcome and
// the reason as the phone is told it (files.Error says it in words;
// anything else is phoneboot's failure, whose text stays in the log).
func refusal(err error) (int, event.Outcome, string) {
	var fe *files.Error
	switch {
	case errors.As(err, &fe) && fe.Code == files.NotFound:
		return http.StatusNotFound, event.NotFound, fe.Msg
	case errors.As(err, &fe) && fe.Code == files.Denied:
		return http.StatusForbidden, event.Denied, fe.Msg
	case errors.As(err, &fe):
		return http.StatusInternalServerError, event.Failed, fe.Msg
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound, event.NotFound, "file not found"
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden, event.Denied, "access denied"
	}
	return http.StatusInternalServerError, event.Failed, "phoneboot could not open this file; see its log"
}

// contentType is text/xml for XML files, else bytes.
func contentType(name string) string {
	if strings.HasSuffix(strings.ToLower(name), ".xml") {
		return "text/xml"
	}
	return "application/octet-stream"
}

// modTime is the file's modification time when it is a file on disk
// (the catalog's and large root files); zero for files rendered or
// cached in memory, which then get no Last-Modified.
func modTime(f any) time.Time {
	if st, ok := f.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			return fi.ModTime()
		}
	}
	return time.Time{}
}

// localAddr is the address the phone reached phoneboot on.
func localAddr(r *http.Request) netip.Addr {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// clip bounds what an event keeps of a name the client chose (the
// request line may be 16 KiB); TFTP refuses names over tftp.MaxNameLen.
func clip(s string) string {
	if len(s) <= tftp.MaxNameLen {
		return s
	}
	return strings.ToValidUTF8(s[:tftp.MaxNameLen], "") + "…"
}

// countingWriter counts the body bytes that reached the connection,
// keeps the status and the first write error, and gives every write
// StallTimeout to make progress.
type countingWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	stall  time.Duration
	status int
	n      int64
	err    error
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

// Write counts p; a 416's body is send's to write, not ServeContent's.
func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == http.StatusRequestedRangeNotSatisfiable {
		return len(p), nil
	}
	return c.write(p)
}

func (c *countingWriter) write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.rc.SetWriteDeadline(time.Now().Add(c.stall))
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
