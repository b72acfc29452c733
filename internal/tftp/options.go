package tftp

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Option bounds from the RFCs.
const (
	minTimeout = 1     // RFC 2349: 1..255 seconds
	maxTimeout = 255   //
	maxWindow  = 65535 // RFC 7440: 1..65535 blocks
)

// Limits are the server's own bounds on negotiated options.
type Limits struct {
	MaxBlksize    int   // largest blksize granted; 0 means MaxBlksize (65464)
	MaxWindowsize int   // largest windowsize granted; 0 means 64
	MaxUpload     int64 // largest write accepted, for the WRQ tsize check
}

func (l Limits) maxBlksize() int {
	if l.MaxBlksize <= 0 || l.MaxBlksize > MaxBlksize {
		return MaxBlksize
	}
	return max(l.MaxBlksize, MinBlksize)
}

func (l Limits) maxWindowsize() int {
	if l.MaxWindowsize <= 0 {
		return 64
	}
	return min(l.MaxWindowsize, maxWindow)
}

// Params are the transfer parameters after negotiation.
type Params struct {
	Blksize    int
	Windowsize int
	// Timeout is the retransmission timeout the client asked for with the
	// timeout option; zero means the server's adaptive timeout.
	Timeout time.Duration
	// Tsize is the size the client announced in a WRQ, -1 if none.
	Tsize int64
	// OACK lists the accepted options, in request order, with the values we
	// answer. Empty means no OACK: the transfer is plain RFC 1350.
	OACK []Option
	// Notes say which requested options were dropped or changed and why, for
	// the transfer's event: at most MaxNotes, then one that counts the rest.
	Notes   []string
	unnoted int
}

// Negotiate applies RFC 2347 to a request. size is the file's size for an
// RRQ (answered in tsize). Unknown options are omitted from the OACK (RFC
// 2347 §"Negotiation Protocol"); options with an invalid value are dropped
// and noted, never silently. The only refusal is a WRQ whose announced size
// is over the upload limit (RFC 2349: error 3).
func Negotiate(req Packet, size int64, lim Limits) (p Params, err error) {
	p = Params{Blksize: DefaultBlksize, Windowsize: 1, Tsize: -1}
	defer p.countUnnoted()
	seen := make(map[string]bool, len(req.Options))
	for i, o := range req.Options {
		name := strings.ToLower(o.Name)
		if req.Truncated && i == len(req.Options)-1 {
			p.note("dropped option %.32q: not NUL-terminated", o.Name)
			continue
		}
		if seen[name] {
			p.note("dropped repeated option %.32q", o.Name)
			continue
		}
		seen[name] = true
		switch name {
		case "blksize": // RFC 2348
			n, ok := parseCount(o.Value)
			switch {
			case !ok || n < MinBlksize:
				p.note("dropped blksize %.32q: must be a number from 8 to 65464", o.Value)
				continue
			case n > int64(lim.maxBlksize()):
				p.note("blksize %.32q lowered to %d", o.Value, lim.maxBlksize())
				n = int64(lim.maxBlksize())
			}
			p.Blksize = int(n)
			p.accept(o.Name, strconv.Itoa(p.Blksize))
		case "windowsize": // RFC 7440
			n, ok := parseCount(o.Value)
			switch {
			case !ok || n < 1:
				p.note("dropped windowsize %.32q: must be a number from 1 to 65535", o.Value)
				continue
			case n > int64(lim.maxWindowsize()):
				p.note("windowsize %.32q lowered to %d", o.Value, lim.maxWindowsize())
				n = int64(lim.maxWindowsize())
			}
			p.Windowsize = int(n)
			p.accept(o.Name, strconv.Itoa(p.Windowsize))
		case "timeout": // RFC 2349: the answer must equal the request
			n, ok := parseCount(o.Value)
			if !ok || n < minTimeout || n > maxTimeout {
				p.note("dropped timeout %.32q: must be a number of seconds from 1 to 255", o.Value)
				continue
			}
			p.Timeout = time.Duration(n) * time.Second
			p.accept(o.Name, strconv.FormatInt(n, 10))
		case "tsize": // RFC 2349
			if req.Op == OpRRQ {
				// The client should send 0; answer the real size whatever
				// it sent (atftp sends the word "enable").
				if o.Value != "0" {
					p.note("tsize %.32q in a read request treated as 0", o.Value)
				}
				p.accept(o.Name, strconv.FormatInt(size, 10))
				continue
			}
			n, ok := parseCount(o.Value)
			if !ok {
				p.note("dropped tsize %.32q: not a size", o.Value)
				continue
			}
			if lim.MaxUpload > 0 && n > lim.MaxUpload {
				return p, &Error{Code: ErrDiskFull, Message: fmt.Sprintf("upload of %d bytes is over the limit of %d bytes", n, lim.MaxUpload)}
			}
			p.Tsize = n
			p.accept(o.Name, strconv.FormatInt(n, 10))
		default:
			p.note("ignored unknown option %.32q", o.Name)
		}
	}
	return p, nil
}

func (p *Params) accept(name, value string) {
	p.OACK = append(p.OACK, Option{Name: name, Value: value})
}

// MaxNotes bounds the notes of one request: a 65 KB request of 21,000
// empty options must not make 21,000 notes, nor a log line of 655 KB.
const MaxNotes = 16

func (p *Params) note(format string, args ...any) {
	if len(p.Notes) >= MaxNotes {
		p.unnoted++
		return
	}
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}

// countUnnoted ends the notes with how many were left out.
func (p *Params) countUnnoted() {
	if p.unnoted > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("… and %d more options dropped or changed, not listed", p.unnoted))
	}
}

// parseCount parses a non-negative decimal number. A digit string too long
// for int64 saturates (a 20-digit blksize is "very large", not garbage);
// anything else that is not all digits is rejected.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 4096 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<62)/10 {
			n = 1 << 62
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
