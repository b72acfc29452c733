// Package udpnet is what phoneboot's UDP servers (TFTP, DHCP, syslog)
// share: one dual-stack Listen, an interface-bound socket for DHCP
// (ListenDevice), and the backoff of their read loops.
package udpnet

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Listen opens the UDP sockets for addr, each with a receive buffer of
// rcvbuf bytes (the kernel caps it at net.core.rmem_max): every phone of
// a site boots at once after a power cut. An address without a host
// (":69") gets an IPv4 and an IPv6 socket; IPv6 is skipped when the host
// has none.
func Listen(addr string, rcvbuf int) ([]*net.UDPConn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if host != "" {
		c, err := listen("udp", addr, rcvbuf)
		if err != nil {
			return nil, err
		}
		return []*net.UDPConn{c}, nil
	}
	c4, err := listen("udp4", addr, rcvbuf)
	if err != nil {
		return nil, err
	}
	c6, err := listen("udp6", addr, rcvbuf)
	if err != nil {
		if ip6Unavailable(err) {
			return []*net.UDPConn{c4}, nil
		}
		c4.Close()
		return nil, err
	}
	return []*net.UDPConn{c4, c6}, nil
}

func listen(network, addr string, rcvbuf int) (*net.UDPConn, error) {
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	c.SetReadBuffer(rcvbuf)
	return c, nil
}

// ip6Unavailable reports errors that mean "this host has no IPv6", which
// is no reason to refuse to start on IPv4.
func ip6Unavailable(err error) bool {
	return errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EADDRNOTAVAIL)
}

// Backoff paces a server's read loop after transient read errors (no
// buffers, ICMP-induced): 1 ms doubling to 100 ms, so a persistent error
// cannot spin. The zero value is ready.
type Backoff struct{ d time.Duration }

// Wait sleeps for the next, longer pause.
func (b *Backoff) Wait() {
	b.d = min(max(2*b.d, time.Millisecond), 100*time.Millisecond)
	time.Sleep(b.d)
}

// Reset starts over after a successful read.
func (b *Backoff) Reset() { b.d = 0 }
