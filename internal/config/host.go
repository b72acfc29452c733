package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Host is a server phones are told about: a name or an address, and a
// port (0: the protocol's default, as when the config gives no port).
type Host struct {
	Name string // a DNS name, an IPv4 or an IPv6 address (without brackets)
	Port uint16
}

// String is the host as written in the config: "name", "name:port",
// "[v6]:port".
func (h Host) String() string {
	if h.Port == 0 {
		return h.Name
	}
	return net.JoinHostPort(h.Name, strconv.Itoa(int(h.Port)))
}

// IsZero reports whether h is not set.
func (h Host) IsZero() bool { return h == Host{} }

// ParseHost reads "host" or "host:port"; host is a DNS name, an IPv4
// address, or an IPv6 address (in brackets when a port follows).
func ParseHost(s string) (Host, error) {
	name, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			if !strings.HasSuffix(s, "]") {
				return Host{}, fmt.Errorf("host %q: write an IPv6 address with a port as [2001:db8::5]:5060", s)
			}
			h, p = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ""
		}
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return Host{}, fmt.Errorf("host %q: %q in brackets is not an IPv6 address", s, h)
		}
		name, port = h, p
	case strings.Count(s, ":") > 1:
		if _, err := netip.ParseAddr(s); err != nil {
			return Host{}, fmt.Errorf("host %q: not a host name, host:port or IPv6 address", s)
		}
	default:
		name, port, _ = strings.Cut(s, ":")
	}
	if !validHostName(name) {
		return Host{}, fmt.Errorf("host %q: %q is not a host name or address (write host or host:port)", s, name)
	}
	h := Host{Name: name}
	if port != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return Host{}, fmt.Errorf("host %q: port %q is not a number from 1 to 65535", s, port)
		}
		h.Port = uint16(n)
	}
	return h, nil
}

// validHostName accepts IP addresses and names of letters, digits, '-',
// '_' and '.'.
func validHostName(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if s == "" || len(s) > 253 || strings.HasPrefix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Pool is a DHCP range of IPv4 addresses, both ends included; the zero
// Pool is none.
type Pool struct{ From, To netip.Addr }

// IsValid reports whether p is set.
func (p Pool) IsValid() bool { return p.From.IsValid() && p.To.IsValid() }

// String is the pool as written: "10.0.0.100-10.0.0.199".
func (p Pool) String() string {
	if !p.IsValid() {
		return ""
	}
	return p.From.String() + "-" + p.To.String()
}

// ParsePool reads a DHCP pool "FROM-TO" of IPv4 addresses, as in
// [dhcp] range and --dhcp-range.
func ParsePool(s string) (Pool, error) {
	from, to, ok := strings.Cut(s, "-")
	a, err1 := netip.ParseAddr(strings.TrimSpace(from))
	b, err2 := netip.ParseAddr(strings.TrimSpace(to))
	switch {
	case !ok || err1 != nil || err2 != nil || !a.Is4() || !b.Is4():
		return Pool{}, fmt.Errorf("range %q: write it like 10.0.0.100-10.0.0.199", s)
	case b.Less(a):
		return Pool{}, fmt.Errorf("range %q ends before it starts", s)
	}
	return Pool{From: a, To: b}, nil
}
