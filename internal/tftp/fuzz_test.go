package tftp

import (
	"bytes"
	"strings"
	"testing"

	"phoneboot/internal/testutil"
)

// The seed corpus lives in testdata/fuzz/<target>/: every bad input from
// peers.md §5 (CVE replays) plus real requests from the clients we test
// against. Run a target with: go test -fuzz=FuzzParseRequest ./internal/tftp

// FuzzParseRequest: decoding never panics, and whatever decodes negotiates
// to parameters within the RFC bounds and an OACK that re-parses.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("\x00\x01SEP001122334455.cnf.xml\x00octet\x00"))
	f.Add([]byte("\x00\x01f\x00octet\x00blksize\x008\x00tsize\x000\x00timeout\x003\x00windowsize\x0016\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseRequest(b)
		if err != nil {
			return
		}
		if p.Filename == "" || bytes.IndexByte([]byte(p.Filename), 0) >= 0 {
			t.Fatalf("bad filename %q accepted", p.Filename)
		}
		par, err := Negotiate(p, 1<<20, Limits{MaxBlksize: 1468, MaxWindowsize: 64, MaxUpload: 1 << 20})
		if err != nil {
			return
		}
		if par.Blksize < MinBlksize || par.Blksize > 1468 || par.Windowsize < 1 || par.Windowsize > 64 {
			t.Fatalf("negotiated out of bounds: %+v", par)
		}
		oack := AppendOACK(nil, par.OACK)
		if _, err := ParseOACK(oack); err != nil {
			t.Fatalf("OACK does not re-parse: %v", err)
		}
	})
}

// FuzzCleanName: a cleaned name never escapes the root.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"../etc/passwd", `..\..\x`, "/abs", "./a", "a//b", "%2e%2e%2f", "\xc0\xae\xc0\xae/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, err := CleanName(name)
		if err != nil {
			return
		}
		if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) {
			t.Fatalf("CleanName(%q) = %q", name, p)
		}
		for part := range strings.SplitSeq(p, "/") {
			if part == ".." || part == "." || part == "" {
				t.Fatalf("CleanName(%q) = %q has component %q", name, p, part)
			}
		}
		for i := 0; i < len(p); i++ {
			if p[i] < 0x20 || p[i] == 0x7f {
				t.Fatalf("CleanName(%q) = %q keeps a control character", name, p)
			}
		}
	})
}

// FuzzNetascii: netascii as the server sends it (converted while read, in
// blocks and windows chosen by split, with retransmissions) is RFC 764's,
// and converting it back gives the original bytes.
func FuzzNetascii(f *testing.F) {
	f.Add([]byte("line\nline\r\nbare\r end\r"), 3)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		if split < 0 {
			split = -split
		}
		wire := encode(t, in, 1+split%700, 1+split/700%9, uint64(split))
		if want := testutil.Netascii(in); !bytes.Equal(wire, want) {
			t.Fatalf("netascii of %q is %q, want %q", in, wire, want)
		}
		var got bytes.Buffer
		u := &netasciiUpload{Upload: &bufUpload{&got}}
		// Feed it in two writes split anywhere, as blocks would arrive.
		if len(wire) > 0 {
			split %= len(wire) + 1
		} else {
			split = 0
		}
		for _, blk := range [][]byte{wire[:split], wire[split:]} {
			if n, err := u.Write(blk); n != len(blk) || err != nil {
				t.Fatalf("Write: %d, %v; want %d, nil", n, err, len(blk))
			}
		}
		if err := u.Commit(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), in) {
			t.Fatalf("netascii round trip: %q -> %q -> %q", in, wire, got.Bytes())
		}
	})
}

type bufUpload struct{ *bytes.Buffer }

func (bufUpload) Commit() error { return nil }
func (bufUpload) Abort()        {}
