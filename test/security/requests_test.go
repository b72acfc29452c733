package security

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"phoneboot/internal/tftp"
)

// checkOACKRanges requires every value the server acknowledged to be a
// plain decimal number inside the range its RFC allows (RFC 2348 blksize
// 8..65464, RFC 2349 timeout 1..255, RFC 7440 windowsize 1..65535), and
// the OACK to fit a 512-byte datagram (RFC 2347).
func checkOACKRanges(t *testing.T, x xfer, size int) {
	t.Helper()
	if len(x.oackRaw) > 512 {
		t.Errorf("OACK is %d bytes, over 512", len(x.oackRaw))
	}
	for _, o := range x.oack {
		n, err := strconv.ParseInt(o.Value, 10, 64)
		if err != nil || strconv.FormatInt(n, 10) != o.Value {
			t.Errorf("OACK %s=%q is not a plain decimal number", o.Name, o.Value)
			continue
		}
		switch strings.ToLower(o.Name) {
		case "blksize":
			if n < tftp.MinBlksize || n > tftp.MaxBlksize {
				t.Errorf("OACK blksize %d outside 8..65464", n)
			}
		case "timeout":
			if n < 1 || n > 255 {
				t.Errorf("OACK timeout %d outside 1..255", n)
			}
		case "windowsize":
			if n < 1 || n > 65535 {
				t.Errorf("OACK windowsize %d outside 1..65535", n)
			}
		case "tsize":
			if n != int64(size) {
				t.Errorf("OACK tsize %d, want the file size %d", n, size)
			}
		default:
			t.Errorf("OACK acknowledges option %q the server does not implement", o.Name)
		}
	}
}

// TestHugeOptionValues replays tftp-hpa < 5.1 CVE-2011-2199 (buffer
// overflow building the OACK for utimeout) and its "20+ digit values"
// input from peers.md §5 row 1: the OACK must stay small and every value
// must be range-checked, never echoed.
func TestHugeOptionValues(t *testing.T) {
	f := start(t, setup{})
	twenty := "99999999999999999999"
	long := strings.Repeat("9", 4000)
	cases := []struct {
		name string
		opts []tftp.Option
		want map[string]string
	}{
		{"20 digits", opts("utimeout", twenty, "timeout", twenty, "blksize", twenty, "windowsize", twenty, "tsize", twenty),
			map[string]string{"blksize": "65464", "windowsize": "64", "tsize": "1500"}},
		{"4000 digits", opts("blksize", long, "windowsize", long, "timeout", long, "tsize", long),
			map[string]string{"blksize": "65464", "windowsize": "64", "tsize": "1500"}},
		{"5000 digits", opts("blksize", long+strings.Repeat("9", 1000), "timeout", long+long),
			nil},
		{"2^63", opts("blksize", "9223372036854775808", "timeout", "18446744073709551617"),
			map[string]string{"blksize": "65464"}},
		{"negative", opts("blksize", "-1", "timeout", "-2", "windowsize", "-3"),
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			getWithOptions(t, f, c.opts, c.want)
			f.healthy(t)
		})
	}
}

// TestManyOptions is the "many options" half of CVE-2011-2199: thousands
// of unknown and repeated options in one (over-long, RFC 2347 says 512)
// request. Only the options the server implements come back, once each.
func TestManyOptions(t *testing.T) {
	f := start(t, setup{})
	var o []tftp.Option
	for i := range 2000 {
		o = append(o, tftp.Option{Name: fmt.Sprintf("x%04d", i), Value: strconv.Itoa(i)})
	}
	o = append(o, opts("blksize", "1024", "tsize", "0")...)
	for i := range 1000 {
		// Repeats, with values that would each change the transfer.
		o = append(o, tftp.Option{Name: "blksize", Value: strconv.Itoa(8 + i)})
	}
	req := tftp.AppendRequest(nil, tftp.OpRRQ, "ok.bin", tftp.ModeOctet, o...)
	if len(req) < 20000 {
		t.Fatalf("request is only %d bytes", len(req))
	}
	p := newPeer(t, "127.0.0.1")
	x := p.get(f.addr, req, getOpts{})
	if x.errCode >= 0 || x.failure != "" {
		t.Fatalf("transfer failed: error %d %q, %s", x.errCode, x.errMsg, x.failure)
	}
	checkOACKRanges(t, x, len(f.ok))
	if len(x.oack) != 2 {
		t.Errorf("OACK has %d options %v, want blksize and tsize once each", len(x.oack), x.oack)
	}
	if got, want := x.oackMap(), map[string]string{"blksize": "1024", "tsize": "1500"}; !maps.Equal(got, want) {
		t.Errorf("OACK %v, want %v (the first blksize wins)", got, want)
	}
	if !bytes.Equal(x.data, f.ok) {
		t.Errorf("got %d bytes, want %d", len(x.data), len(f.ok))
	}
	f.healthy(t)
}

