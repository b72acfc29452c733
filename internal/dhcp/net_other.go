//go:build !linux

package dhcp

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

var errNotLinux = errors.New("the DHCP server needs Linux (SO_BINDTODEVICE)")

type conn struct{}

func listen(string, int) (*conn, error)                { return nil, errNotLinux }
func (*conn) close()                                   {}
func (*conn) read([]byte) (int, netip.AddrPort, error) { return 0, netip.AddrPort{}, errNotLinux }
func (*conn) send(*reply, *settings) error             { return errNotLinux }
func probe(context.Context, *settings, time.Duration, func(netip.Addr, string)) error {
	return errNotLinux
}
