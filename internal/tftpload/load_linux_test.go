package tftpload

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"phoneboot/internal/files"
	"phoneboot/internal/tftp"
)

func TestStorm(t *testing.T) {
	dir := t.TempDir()
	want := make([]byte, 300*1024+17)
	for i := range want {
		want[i] = byte(i * 31)
	}
	os.WriteFile(filepath.Join(dir, "fw.bin"), want, 0o644)
	d, _ := files.OpenDir(dir, 1<<20)
	defer d.Close()
	srv := &tftp.Server{Resolver: tftp.ByName(d), MinTimeout: 10 * time.Millisecond}
	conns, err := tftp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(conns[0])
	defer srv.Shutdown(context.Background())
	addr := conns[0].LocalAddr().(*net.UDPAddr).AddrPort()

	for _, tc := range []struct {
		name           string
		blksize, win   int
		loss           float64
		clients        int
		clientTimeout  time.Duration
		expectFailures bool
	}{
		{"lock-step", 0, 0, 0, 50, 0, false},
		{"blksize 1428 window 16", 1428, 16, 0, 20, 0, false},
		{"5% loss each way", 0, 0, 0.05, 20, 200 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Run(ctx, Spec{
				Server: addr, File: "fw.bin", Want: want, Clients: tc.clients,
				Source:  func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}) },
				Blksize: tc.blksize, Windowsize: tc.win, Loss: tc.loss, Seed: 1, Timeout: tc.clientTimeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			if r.Failures != 0 || r.Bytes != int64(tc.clients*len(want)) || len(r.Durations) != tc.clients {
				t.Fatalf("%d failures (first: %v), %d bytes, %d done", r.Failures, r.FirstErr, r.Bytes, len(r.Durations))
			}
		})
	}

	// A wrong expected content is detected, not counted as success.
	r, _ := Run(context.Background(), Spec{Server: addr, File: "fw.bin", Want: want[1:], Clients: 1})
	if r.Failures != 1 {
		t.Fatalf("corrupt content not detected: %+v", r)
	}
}