// TestTinyBlksizeWithEveryOption replays atftpd < 0.7.5 CVE-2021-41054:
// the OACK was written into a buffer of blksize+4 bytes, so blksize 8 plus
// any other option overflowed it. The OACK must carry every option in
// full (it is longer than 12 bytes) and the data must come in 8-byte
// blocks.
func TestTinyBlksizeWithEveryOption(t *testing.T) {
	f := start(t, setup{})
	p := newPeer(t, "127.0.0.1")
	x := p.get(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "ok.bin", tftp.ModeOctet,
		opts("blksize", "8", "tsize", "0", "timeout", "3", "windowsize", "4")...), getOpts{})
	if x.errCode >= 0 || x.failure != "" {
		t.Fatalf("transfer failed: error %d %q, %s", x.errCode, x.errMsg, x.failure)
	}
	checkOACKRanges(t, x, len(f.ok))
	want := map[string]string{"blksize": "8", "tsize": "1500", "timeout": "3", "windowsize": "4"}
	if got := x.oackMap(); !maps.Equal(got, want) {
		t.Errorf("OACK %v, want %v", got, want)
	}
	if len(x.oackRaw) <= 12 {
		t.Errorf("OACK is %d bytes: bounded by blksize+4?", len(x.oackRaw))
	}
	if !bytes.Equal(x.data, f.ok) {
		t.Errorf("got %d bytes, want %d", len(x.data), len(f.ok))
	}
	if want := (len(f.ok) + 8) / 8; len(x.blocks) != want {
		t.Errorf("got %d DATA packets, want %d blocks of 8 bytes", len(x.blocks), want)
	}
	f.healthy(t)
}

// TestMalformedOptionFields replays atftpd CVE-2021-46671 (options.c read
// past the end of the request: option name without value, odd number of
// fields, last option without NUL) and dnsmasq < 2.50 CVE-2009-2958
// (options without values crashed it). The bad option is dropped and the
// file is served; the drop is written in the event's notes, never silent
// (peers.md "never drop silently").
func TestMalformedOptionFields(t *testing.T) {
	f := start(t, setup{})
	cases := []struct {
		name   string
		fields string
		want   map[string]string // nil: no OACK, plain RFC 1350
	}{
		{"name without value", "ok.bin\x00octet\x00blksize\x00", nil},
		{"name without NUL", "ok.bin\x00octet\x00blksize", nil},
		{"value without NUL", "ok.bin\x00octet\x00blksize\x001024", nil},
		{"odd number of fields", "ok.bin\x00octet\x00blksize\x001024\x00tsize\x00", map[string]string{"blksize": "1024"}},
		{"empty name and value", "ok.bin\x00octet\x00\x00\x00", nil},
		{"lone NUL", "ok.bin\x00octet\x00\x00", nil},
		{"good then truncated", "ok.bin\x00octet\x00tsize\x000\x00windowsize", map[string]string{"tsize": "1500"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPeer(t, "127.0.0.1")
			x := p.get(f.addr, rrq(c.fields), getOpts{})
			if x.errCode >= 0 || x.failure != "" {
				t.Fatalf("transfer failed: error %d %q, %s", x.errCode, x.errMsg, x.failure)
			}
			if got := x.oackMap(); !maps.Equal(got, c.want) {
				t.Errorf("OACK %v, want %v", got, c.want)
			}
			if !bytes.Equal(x.data, f.ok) {
				t.Errorf("got %d bytes, want %d", len(x.data), len(f.ok))
			}
			ev := f.event(t, byPeer(p))
			if ev.Outcome != tftp.OutcomeOK || len(ev.Notes) == 0 {
				t.Errorf("event outcome %q notes %q: want ok, with a note saying what was dropped", ev.Outcome, ev.Notes)
			}
			f.healthy(t)
		})
	}
}

