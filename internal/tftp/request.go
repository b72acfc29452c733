package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"phoneboot/internal/files"
)

// Request is what a Resolver or Receiver sees of a read or write request.
type Request struct {
	Op       Opcode
	Filename string // exactly as the client sent it
	// Path is Filename made safe: separators unified to '/', leading "/"
	// and "./" removed, "." and empty components dropped. It never contains
	// "..", NUL or control characters and never starts with '/'.
	Path    string
	Mode    Mode
	Options []Option       // as requested, before negotiation
	Remote  netip.AddrPort // the client's address and TID
	Local   netip.Addr     // the address the request was sent to
}

// File is what a Resolver returns: random access to bytes whose size is
// known before the first one is sent (tsize needs it).
type File = files.File

// Resolver maps a read request to a file. It is the seam through which the
// rest of phoneboot serves generated configs, firmware and plain files. An
// error should be an *Error (or wrap fs.ErrNotExist / fs.ErrPermission) so
// that the client gets the right code; anything else becomes "access
// violation" and its text goes to the transfer's event, not to the client.
type Resolver interface {
	Open(ctx context.Context, req *Request) (File, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, req *Request) (File, error)

// Open calls f.
func (f ResolverFunc) Open(ctx context.Context, req *Request) (File, error) { return f(ctx, req) }

// Upload receives the bytes of a write request.
type Upload interface {
	io.Writer
	// Commit makes the file visible; it is called once, after the last block.
	Commit() error
	// Abort discards everything written; called when the transfer fails.
	Abort()
}

// Receiver accepts write requests. A server without one refuses them.
type Receiver interface {
	Create(ctx context.Context, req *Request) (Upload, error)
}

// Error is a failure to send to the client as an ERROR packet.
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("tftp error %d: %s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// asError maps any error to what the client is told. Unknown errors become
// "access violation" with a generic message: internal details (paths,
// errno) stay in the server's log.
func asError(err error) *Error {
	var te *Error
	var fe *files.Error
	switch {
	case errors.As(err, &te):
		return te
	case errors.As(err, &fe):
		switch fe.Code {
		case files.NotFound:
			return &Error{Code: ErrFileNotFound, Message: fe.Msg}
		case files.Denied:
			return &Error{Code: ErrAccessViolation, Message: fe.Msg}
		}
		return &Error{Code: ErrUndefined, Message: fe.Msg}
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Code: ErrFileNotFound, Message: "file not found"}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Code: ErrAccessViolation, Message: "access denied"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: ErrUndefined, Message: "server shutting down"}
	}
	return &Error{Code: ErrAccessViolation, Message: "access denied"}
}

// resolverDetail is what the event and the log say of a resolver's
// refusal. A files.Error or an *Error is already in words and is said as
// the client is told it; so are the errors asError maps by kind (a file
// that does not exist, a permission): their text is a system call's
// ("openat RINGLIST.DAT: no such file or directory") and never goes out.
// Anything else is a resolver that failed in a way it did not describe,
// a bug: its text is kept for whoever reads the log.
func resolverDetail(err error, told *Error) string {
	var te *Error
	var fe *files.Error
	switch {
	case errors.As(err, &te), errors.As(err, &fe),
		errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return told.Message
	}
	var pe *fs.PathError
	var errno syscall.Errno
	if errors.As(err, &pe) || errors.As(err, &errno) {
		return told.Message + " (the file could not be opened)"
	}
	return told.Message + " (the resolver failed: " + err.Error() + ")"
}

// MaxNameLen is the longest file name accepted. Cisco phones ask for names
// under 64 bytes; long names are refused before any lookup (atftpd
// CVE-2003-0380 overflowed on them).
const MaxNameLen = 255

// CleanName turns a file name as phones send it into a safe relative path:
// '\' is a separator, leading "/" and "./" are removed, "." and empty
// components are dropped. Names with "..", control characters or over
// MaxNameLen bytes are refused with "access violation" (RFC 1123 §4.2.3.4:
// access control over path names).
func CleanName(name string) (string, error) {
	if len(name) > MaxNameLen {
		return "", Errorf(ErrAccessViolation, "file name is %d bytes long, the limit is %d", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return "", Errorf(ErrAccessViolation, "file name contains control character 0x%02x", c)
		}
	}
	name = strings.ReplaceAll(name, `\`, "/")
	parts := strings.Split(name, "/")
	kept := parts[:0]
	for _, p := range parts {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", Errorf(ErrAccessViolation, "file name must not contain \"..\"")
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return "", Errorf(ErrFileNotFound, "file not found")
	}
	return strings.Join(kept, "/"), nil
}

// Outcome is how a transfer ended.
type Outcome string

// Outcomes. Exactly one per request.
const (
	OutcomeOK       Outcome = "ok"
	OutcomeNotFound Outcome = "not-found" // error 1 sent
	OutcomeDenied   Outcome = "denied"    // error 2 or other refusal of the name
	OutcomeRefused  Outcome = "refused"   // server busy or rate-limited
	OutcomeBadReq   Outcome = "bad-request"
	OutcomeTimeout  Outcome = "timeout"  // the client stopped answering
	OutcomeAborted  Outcome = "aborted"  // the client sent an ERROR
	OutcomeProbe    Outcome = "probe"    // the client took the OACK (tsize) and left
	OutcomeFailed   Outcome = "failed"   // a local error (disk, resolver)
	OutcomeShutdown Outcome = "shutdown" // cut by server shutdown
)

// Event describes one finished request: every request, served or refused,
// ends in exactly one Event.
type Event struct {
	Start       time.Time
	Duration    time.Duration
	Op          Opcode
	Remote      netip.AddrPort
	Local       netip.Addr
	File        string   // as requested
	Mode        Mode     //
	Options     []Option // as requested
	Blksize     int      // negotiated
	Windowsize  int      //
	Outcome     Outcome
	Error       string // why it failed; empty on success
	Size        int64  // file size (read) or bytes received (write); -1 unknown
	Bytes       int64  // payload bytes acknowledged by the client, or received
	Retransmits int    // DATA/OACK/ACK packets sent again after a timeout
	Notes       []string
	// Silent is set when the request was refused without an answer: sent
	// to a broadcast address, or over the rate limit again within a second.
	Silent bool
}
