package tftp

import (
	"bytes"
	"fmt"
	"phoneboot/internal/files"
	"strings"
	"testing"
)

// decodeBlocks feeds wire to a netasciiUpload in writes of bs bytes, as
// the blocks of an upload arrive, and returns what it stored.
func decodeBlocks(t *testing.T, wire []byte, bs int) []byte {
	t.Helper()
	var got bytes.Buffer
	u := &netasciiUpload{Upload: &bufUpload{&got}}
	for off := 0; off < len(wire); off += bs {
		blk := wire[off:min(off+bs, len(wire))]
		if n, err := u.Write(blk); n != len(blk) || err != nil {
			t.Fatalf("Write of block at %d: %d, %v; want %d, nil", off, n, err, len(blk))
		}
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	return got.Bytes()
}

// TestNetasciiUploadCRAtBlockEnd: a CR that ends one block and the LF or
// NUL that starts the next are one line end (RFC 764): CR LF is stored as
// LF and CR NUL as CR, never as a lone LF or NUL.
func TestNetasciiUploadCRAtBlockEnd(t *testing.T) {
	a511, a510 := strings.Repeat("a", 511), strings.Repeat("a", 510)
	for _, tc := range []struct{ name, wire, want string }{
		{"CR NUL split", a511 + "\r" + "\x00tail", a511 + "\rtail"},
		{"CR LF split", a511 + "\r" + "\ntail", a511 + "\ntail"},
		{"CR NUL split, then CR LF split", a511 + "\r" + "\x00" + a510 + "\r" + "\nend", a511 + "\r" + a510 + "\nend"},
		{"CR LF split, next block only the LF", a511 + "\r" + "\n", a511 + "\n"},
		{"CR NUL split, next block only the NUL", a511 + "\r" + "\x00", a511 + "\r"},
		{"CR NUL inside a block", "ab\r\x00cd\r\nef", "ab\rcd\nef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decodeBlocks(t, []byte(tc.wire), 512); string(got) != tc.want {
				t.Errorf("stored %s", diff(got, []byte(tc.want)))
			}
		})
	}
}

// TestNetasciiRoundTripBlockSizes: every file of line ends, encoded as the
// server sends it and decoded in blocks of every small size, comes back
// as it was: a CR LF or CR NUL pair lands across a block end somewhere.
func TestNetasciiRoundTripBlockSizes(t *testing.T) {
	in := []byte("line\nCRLF\r\nbare\rCR\r\n\n\r\r\rend\r")
	conv, err := toNetascii(files.Bytes(in))
	if err != nil {
		t.Fatal(err)
	}
	wire := []byte(conv.(files.Bytes))
	for bs := 1; bs <= len(wire)+1; bs++ {
		if got := decodeBlocks(t, wire, bs); !bytes.Equal(got, in) {
			t.Fatalf("block size %d: %q -> %q -> %q", bs, in, wire, got)
		}
	}
}

// TestNetasciiDownloadCRAtBlockEnd: the encoder converts the whole file
// before the first block, so a line end whose CR is the last byte of a
// 512-byte block is still CR LF (CR NUL for a bare CR), split across the
// two blocks, and nothing is lost or doubled at the block end.
func TestNetasciiDownloadCRAtBlockEnd(t *testing.T) {
	for _, tc := range []struct{ in, second string }{
		{strings.Repeat("a", 511) + "\nnext", "\nnext"},
		{strings.Repeat("a", 511) + "\rnext", "\x00next"},
	} {
		conv, err := toNetascii(files.Bytes(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		wire := []byte(conv.(files.Bytes))
		if len(wire) != 512+len(tc.second) || wire[511] != '\r' || string(wire[512:]) != tc.second {
			t.Errorf("%q: block 1 ends %q, block 2 is %q; want CR, %q", tail([]byte(tc.in)), tail(wire[:min(512, len(wire))]), wire[min(512, len(wire)):], tc.second)
		}
	}
}

func tail(b []byte) []byte { return b[max(0, len(b)-12):] }

// diff says where got first differs from want.
func diff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-4)
	return fmt.Sprintf("%d bytes, want %d; first difference at byte %d: %q, want %q",
		len(got), len(want), i, got[from:min(len(got), i+8)], want[from:min(len(want), i+8)])
}