// TestOptionEdgeValues sends the out-of-range and odd option values of
// peers.md's extra list (blksize 0/7/65465/non-numeric, windowsize
// 0/65536, duplicated names, names in another case, non-zero tsize in an
// RRQ). RFC 2347: an option the server does not accept is left out of the
// OACK; a value it lowers stays within what was asked (RFC 2348).
func TestOptionEdgeValues(t *testing.T) {
	f := start(t, setup{})
	cases := []struct {
		opts []tftp.Option
		want map[string]string // nil: no OACK
	}{
		{opts("blksize", "0"), nil},
		{opts("blksize", "7"), nil},
		{opts("blksize", "8"), map[string]string{"blksize": "8"}},
		{opts("blksize", "65464"), map[string]string{"blksize": "65464"}},
		{opts("blksize", "65465"), map[string]string{"blksize": "65464"}},
		{opts("blksize", "abc"), nil},
		{opts("blksize", ""), nil},
		{opts("blksize", "+512"), nil},
		{opts("blksize", " 512"), nil},
		{opts("blksize", "0x200"), nil},
		{opts("blksize", "512.0"), nil},
		{opts("windowsize", "0"), nil},
		{opts("windowsize", "1"), map[string]string{"windowsize": "1"}},
		{opts("windowsize", "65536"), map[string]string{"windowsize": "64"}},
		{opts("timeout", "0"), nil},
		{opts("timeout", "256"), nil},
		{opts("timeout", "1"), map[string]string{"timeout": "1"}},
		{opts("timeout", "255"), map[string]string{"timeout": "255"}},
		{opts("tsize", "123"), map[string]string{"tsize": "1500"}},
		{opts("tsize", "-1"), map[string]string{"tsize": "1500"}},
		{opts("tsize", "enable"), map[string]string{"tsize": "1500"}}, // atftp sends the word
		{opts("blksize", "1024", "blksize", "2048"), map[string]string{"blksize": "1024"}},
		{opts("BLKSIZE", "1024", "blksize", "2048"), map[string]string{"blksize": "1024"}},
		{opts("BlkSize", "600", "TSize", "0"), map[string]string{"blksize": "600", "tsize": "1500"}},
		{opts("utimeout", "1000"), nil},   // tftp-hpa's microsecond timeout: not implemented
		{opts("multicast", ""), nil},      // RFC 2090: not implemented
		{opts("%s%n%x", "%n%n"), nil},     // CVE-2006-0328 shape, in an option
		{opts("blksize\xff", "512"), nil}, // not the same name
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q", c.opts), func(t *testing.T) {
			getWithOptions(t, f, c.opts, c.want)
		})
	}
	f.healthy(t)
}

// TestModes covers the mode field (RFC 1350 §5): case-insensitive,
// "mail" is obsolete, anything else is an illegal operation (error 4).
func TestModes(t *testing.T) {
	f := start(t, setup{})
	for _, mode := range []string{"OcTeT", "OCTET"} {
		p := newPeer(t, "127.0.0.1")
		x := p.get(f.addr, rrq("ok.bin\x00"+mode+"\x00"), getOpts{})
		if x.errCode >= 0 || !bytes.Equal(x.data, f.ok) {
			t.Errorf("mode %q: error %d %q, %d bytes", mode, x.errCode, x.errMsg, len(x.data))
		}
	}
	p := newPeer(t, "127.0.0.1")
	if x := p.get(f.addr, rrq("small.txt\x00NetAscii\x00"), getOpts{}); x.errCode >= 0 || string(x.data) != "hello phone\r\n" {
		t.Errorf("netascii: error %d %q, data %q, want LF sent as CR LF", x.errCode, x.errMsg, x.data)
	}
	for _, mode := range []string{"mail", "MAIL", "binary", "octet ", "", strings.Repeat("m", 1000), "%s%n"} {
		p := newPeer(t, "127.0.0.1")
		code, msg := p.askError(f.addr, rrq("ok.bin\x00"+mode+"\x00"))
		if code != tftp.ErrIllegalOp {
			t.Errorf("mode %.20q: error %d %q, want 4 (illegal operation)", mode, code, msg)
		}
	}
	f.healthy(t)
}

