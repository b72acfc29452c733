package security

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"phoneboot/internal/tftp"
)

// TestWriteRefusedWithoutReceiver: a server without a Receiver refuses
// every write request with error 2, whatever its options or name, and
// writes nothing (peers.md extra list "WRQ when writes are disabled").
func TestWriteRefusedWithoutReceiver(t *testing.T) {
	f := start(t, setup{})
	for _, req := range [][]byte{
		tftp.AppendRequest(nil, tftp.OpWRQ, "new.bin", tftp.ModeOctet),
		tftp.AppendRequest(nil, tftp.OpWRQ, "new.bin", tftp.ModeNetascii),
		tftp.AppendRequest(nil, tftp.OpWRQ, "new.bin", tftp.ModeOctet, opts("tsize", "10", "blksize", "1024", "windowsize", "8")...),
		tftp.AppendRequest(nil, tftp.OpWRQ, "ok.bin", tftp.ModeOctet),
		tftp.AppendRequest(nil, tftp.OpWRQ, "../root-private/secret.txt", tftp.ModeOctet),
	} {
		p := newPeer(t, "127.0.0.1")
		if code, msg := p.askError(f.addr, req); code != tftp.ErrAccessViolation {
			t.Errorf("%q: error %d %q, want 2", req, code, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(f.root, "new.bin")); err == nil {
		t.Errorf("new.bin was created")
	}
	if b, _ := os.ReadFile(f.private); string(b) != secret {
		t.Errorf("the file outside the root changed")
	}
	f.healthy(t)
}

// TestUploadAttacks sends hostile write requests to a server that accepts
// uploads: traversal out of the upload directory (CVE-2026-21620 shape),
// the server's own temporary names, sizes over the limit announced in
// tsize (RFC 2349: error 3) or discovered mid-transfer, and an overwrite.
// Nothing may be left behind by a refused or failed upload.
func TestUploadAttacks(t *testing.T) {
	const limit = 4096
	f := start(t, setup{upload: true, server: func(s *tftp.Server) { s.Limits.MaxUpload = limit }})
	cases := []struct {
		name string
		opts []tftp.Option
		want tftp.ErrorCode
	}{
		{"../root-private/evil.bin", nil, tftp.ErrAccessViolation},
		{"..\\evil.bin", nil, tftp.ErrAccessViolation},
		{"/../evil.bin", nil, tftp.ErrAccessViolation},
		{"a/../../evil.bin", nil, tftp.ErrAccessViolation},
		{".phoneboot-upload-0123456789abcdef", nil, tftp.ErrAccessViolation},
		{"nodir/evil.bin", nil, tftp.ErrAccessViolation},
		{"evil\x01.bin", nil, tftp.ErrAccessViolation},
		{"huge.bin", opts("tsize", "99999999999999999999"), tftp.ErrDiskFull},
		{"over.bin", opts("tsize", "4097"), tftp.ErrDiskFull},
	}
	for _, c := range cases {
		p := newPeer(t, "127.0.0.1")
		if code, msg := p.askError(f.addr, tftp.AppendRequest(nil, tftp.OpWRQ, c.name, tftp.ModeOctet, c.opts...)); code != c.want {
			t.Errorf("WRQ %q %v: error %d %q, want %d", c.name, c.opts, code, msg, c.want)
		}
	}
	assertEmptyDir(t, f.upload)
	for _, name := range []string{filepath.Join(f.base, "evil.bin"), filepath.Join(f.base, "root-private", "evil.bin")} {
		if _, err := os.Lstat(name); err == nil {
			t.Errorf("%s was written outside the upload directory", name)
		}
	}

	// Over the limit without tsize: refused with error 3 when the data
	// passes it, and the partial file is removed.
	p := newPeer(t, "127.0.0.1")
	if code, msg := p.put(f.addr, "over.bin", pseudoRandom(limit+600, 3), 512); code != int(tftp.ErrDiskFull) {
		t.Errorf("upload over the limit: error %d %q, want 3", code, msg)
	}
	f.event(t, byPeer(p))
	assertEmptyDir(t, f.upload)

	// A good upload arrives intact, even when every DATA is sent twice
	// (a retransmitting client must not get its blocks written twice).
	data := pseudoRandom(limit-100, 4)
	q := newPeer(t, "127.0.0.1")
	b, tid := q.ask(f.addr, tftp.AppendRequest(nil, tftp.OpWRQ, "good.bin", tftp.ModeOctet))
	if n, err := tftp.ParseAck(b); err != nil || n != 0 {
		t.Fatalf("WRQ: got %s, want ACK 0", describe(b))
	}
	for n := 1; (n-1)*512 <= len(data); n++ {
		chunk := data[(n-1)*512 : min(len(data), n*512)]
		pkt := tftp.AppendData(nil, uint16(n), chunk)
		q.send(tid, pkt)
		q.send(tid, pkt)
		for {
			ack, err := tftp.ParseAck(q.expectFrom(tid, 5*time.Second))
			if err != nil {
				t.Fatalf("want ACK %d: %v", n, err)
			}
			if ack == uint16(n) {
				break
			}
		}
		if len(chunk) < 512 {
			break
		}
	}
	if got, err := os.ReadFile(filepath.Join(f.upload, "good.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("good.bin: %d bytes (%v), want %d intact", len(got), err, len(data))
	}
	// An existing file is never replaced (error 6).
	r := newPeer(t, "127.0.0.1")
	if code, msg := r.put(f.addr, "good.bin", []byte("overwrite"), 512); code != int(tftp.ErrFileExists) {
		t.Errorf("overwrite: error %d %q, want 6", code, msg)
	}
	if got, _ := os.ReadFile(filepath.Join(f.upload, "good.bin")); !bytes.Equal(got, data) {
		t.Errorf("good.bin was changed by a refused overwrite")
	}
	f.healthy(t)
}

// TestUploadLargeBlksize: a WRQ with blksize above 1020 must store every
// byte of each block (RFC 2348); atftp and curl ask 1428 for uploads.
// Regression test: the first server read uploads into a 1024-byte buffer,
// took the truncated block as the last one and committed 1020 bytes.
func TestUploadLargeBlksize(t *testing.T) {
	f := start(t, setup{upload: true})
	data := pseudoRandom(1428+100, 5)
	p := newPeer(t, "127.0.0.1")
	if code, msg := p.put(f.addr, "large.bin", data, 1428, opts("blksize", "1428")...); code >= 0 {
		t.Fatalf("upload: error %d %q", code, msg)
	}
	if got, err := os.ReadFile(filepath.Join(f.upload, "large.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("large.bin: %d bytes (%v), want %d intact", len(got), err, len(data))
	}
	f.healthy(t)
}

// TestConcurrentUploadsOneName (issue 12, finding 8): uploads of one name
// at the same time each write a temporary file of their own; when their
// last blocks arrive together exactly one is stored, whole, and the
// others get ERROR 6 and leave nothing: never a mix of two uploads, never
// a stored file replaced.
func TestConcurrentUploadsOneName(t *testing.T) {
	f := start(t, setup{upload: true})
	const n = 8
	type upload struct {
		p    *peer
		tid  netip.AddrPort
		data []byte
	}
	ups := make([]upload, n)
	for i := range ups {
		u := upload{p: newPeer(t, "127.0.0.1"), data: pseudoRandom(10*512+100+i, uint64(10+i))}
		var b []byte
		b, u.tid = u.p.ask(f.addr, tftp.AppendRequest(nil, tftp.OpWRQ, "same.bin", tftp.ModeOctet))
		if ack, err := tftp.ParseAck(b); err != nil || ack != 0 {
			t.Fatalf("upload %d: got %s, want ACK 0", i, describe(b))
		}
		for blk := 1; blk <= 10; blk++ {
			u.p.send(u.tid, tftp.AppendData(nil, uint16(blk), u.data[(blk-1)*512:blk*512]))
			if ack, err := tftp.ParseAck(u.p.expectFrom(u.tid, 5*time.Second)); err != nil || ack != uint16(blk) {
				t.Fatalf("upload %d: want ACK %d", i, blk)
			}
		}
		ups[i] = u
	}
	// Every upload is under way; their last blocks race to be stored.
	replies := make([][]byte, n)
	var wg sync.WaitGroup
	for i, u := range ups {
		wg.Go(func() {
			u.p.send(u.tid, tftp.AppendData(nil, 11, u.data[10*512:]))
			if b, from, ok := u.p.recv(5 * time.Second); ok && from == u.tid {
				replies[i] = b
			}
		})
	}
	wg.Wait()
	winner := -1
	for i, b := range replies {
		if ack, err := tftp.ParseAck(b); err == nil && ack == 11 {
			if winner >= 0 {
				t.Errorf("uploads %d and %d were both stored", winner, i)
			}
			winner = i
			continue
		}
		if code, msg, err := tftp.ParseErrorPacket(b); err != nil || code != tftp.ErrFileExists {
			t.Errorf("upload %d: last block answered %s, want ACK 11 or ERROR 6 (%q)", i, describe(b), msg)
		}
	}
	if winner < 0 {
		t.Fatal("no upload was stored")
	}
	if got, err := os.ReadFile(filepath.Join(f.upload, "same.bin")); err != nil || !bytes.Equal(got, ups[winner].data) {
		t.Errorf("same.bin: %d bytes (%v), want upload %d's %d bytes exactly", len(got), err, winner, len(ups[winner].data))
	}
	for _, u := range ups {
		f.event(t, byPeer(u.p))
	}
	if names, _ := filepath.Glob(filepath.Join(f.upload, "*")); len(names) != 1 {
		t.Errorf("upload folder holds %q, want same.bin only", names)
	}
	f.healthy(t)
}
