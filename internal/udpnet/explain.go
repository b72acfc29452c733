package udpnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// Explain says why a listening address could not be opened and what to do
// about it, for people: what is the service ("TFTP server"), flag the
// option that sets its address ("--tftp-addr"), high an unprivileged
// address to suggest (":6969"), others the programs that usually hold its
// port.
func Explain(addr, what, flag, high, others string, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot listen on %s: permission denied.\n"+
			"  Ports below 1024 need privileges. Either run as root, or give the binary the capability once:\n"+
			"    sudo setcap cap_net_bind_service=+ep %s\n"+
			"  or listen on a high port with %s %s (phones themselves always use the standard port)", addr, executable(), flag, high)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: the address is already in use.\n"+
			"  Another %s (%s) is probably running; see which with:\n"+
			"    ss -ulpn\n"+
			"  stop it, or choose another address with %s", addr, what, others, flag)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: no interface of this machine has that address (check %s)", addr, flag)
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return fmt.Errorf("cannot listen on %s: %v (use host:port, e.g. :69 or 192.0.2.10:69)", addr, err)
	}
	return fmt.Errorf("cannot listen on %s: %w", addr, err)
}

func executable() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "/path/to/phoneboot"
}