// TestTraversalNames replays path escapes: tftp-hpa 5.4 ("path tokenizer
// could bypass path restrictions"), Erlang OTP tftp CVE-2026-21620
// (relative path traversal), tftpy #110 / ptftpd #4 (startswith(root)
// let the sibling "root-private" through), and tftp-now's symlinks out of
// the root (peers.md §5 rows 2, 16, 17). None may ever return the secret;
// ".." is refused with error 2 (access violation), names that are
// literal but absent get error 1, and a name that is served returns
// exactly the file it names.
func TestTraversalNames(t *testing.T) {
	f := start(t, setup{})
	const (
		denied      = int(tftp.ErrAccessViolation)
		notFound    = int(tftp.ErrFileNotFound)
		servedOK    = -1 // served: ok.bin, exactly
		servedInner = -2 // served: sub/inner.bin, exactly
	)
	served := map[int]struct {
		name string
		data []byte
	}{servedOK: {"ok.bin", f.ok}, servedInner: {"sub/inner.bin", []byte("inner")}}
	absPrivate := filepath.ToSlash(f.private)
	cases := []struct {
		name string
		want int // error code, or which file is served
	}{
		{"../root-private/secret.txt", denied},
		{"..\\root-private\\secret.txt", denied},
		{"..\\..\\..\\..\\..\\..\\etc\\passwd", denied},
		{"../../../../../../etc/passwd", denied},
		{"./../root-private/secret.txt", denied},
		{"sub/../../root-private/secret.txt", denied},
		{"sub\\..\\..\\root-private\\secret.txt", denied},
		{"sub/..", denied},
		{"..", denied},
		{"/..", denied},
		{"/etc/passwd", notFound},
		{"//etc//passwd", notFound},
		{absPrivate, notFound}, // a leading "/" means the root, not the file system
		{"root-private/secret.txt", notFound},
		{"....//root-private/secret.txt", notFound},
		{".../secret.txt", notFound},
		{"%2e%2e%2froot-private%2fsecret.txt", notFound}, // URL encoding is literal
		{"%2e%2e/root-private/secret.txt", notFound},
		{"..%5c..%5croot-private%5csecret.txt", notFound},
		{"\xc0\xae\xc0\xae/root-private/secret.txt", notFound}, // overlong UTF-8 "."
		{"\xc0\xae\xc0\xae\xc0\xafroot-private\xc0\xafsecret.txt", notFound},
		{"escape.txt", denied},           // relative symlink out of the root
		{"ESCAPE.TXT", denied},           // found by the case-insensitive lookup, still refused
		{"escapedir/secret.txt", denied}, // symlinked directory out of the root
		{"abs.txt", denied},              // absolute symlink
		{"sub/", notFound},               // a directory is not a file
		{"/", notFound},
		{".", notFound},
		{"./", notFound},
		{"//", notFound},
		{"\\", notFound},
		{"sub//inner.bin", servedInner},
		{"/sub/./inner.bin", servedInner},
		{"sub\\inner.bin", servedInner},
		{"SUB/INNER.BIN", servedInner},
		{"./ok.bin", servedOK},
		{"ok.bin/", servedOK}, // empty components are dropped
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q", c.name), func(t *testing.T) {
			p := newPeer(t, "127.0.0.1")
			x := p.get(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, c.name, tftp.ModeOctet), getOpts{})
			if bytes.Contains(x.data, []byte(secret)) {
				t.Fatalf("SERVED THE FILE OUTSIDE THE ROOT for %q", c.name)
			}
			if x.failure != "" {
				t.Fatalf("client: %s", x.failure)
			}
			if want, ok := served[c.want]; ok {
				if x.errCode >= 0 {
					t.Fatalf("error %d %q, want %s served", x.errCode, x.errMsg, want.name)
				}
				if !bytes.Equal(x.data, want.data) {
					t.Fatalf("served %d bytes (%.20q), want %s (%d bytes)", len(x.data), x.data, want.name, len(want.data))
				}
				return
			}
			if x.errCode != c.want {
				t.Fatalf("got error %d %q (%d bytes of data), want error %d", x.errCode, x.errMsg, len(x.data), c.want)
			}
		})
	}
	f.healthy(t)
}

