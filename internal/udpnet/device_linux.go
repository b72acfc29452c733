package udpnet

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// ListenDevice opens an IPv4 UDP socket on 0.0.0.0:port that sends and
// receives on iface only (SO_BINDTODEVICE) and may broadcast: what a DHCP
// server, or a DHCP client without an address yet, needs.
func ListenDevice(iface string, port, rcvbuf int) (*net.UDPConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "udp@"+iface)
	defer f.Close() // FilePacketConn dups it
	for _, o := range []struct{ opt, v int }{{unix.SO_REUSEADDR, 1}, {unix.SO_BROADCAST, 1}, {unix.SO_RCVBUF, rcvbuf}} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o.opt, o.v); err != nil {
			return nil, err
		}
	}
	if err := unix.BindToDevice(fd, iface); err != nil {
		return nil, fmt.Errorf("bind to device %s: %w", iface, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		return nil, err
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		pc.Close()
		return nil, errors.New("not a UDP socket")
	}
	return uc, nil
}
