// Package tftp is phoneboot's TFTP server: RFC 1350 transfers with the
// RFC 2347 option extension (blksize RFC 2348, timeout and tsize RFC 2349,
// windowsize RFC 7440).
//
// The package knows nothing about phones. It asks a Resolver for the bytes of
// a name and reports every finished transfer as one Event.
//
// codec.go holds the wire format: pure functions over []byte, no I/O.
package tftp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Opcode is the first 16-bit field of every TFTP packet (RFC 1350 §5,
// RFC 2347 adds OACK).
type Opcode uint16

// Opcodes.
const (
	OpRRQ   Opcode = 1
	OpWRQ   Opcode = 2
	OpDATA  Opcode = 3
	OpACK   Opcode = 4
	OpERROR Opcode = 5
	OpOACK  Opcode = 6
)

func (o Opcode) String() string {
	switch o {
	case OpRRQ:
		return "RRQ"
	case OpWRQ:
		return "WRQ"
	case OpDATA:
		return "DATA"
	case OpACK:
		return "ACK"
	case OpERROR:
		return "ERROR"
	case OpOACK:
		return "OACK"
	}
	return fmt.Sprintf("opcode(%d)", uint16(o))
}

// ErrorCode is the code carried by an ERROR packet (RFC 1350 §5, RFC 2347).
type ErrorCode uint16

// Error codes.
const (
	ErrUndefined       ErrorCode = 0
	ErrFileNotFound    ErrorCode = 1
	ErrAccessViolation ErrorCode = 2
	ErrDiskFull        ErrorCode = 3
	ErrIllegalOp       ErrorCode = 4
	ErrUnknownTID      ErrorCode = 5
	ErrFileExists      ErrorCode = 6
	ErrNoSuchUser      ErrorCode = 7
	ErrOptionRefused   ErrorCode = 8
)

// MaxErrorMessage bounds the text we put in an ERROR packet so that it always
// fits a 512-byte datagram (dnsmasq 2.77 leaked buffer bytes past 500).
const MaxErrorMessage = 200

// Packet sizes.
const (
	headerLen      = 4     // opcode + block number / error code
	DefaultBlksize = 512   // RFC 1350
	MinBlksize     = 8     // RFC 2348
	MaxBlksize     = 65464 // RFC 2348
	// MaxRequestLen is the largest request we parse. RFC 2347 limits a
	// request to 512 octets; we are liberal and accept a full datagram, so a
	// client that oversteps gets a proper answer instead of silence.
	MaxRequestLen = 65535
)

// Mode is the transfer mode of a request (RFC 1350 §5).
type Mode string

// Transfer modes. "mail" is obsolete and refused.
const (
	ModeOctet    Mode = "octet"
	ModeNetascii Mode = "netascii"
)

// Option is one name/value pair of a request or OACK, as sent (RFC 2347).
type Option struct {
	Name, Value string
}

// Packet is a decoded request: RRQ or WRQ.
type Packet struct {
	Op       Opcode
	Filename string
	Mode     Mode
	Options  []Option
	// Truncated reports that the last option was cut off (missing NUL).
	Truncated bool
}

// ParseError says why a datagram could not be decoded. Code is the TFTP
// error to answer with.
type ParseError struct {
	Code ErrorCode
	Msg  string
}

func (e *ParseError) Error() string { return e.Msg }

func parseErr(code ErrorCode, format string, args ...any) error {
	return &ParseError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// errShort is returned for datagrams shorter than their fixed header.
var errShort = errors.New("tftp: packet too short")

// PacketOpcode returns the opcode of a datagram, or an error when it has
// fewer than two bytes.
func PacketOpcode(b []byte) (Opcode, error) {
	if len(b) < 2 {
		return 0, errShort
	}
	return Opcode(binary.BigEndian.Uint16(b)), nil
}

// ParseRequest decodes an RRQ or WRQ. File name and mode must end in NUL; a
// last option cut off without its NUL is kept and Truncated is set, so that
// negotiation can say it was dropped (atftpd CVE-2021-46671 read past such a
// field).
func ParseRequest(b []byte) (Packet, error) {
	op, err := PacketOpcode(b)
	if err != nil {
		return Packet{}, parseErr(ErrIllegalOp, "request of %d bytes is too short", len(b))
	}
	if op != OpRRQ && op != OpWRQ {
		return Packet{}, parseErr(ErrIllegalOp, "expected a read or write request, got %s", op)
	}
	if len(b) > MaxRequestLen {
		return Packet{}, parseErr(ErrIllegalOp, "request of %d bytes is too long", len(b))
	}
	rest := b[2:]
	name, rest, ok := cutNUL(rest)
	if !ok {
		return Packet{}, parseErr(ErrIllegalOp, "file name is not NUL-terminated")
	}
	if name == "" {
		return Packet{}, parseErr(ErrIllegalOp, "empty file name")
	}
	mode, rest, ok := cutNUL(rest)
	if !ok {
		return Packet{}, parseErr(ErrIllegalOp, "transfer mode is missing or not NUL-terminated")
	}
	p := Packet{Op: op, Filename: name, Mode: Mode(strings.ToLower(mode))}
	switch p.Mode {
	case ModeOctet, ModeNetascii:
	case "mail":
		return p, parseErr(ErrIllegalOp, "mail mode is obsolete and not supported")
	default:
		return p, parseErr(ErrIllegalOp, "unknown transfer mode %.32q", mode)
	}
	for len(rest) > 0 {
		var on, ov string
		var okName, okValue bool
		on, rest, okName = cutNUL(rest)
		if okName {
			ov, rest, okValue = cutNUL(rest)
		}
		p.Options = append(p.Options, Option{Name: on, Value: ov})
		if !okValue {
			// Name or value runs to the end of the datagram without its
			// NUL: keep it so negotiation can say it was dropped.
			p.Truncated = true
			break
		}
	}
	return p, nil
}

// cutNUL splits b at its first NUL. ok is false when there is none.
func cutNUL(b []byte) (field string, rest []byte, ok bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil, false
	}
	return string(b[:i]), b[i+1:], true
}

// AppendRequest appends an RRQ or WRQ (used by clients and tests).
func AppendRequest(dst []byte, op Opcode, filename string, mode Mode, opts ...Option) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(op))
	dst = append(append(dst, filename...), 0)
	dst = append(append(dst, mode...), 0)
	for _, o := range opts {
		dst = append(append(dst, o.Name...), 0)
		dst = append(append(dst, o.Value...), 0)
	}
	return dst
}