// TestControlCharacterNames: tftp-hpa 5.4's list (peers.md §5 row 2)
// includes control characters; they could forge log lines or terminal
// escapes. Refused with error 2; a NUL ends the name, so what follows is
// taken as the mode and refused with error 4.
func TestControlCharacterNames(t *testing.T) {
	f := start(t, setup{})
	for _, name := range []string{"ok.bin\x01", "ok\r.bin", "ok\n.bin", "\x1b[31mok.bin", "ok.bin\x7f", "ok\t.bin", "ok.bin\r\nlevel=ERROR forged"} {
		p := newPeer(t, "127.0.0.1")
		if code, msg := p.askError(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet)); code != tftp.ErrAccessViolation {
			t.Errorf("%q: error %d %q, want 2", name, code, msg)
		}
	}
	p := newPeer(t, "127.0.0.1")
	if code, msg := p.askError(f.addr, rrq("ok\x00.bin\x00octet\x00")); code != tftp.ErrIllegalOp {
		t.Errorf("NUL inside the name: error %d %q, want 4 (mode \".bin\" is unknown)", code, msg)
	}
	if strings.Contains(f.logs.String(), "\nlevel=ERROR forged") {
		t.Errorf("a file name forged a log line")
	}
	f.healthy(t)
}

// TestLongNames replays atftpd 0.6 CVE-2003-0380 (stack overflow on a
// long file name; Snort SID 1941) and dnsmasq < 2.50 CVE-2009-2957 (heap
// overflow with a long name plus root/prefix expansion): names of 255 to
// 65000 bytes, and a datagram that is all file name with no NUL.
func TestLongNames(t *testing.T) {
	f := start(t, setup{})
	// A 255-byte name is the longest allowed and a legal Linux file name.
	name255 := strings.Repeat("a", 251) + ".bin"
	must(t, writeFile(filepath.Join(f.root, name255), f.ok))
	p := newPeer(t, "127.0.0.1")
	if x := p.get(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, name255, tftp.ModeOctet), getOpts{}); x.errCode >= 0 || !bytes.Equal(x.data, f.ok) {
		t.Errorf("255-byte name that exists: error %d %q, %d bytes", x.errCode, x.errMsg, len(x.data))
	}
	for _, n := range []int{255, 256, 300, 1000, 4096, 16384, 65000} {
		for _, fill := range []string{"b", "../", "%s", "\\"} {
			name := strings.Repeat(fill, n/len(fill)+1)[:n]
			want := tftp.ErrAccessViolation
			if n <= tftp.MaxNameLen && fill != "../" {
				want = tftp.ErrFileNotFound
			}
			p := newPeer(t, "127.0.0.1")
			code, msg := p.askError(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet, opts("blksize", "1428", "tsize", "0")...))
			if code != want {
				t.Errorf("%d-byte name of %q: error %d %q, want %d", n, fill, code, msg, want)
			}
		}
	}
	// The largest IPv4 UDP payload, all file name, no NUL anywhere.
	for _, n := range []int{3, 512, 65507} {
		b := rrq(strings.Repeat("A", n-2))
		p := newPeer(t, "127.0.0.1")
		if code, msg := p.askError(f.addr, b); code != tftp.ErrIllegalOp {
			t.Errorf("%d-byte request without NUL: error %d %q, want 4", n, code, msg)
		}
	}
	f.healthy(t)
}

