package tftpload

import (
	"context"
	"errors"
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
	if err := os.WriteFile(filepath.Join(dir, "fw.bin"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := files.OpenDir(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Load clients that fail (the corrupt-content case) or whose last ACK
	// is "lost" (the loss case) go silent: the server gives up on those
	// transfers within (Retries+1)*MaxTimeout = 9s (the default 8 retries
	// ride out the loss case), so that it is idle, and its Shutdown clean,
	// at the end.
	srv := &tftp.Server{Resolver: tftp.ByName(d), MinTimeout: 10 * time.Millisecond, MaxTimeout: time.Second}
	conns, err := tftp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), conns[0]) }()
	defer func() {
		for deadline := time.Now().Add(30 * time.Second); srv.Active() > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%d transfers still running 30s after the storms", srv.Active())
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, tftp.ErrServerClosed) {
			t.Errorf("Serve: %v, want ErrServerClosed", err)
		}
	}()
	addr := conns[0].LocalAddr().(*net.UDPAddr).AddrPort()

	for _, tc := range []struct {
		name          string
		blksize, win  int
		loss          float64
		clients       int
		clientTimeout time.Duration
	}{
		{"lock-step", 0, 0, 0, 50, 0},
		{"blksize 1428 window 16", 1428, 16, 0, 20, 0},
		{"5% loss each way", 0, 0, 0.05, 20, 200 * time.Millisecond},
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Run(ctx, Spec{Server: addr, File: "fw.bin", Want: want[1:], Clients: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failures != 1 || r.FirstErr == nil || len(r.Durations) != 0 {
		t.Fatalf("corrupt content not detected: %+v", r)
	}
}
