package tftp

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"phoneboot/internal/files"
	"phoneboot/internal/testutil"
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
	wire := encode(t, in, 3, 2, 1)
	for bs := 1; bs <= len(wire)+1; bs++ {
		if got := decodeBlocks(t, wire, bs); !bytes.Equal(got, in) {
			t.Fatalf("block size %d: %q -> %q -> %q", bs, in, wire, got)
		}
	}
}

// TestNetasciiDownloadCRAtBlockEnd: a line end whose CR is the last byte
// of a 512-byte block is still CR LF (CR NUL for a bare CR), split across
// the two blocks, and nothing is lost or doubled at the block end.
func TestNetasciiDownloadCRAtBlockEnd(t *testing.T) {
	for _, tc := range []struct{ in, second string }{
		{strings.Repeat("a", 511) + "\nnext", "\nnext"},
		{strings.Repeat("a", 511) + "\rnext", "\x00next"},
	} {
		wire := encode(t, []byte(tc.in), 512, 1, 1)
		if len(wire) != 512+len(tc.second) || wire[511] != '\r' || string(wire[512:]) != tc.second {
			t.Errorf("%q: block 1 ends %q, block 2 is %q; want CR, %q", tail([]byte(tc.in)), tail(wire[:min(512, len(wire))]), wire[min(512, len(wire)):], tc.second)
		}
	}
}

// TestNetasciiStreamed: a large text is converted while it is sent, the
// same bytes as converting it whole, with every block size and window a
// client may ask for and retransmissions that go back into the window;
// the conversion's memory is its fixed buffer and one position per block
// of the window, not the file.
func TestNetasciiStreamed(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	in := make([]byte, 300_000)
	for i := range in {
		in[i] = "ab\r\n"[r.IntN(4)]
	}
	in = append(in, strings.Repeat("x", 3*netasciiChunk)...) // a chunk with no line end
	in = append(in, '\r')
	want := testutil.Netascii(in)
	for _, c := range []struct{ bs, window int }{{512, 1}, {8, 1}, {1428, 16}, {65464, 64}, {4096, 1}, {4095, 3}, {4097, 7}} {
		if got := encode(t, in, c.bs, c.window, 3); !bytes.Equal(got, want) {
			t.Fatalf("blksize %d windowsize %d: %s", c.bs, c.window, diff(got, want))
		}
	}
	f := newNetascii(files.Bytes(in), int64(len(want)), 64)
	if n := testing.AllocsPerRun(100, func() { f.ReadAt(make([]byte, 0), 0) }); n > 0 {
		t.Errorf("a read allocates %v times", n)
	}
}

// TestNetasciiShortFile: a file made shorter after its netascii size was
// counted ends the read early with io.EOF (the transfer says the file
// ended before block N); one made longer is cut at the size announced.
func TestNetasciiShortFile(t *testing.T) {
	f := newNetascii(files.Bytes("a\nb"), 10, 1)
	buf := make([]byte, 10)
	if n, err := f.ReadAt(buf, 0); n != 4 || err != io.EOF {
		t.Errorf("shortened: read %d, %v; want 4, EOF", n, err)
	}
	f = newNetascii(files.Bytes("a\nb\n"), 4, 1)
	if n, err := f.ReadAt(buf, 0); n != 4 || err != io.EOF || string(buf[:n]) != "a\r\nb" {
		t.Errorf("grown: read %q, %v; want %q, EOF", buf[:n], err, "a\r\nb")
	}
	if n, err := netasciiSize(files.Bytes("a\r\n")); n != 5 || err != nil {
		t.Errorf("netasciiSize = %d, %v; want 5", n, err)
	}
}

// encode reads in as netascii the way a transfer sends it: windows of
// window blocks of bs bytes, the last block short; with seed > 0 some
// windows are sent again from a block inside them (a lost block, a
// partial ACK), chosen from seed.
func encode(t testing.TB, in []byte, bs, window int, seed uint64) []byte {
	t.Helper()
	size, err := netasciiSize(files.Bytes(in))
	if err != nil {
		t.Fatal(err)
	}
	f := newNetascii(files.Bytes(in), size, window)
	r := rand.New(rand.NewPCG(seed, 0))
	last := int(size)/bs + 1
	out := make([]byte, 0, size)
	block := make([]byte, bs)
	for base := 1; base <= last; {
		end := min(base+window-1, last)
		for b := base; b <= end; b++ {
			n := bs
			if b == last {
				n = int(size) - (last-1)*bs
			}
			if m, err := f.ReadAt(block[:n], int64(b-1)*int64(bs)); m != n || (err != nil && err != io.EOF) {
				t.Fatalf("block %d: read %d, %v; want %d", b, m, err, n)
			}
			if len(out) == (b-1)*bs { // the first time this block is sent
				out = append(out, block[:n]...)
			} else if !bytes.Equal(block[:n], out[(b-1)*bs:(b-1)*bs+n]) {
				t.Fatalf("block %d sent again differs", b)
			}
		}
		if seed > 0 && r.IntN(3) == 0 {
			base += r.IntN(end - base + 1) // acknowledged up to here, the rest again
			continue
		}
		base = end + 1
	}
	if int64(len(out)) != size {
		t.Fatalf("sent %d bytes, counted %d", len(out), size)
	}
	return out
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