// TestLongMissingNameError replays the dnsmasq 2.77 fix: an ERROR for a
// missing file with a 500+ byte name was built with a miscomputed length
// and leaked bytes of a shared buffer. checkError (run on every ERROR)
// requires nothing after the message's NUL and at most 512 bytes.
func TestLongMissingNameError(t *testing.T) {
	f := start(t, setup{})
	for _, n := range []int{200, 250, 255, 256, 500, 501, 511, 512, 513, 600, 1400} {
		name := "missing-" + strings.Repeat("x", n-len("missing-"))
		p := newPeer(t, "127.0.0.1")
		b, _ := p.ask(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet))
		code, msg := checkError(t, b)
		want := tftp.ErrFileNotFound
		if n > tftp.MaxNameLen {
			want = tftp.ErrAccessViolation
		}
		if code != want {
			t.Errorf("%d-byte missing name: error %d %q, want %d", n, code, msg, want)
		}
		if len(b) != 4+len(msg)+1 {
			t.Errorf("%d-byte missing name: ERROR is %d bytes for a %d-byte message", n, len(b), len(msg))
		}
	}
	f.healthy(t)
}

// TestFormatStringNames replays Tftpd32 <= 2.81 CVE-2006-0328 (format
// string in the GET file name; Tftpd32 4.60 then forbade "%"). The names
// are plain data: error 1, and neither the ERROR nor the server log shows
// a formatting artefact (the fixture checks the log for "%!").
func TestFormatStringNames(t *testing.T) {
	f := start(t, setup{})
	for _, name := range []string{"%s%n%x%s%n%x", "%n%n%n%n%n%n", "%99999999s", "%p%p%p%p", "%.9999999f", "%d%d%d%d%d%d%d%d%d%d", "SEP%s.cnf.xml"} {
		p := newPeer(t, "127.0.0.1")
		code, msg := p.askError(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, name, tftp.ModeOctet))
		if code != tftp.ErrFileNotFound {
			t.Errorf("%q: error %d %q, want 1", name, code, msg)
		}
		if strings.Contains(msg, "%!") || strings.Contains(msg, "MISSING") {
			t.Errorf("%q: ERROR message %q shows a formatting artefact", name, msg)
		}
	}
	f.healthy(t)
}

// TestMalformedRequests replays dnsmasq < 2.50 CVE-2009-2958 (NULL
// dereference on a request with a missing mode or empty name) and the
// "missing NULs" of tftp-hpa 5.4's out-of-bounds read fix (peers.md §5
// rows 2, 10): each gets ERROR 4 (illegal operation), for RRQ and WRQ.
func TestMalformedRequests(t *testing.T) {
	f := start(t, setup{upload: true})
	for _, op := range []tftp.Opcode{tftp.OpRRQ, tftp.OpWRQ} {
		for _, fields := range []string{
			"",                       // opcode only
			"ok.bin",                 // no NUL at all
			"ok.bin\x00",             // no mode
			"ok.bin\x00octet",        // mode without NUL
			"\x00octet\x00",          // empty name
			"ok.bin\x00\x00",         // empty mode
			"\x00\x00",               // nothing
			"\x00",                   // one NUL
			"ok.bin\x00\xff\xfe\x00", // binary mode field
		} {
			b := append([]byte{0, byte(op)}, fields...)
			p := newPeer(t, "127.0.0.1")
			if code, msg := p.askError(f.addr, b); code != tftp.ErrIllegalOp {
				t.Errorf("%s %q: error %d %q, want 4", op, fields, code, msg)
			}
		}
	}
	assertEmptyDir(t, f.upload)
	f.healthy(t)
}

// getWithOptions fetches ok.bin with opts and checks that the transfer
// completes, the OACK holds exactly want and every value is in range.
func getWithOptions(t *testing.T, f *fixture, opts []tftp.Option, want map[string]string) {
	t.Helper()
	p := newPeer(t, "127.0.0.1")
	x := p.get(f.addr, tftp.AppendRequest(nil, tftp.OpRRQ, "ok.bin", tftp.ModeOctet, opts...), getOpts{})
	if x.errCode >= 0 || x.failure != "" {
		t.Fatalf("transfer failed: error %d %q, %s", x.errCode, x.errMsg, x.failure)
	}
	checkOACKRanges(t, x, len(f.ok))
	if got := x.oackMap(); !maps.Equal(got, want) {
		t.Errorf("OACK %v, want %v", got, want)
	}
	if !bytes.Equal(x.data, f.ok) {
		t.Errorf("got %d bytes, want ok.bin's %d", len(x.data), len(f.ok))
	}
}
