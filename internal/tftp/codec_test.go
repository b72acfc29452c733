package tftp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		want     Packet
		wantCode ErrorCode // 0 with wantErr=false means success
		wantErr  bool
	}{
		{"plain RRQ", []byte("\x00\x01SEP001122334455.cnf.xml\x00octet\x00"),
			Packet{Op: OpRRQ, Filename: "SEP001122334455.cnf.xml", Mode: ModeOctet}, 0, false},
		{"mode is case-insensitive", []byte("\x00\x01f\x00OcTeT\x00"),
			Packet{Op: OpRRQ, Filename: "f", Mode: ModeOctet}, 0, false},
		{"netascii WRQ", []byte("\x00\x02f\x00NETASCII\x00"),
			Packet{Op: OpWRQ, Filename: "f", Mode: ModeNetascii}, 0, false},
		{"options", []byte("\x00\x01f\x00octet\x00blksize\x001428\x00tsize\x000\x00"),
			Packet{Op: OpRRQ, Filename: "f", Mode: ModeOctet, Options: []Option{{"blksize", "1428"}, {"tsize", "0"}}}, 0, false},
		{"option name without value (atftpd CVE-2021-46671)", []byte("\x00\x01f\x00octet\x00blksize\x00"),
			Packet{Op: OpRRQ, Filename: "f", Mode: ModeOctet, Options: []Option{{"blksize", ""}}, Truncated: true}, 0, false},
		{"option value without NUL", []byte("\x00\x01f\x00octet\x00blksize\x001428"),
			Packet{Op: OpRRQ, Filename: "f", Mode: ModeOctet, Options: []Option{{"blksize", "1428"}}, Truncated: true}, 0, false},
		{"mail mode refused", []byte("\x00\x01f\x00mail\x00"), Packet{}, ErrIllegalOp, true},
		{"unknown mode", []byte("\x00\x01f\x00binary\x00"), Packet{}, ErrIllegalOp, true},
		{"missing mode (dnsmasq CVE-2009-2958)", []byte("\x00\x01f\x00"), Packet{}, ErrIllegalOp, true},
		{"empty filename", []byte("\x00\x01\x00octet\x00"), Packet{}, ErrIllegalOp, true},
		{"filename without NUL (atftpd CVE-2003-0380)", append([]byte("\x00\x01"), bytes.Repeat([]byte("A"), 1400)...), Packet{}, ErrIllegalOp, true},
		{"one byte", []byte("\x00"), Packet{}, ErrIllegalOp, true},
		{"empty", nil, Packet{}, ErrIllegalOp, true},
		{"ACK is not a request", []byte("\x00\x04\x00\x01"), Packet{}, ErrIllegalOp, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(tt.in)
			if tt.wantErr {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Code != tt.wantCode {
					t.Fatalf("ParseRequest error = %v, want code %d", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if got.Op != tt.want.Op || got.Filename != tt.want.Filename || got.Mode != tt.want.Mode ||
				got.Truncated != tt.want.Truncated || !equalOptions(got.Options, tt.want.Options) {
				t.Fatalf("ParseRequest = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func equalOptions(a, b []Option) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRequestRoundTrip(t *testing.T) {
	opts := []Option{{"blksize", "8"}, {"tsize", "0"}, {"timeout", "3"}, {"windowsize", "64"}}
	b := AppendRequest(nil, OpRRQ, "dir/file.bin", ModeOctet, opts...)
	p, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Filename != "dir/file.bin" || !equalOptions(p.Options, opts) {
		t.Fatalf("round trip = %+v", p)
	}
}

func TestErrorPacket(t *testing.T) {
	long := strings.Repeat("x", 600) + "\x00tail"
	b := AppendError(nil, ErrFileNotFound, long)
	// dnsmasq 2.77 leaked buffer bytes in long error replies: the packet
	// must be exactly header + capped message + NUL.
	if len(b) != 4+MaxErrorMessage+1 || b[len(b)-1] != 0 || bytes.IndexByte(b[4:], 0) != len(b)-5 {
		t.Fatalf("error packet of %d bytes is not header+%d+NUL", len(b), MaxErrorMessage)
	}
	code, msg, err := ParseErrorPacket(b)
	if err != nil || code != ErrFileNotFound || len(msg) != MaxErrorMessage {
		t.Fatalf("ParseErrorPacket = %d %q %v", code, msg, err)
	}
	// ERROR packets of 4 bytes and less crashed atftpd (CVE-2019-11365).
	for _, short := range [][]byte{{0, 5}, {0, 5, 0}, {0, 5, 0, 1}} {
		code, msg, err := ParseErrorPacket(short)
		if len(short) < 4 && err == nil {
			t.Errorf("ParseErrorPacket(%x) accepted a short packet", short)
		}
		if len(short) == 4 && (err != nil || code != 1 || msg != "") {
			t.Errorf("ParseErrorPacket(%x) = %d %q %v", short, code, msg, err)
		}
	}
}

func TestDataAckOACK(t *testing.T) {
	d := AppendData(nil, 65535, []byte("abc"))
	n, payload, err := ParseData(d)
	if err != nil || n != 65535 || string(payload) != "abc" {
		t.Fatalf("ParseData = %d %q %v", n, payload, err)
	}
	a := AppendAck(nil, 7)
	if n, err := ParseAck(a); err != nil || n != 7 {
		t.Fatalf("ParseAck = %d %v", n, err)
	}
	if _, err := ParseAck([]byte{0, 4, 0}); err == nil {
		t.Fatal("3-byte ACK accepted")
	}
	o := AppendOACK(nil, []Option{{"blksize", "1428"}, {"tsize", "99"}})
	opts, err := ParseOACK(o)
	if err != nil || !equalOptions(opts, []Option{{"blksize", "1428"}, {"tsize", "99"}}) {
		t.Fatalf("ParseOACK = %v %v", opts, err)
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct {
		in, want string
		code     ErrorCode // expected refusal; 0 = accepted
	}{
		{"SEP001122334455.cnf.xml", "SEP001122334455.cnf.xml", 0},
		{"/SEP001122334455.cnf.xml", "SEP001122334455.cnf.xml", 0},
		{"./SIP001122334455.cnf", "SIP001122334455.cnf", 0},
		{`\firmware\P0S3-08-12-00.bin`, "firmware/P0S3-08-12-00.bin", 0},
		{"//a//./b/", "a/b", 0},
		{"%s%n%x", "%s%n%x", 0},
		{"../etc/passwd", "", ErrAccessViolation},
		{`..\..\boot.ini`, "", ErrAccessViolation},
		{"a/../../b", "", ErrAccessViolation},
		{"a/..", "", ErrAccessViolation},
		{"bad\x01name", "", ErrAccessViolation},
		{"tab\tname", "", ErrAccessViolation},
		{strings.Repeat("a", MaxNameLen+1), "", ErrAccessViolation},
		{"/", "", ErrFileNotFound},
		{"./.", "", ErrFileNotFound},
	}
	for _, tt := range tests {
		got, err := CleanName(tt.in)
		if tt.code != 0 {
			var te *Error
			if !errors.As(err, &te) || te.Code != tt.code {
				t.Errorf("CleanName(%q) = %q, %v; want error code %d", tt.in, got, err, tt.code)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