// PutDataHeader writes the 4-byte DATA header into b, whose payload follows
// at b[4:]. It lets the sender read file bytes straight into the datagram.
func PutDataHeader(b []byte, block uint16) {
	binary.BigEndian.PutUint16(b, uint16(OpDATA))
	binary.BigEndian.PutUint16(b[2:], block)
}

// AppendData appends a DATA packet.
func AppendData(dst []byte, block uint16, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(OpDATA))
	dst = binary.BigEndian.AppendUint16(dst, block)
	return append(dst, payload...)
}

// ParseData decodes a DATA packet; payload aliases b.
func ParseData(b []byte) (block uint16, payload []byte, err error) {
	if len(b) < headerLen || Opcode(binary.BigEndian.Uint16(b)) != OpDATA {
		return 0, nil, errShort
	}
	return binary.BigEndian.Uint16(b[2:]), b[headerLen:], nil
}

// AppendAck appends an ACK packet.
func AppendAck(dst []byte, block uint16) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(OpACK))
	return binary.BigEndian.AppendUint16(dst, block)
}

// ParseAck decodes an ACK packet. Trailing bytes are tolerated (some clients
// pad), a short packet is not.
func ParseAck(b []byte) (block uint16, err error) {
	if len(b) < headerLen || Opcode(binary.BigEndian.Uint16(b)) != OpACK {
		return 0, errShort
	}
	return binary.BigEndian.Uint16(b[2:]), nil
}

// AppendError appends an ERROR packet. The message is cut to
// MaxErrorMessage bytes and any NUL in it is replaced, so the packet is
// always well-formed and small.
func AppendError(dst []byte, code ErrorCode, msg string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(OpERROR))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	if len(msg) > MaxErrorMessage {
		msg = msg[:MaxErrorMessage]
	}
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == 0 {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, 0)
}

// ParseErrorPacket decodes an ERROR packet. The message may lack its NUL and
// may be empty: packets of 4 bytes and less were the atftpd CVE-2019-11365
// overflow.
func ParseErrorPacket(b []byte) (code ErrorCode, msg string, err error) {
	if len(b) < headerLen || Opcode(binary.BigEndian.Uint16(b)) != OpERROR {
		return 0, "", errShort
	}
	m, _, _ := cutNUL(b[headerLen:])
	if len(m) > MaxErrorMessage {
		m = m[:MaxErrorMessage]
	}
	return ErrorCode(binary.BigEndian.Uint16(b[2:])), m, nil
}

// AppendOACK appends an option acknowledgement (RFC 2347).
func AppendOACK(dst []byte, opts []Option) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(OpOACK))
	for _, o := range opts {
		dst = append(append(dst, o.Name...), 0)
		dst = append(append(dst, o.Value...), 0)
	}
	return dst
}

// ParseOACK decodes an OACK (used by clients and tests).
func ParseOACK(b []byte) ([]Option, error) {
	if len(b) < 2 || Opcode(binary.BigEndian.Uint16(b)) != OpOACK {
		return nil, errShort
	}
	var opts []Option
	rest := b[2:]
	for len(rest) > 0 {
		name, r, ok := cutNUL(rest)
		if !ok {
			return nil, errors.New("tftp: OACK option name not NUL-terminated")
		}
		val, r, ok := cutNUL(r)
		if !ok {
			return nil, errors.New("tftp: OACK option value not NUL-terminated")
		}
		opts = append(opts, Option{Name: name, Value: val})
		rest = r
	}
	return opts, nil
}
