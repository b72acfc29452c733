package tftp

import (
	"net/netip"
	"testing"
)

// A socket that cannot be made (no such local address, no file descriptors
// left) is an error for that one transfer, never a crash: this path once
// closed through a nil pointer.
func TestFDConnOpenFailure(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is not an address of this host: bind fails.
	// Nothing is sent anywhere.
	c, err := newFDConn(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddrPort("127.0.0.2:5000"), true)
	if err == nil || c != nil {
		t.Fatalf("newFDConn = %v, %v; want an error", c, err)
	}
}
