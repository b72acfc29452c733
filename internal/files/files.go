// Package files is what phoneboot's file services hand out, whatever the
// transport: a File (random access, size known before the first byte, as
// TFTP's tsize and HTTP's Content-Length need), Bytes for files rendered
// in memory, and Error for a refusal the phone is told about in words.
// The TFTP server and the HTTP service each map an Error to their own
// codes; provision and the firmware catalog produce them.
package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// File is random access to bytes whose size is known up front.
type File interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// Bytes is an in-memory File. Generated configs are rendered once into a
// Bytes value and shared by every transfer.
type Bytes []byte

// ReadAt implements io.ReaderAt.
func (b Bytes) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("files: negative offset")
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Size returns len(b).
func (b Bytes) Size() int64 { return int64(len(b)) }

// Close does nothing.
func (Bytes) Close() error { return nil }

// Code is the kind of a refusal.
type Code int

// Codes of Error.
const (
	NotFound Code = iota + 1 // there is no such file for this phone
	Denied                   // the name is refused
	Internal                 // phoneboot failed (its log says why)
)

// Error is a refusal: Msg says in words what is missing or wrong, for the
// phone's screen (TFTP error message) and the event; it never holds
// system-call text.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, fs.ErrNotExist) and fs.ErrPermission true for
// NotFound and Denied.
func (e *Error) Is(target error) bool {
	return e.Code == NotFound && target == fs.ErrNotExist || e.Code == Denied && target == fs.ErrPermission
}

// NotFoundf is a NotFound error with a formatted message.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Code: NotFound, Msg: fmt.Sprintf(format, args...)}
}

// Deniedf is a Denied error with a formatted message.
func Deniedf(format string, args ...any) *Error {
	return &Error{Code: Denied, Msg: fmt.Sprintf(format, args...)}
}

// Internalf is an Internal error with a formatted message.
func Internalf(format string, args ...any) *Error {
	return &Error{Code: Internal, Msg: fmt.Sprintf(format, args...)}
}
