package main

// The fleet's network: two network namespaces the bench makes, one for
// the server under test and one for the phones, joined by a veth pair on
// 10.246.0.0/16 (the server .0.1, the phones' own probe address
// .255.254, the pool 10.246.1.1–10.246.254.250). Nothing is added to the
// bench's own namespace, so no packet of the storm can leave the pair.
// Each phone adds the address it leased to its end (netlink, as a real
// phone configures its interface) and fetches its files from there.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fleetNetPrefix is the pair's network: apart from dhcpbench's
// 10.248–251/16 and the tests' 10.250.X/24, although inside namespaces
// of their own they could not meet anyway.
var fleetNetPrefix = netip.MustParsePrefix("10.246.0.0/16")

// fleetNet is one pair of namespaces, made fresh for every server run so
// that no run sees another's addresses or neighbours.
type fleetNet struct {
	srvNS, cliNS string // namespace names, for ip netns exec
	srv, cli     string // the veth ends, in srvNS and cliNS
	self         netip.Addr
	probe        netip.Addr // the phones' side's own address
	lo, hi       netip.Addr // the DHCP pool
}

const fleetNSPrefix = "pbfleet-"

// fleetAddrs are the server's address (.0.1) and the phones' side's own
// (.255.254).
func fleetAddrs() (self, probe netip.Addr) {
	b := fleetNetPrefix.Addr().As4()
	return netip.AddrFrom4([4]byte{b[0], b[1], 0, 1}), netip.AddrFrom4([4]byte{b[0], b[1], 255, 254})
}

// netem puts loss on both ends of the pair with tc netem, and says
// whether it could: this kernel may have no sch_netem.
func (n *fleetNet) netem(loss float64) bool {
	pct := strconv.FormatFloat(loss*100, 'f', -1, 64) + "%"
	for _, end := range [][2]string{{n.srvNS, n.srv}, {n.cliNS, n.cli}} {
		if err := ipCmd("netns", "exec", end[0], "tc", "qdisc", "add", "dev", end[1], "root", "netem", "loss", pct); err != nil {
			// Not half of it either.
			exec.Command("ip", "netns", "exec", n.srvNS, "tc", "qdisc", "del", "dev", n.srv, "root").Run()
			return false
		}
	}
	return true
}

// removeStaleFleetNets deletes the namespaces of an earlier bench that was
// killed before it could: their names start with pbfleet-.
func removeStaleFleetNets() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], fleetNSPrefix) {
			exec.Command("ip", "netns", "del", f[0]).Run()
		}
	}
}

func newFleetNet() (_ *fleetNet, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("needs ip (apt-get install iproute2)")
	}
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	n := &fleetNet{srvNS: fleetNSPrefix + "s" + id, cliNS: fleetNSPrefix + "c" + id, srv: "pbfs" + id, cli: "pbfc" + id}
	n.self, n.probe = fleetAddrs()
	base := fleetNetPrefix.Addr().As4()
	n.lo = netip.AddrFrom4([4]byte{base[0], base[1], 1, 1})
	n.hi = netip.AddrFrom4([4]byte{base[0], base[1], 254, 250})
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	bits := fleetNetPrefix.Bits()
	for _, args := range [][]string{
		{"netns", "add", n.srvNS},
		{"netns", "add", n.cliNS},
		{"link", "add", n.srv, "netns", n.srvNS, "type", "veth", "peer", "name", n.cli, "netns", n.cliNS},
		{"-n", n.srvNS, "link", "set", "lo", "up"},
		{"-n", n.cliNS, "link", "set", "lo", "up"},
		{"-n", n.srvNS, "addr", "add", netip.PrefixFrom(n.self, bits).String(), "dev", n.srv},
		{"-n", n.cliNS, "addr", "add", netip.PrefixFrom(n.probe, bits).String(), "dev", n.cli},
		{"-n", n.srvNS, "link", "set", n.srv, "up"},
		{"-n", n.cliNS, "link", "set", n.cli, "up"},
	} {
		if err := ipCmd(args...); err != nil {
			return nil, err
		}
	}
	// "ip link set up" returns before the link can carry packets (until
	// then its qdisc is noop and drops them): wait, bounded.
	for range 200 {
		if linkUp(n.srvNS, n.srv) && linkUp(n.cliNS, n.cli) {
			return n, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return nil, errors.New("the fleet's veth pair did not come up within 5 s")
}

func linkUp(ns, dev string) bool {
	out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", "dev", dev).Output()
	s := string(out)
	return err == nil && strings.Contains(s, " state UP ") && !strings.Contains(s, " qdisc noop ")
}

func ipCmd(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// close deletes both namespaces; the veth pair goes with them.
func (n *fleetNet) close() {
	for _, ns := range []string{n.srvNS, n.cliNS} {
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

func (n *fleetNet) mask() string {
	return net.IP(net.CIDRMask(fleetNetPrefix.Bits(), 32)).String()
}

// addrAdder puts addresses on an interface of this process's namespace
// over one netlink socket: a thousand phones taking their leases would
// otherwise be a thousand ip commands, whose CPU would be measured as
// the phones'.
type addrAdder struct {
	mu    sync.Mutex
	fd    int
	index int
	seq   uint32
	buf   []byte
}

func newAddrAdder(iface string) (*addrAdder, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval((2 * time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &addrAdder{fd: fd, index: ifi.Index, buf: make([]byte, 8192)}, nil
}

func (a *addrAdder) close() { unix.Close(a.fd) }

// add puts ip/32 on the interface; an address already there is no error
// (a phone that leased the same address again).
func (a *addrAdder) add(ip netip.Addr) error {
	if !ip.Is4() {
		return fmt.Errorf("%v is not IPv4", ip)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	ne := binary.NativeEndian
	// nlmsghdr (16), ifaddrmsg (8), IFA_LOCAL and IFA_ADDRESS (8 each).
	msg := make([]byte, 40)
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.RTM_NEWADDR)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	ne.PutUint32(msg[8:], a.seq)
	msg[16], msg[17], msg[19] = unix.AF_INET, 32, unix.RT_SCOPE_UNIVERSE
	ne.PutUint32(msg[20:], uint32(a.index))
	v4 := ip.As4()
	for i, typ := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
		off := 24 + 8*i
		ne.PutUint16(msg[off:], 8)
		ne.PutUint16(msg[off+2:], typ)
		copy(msg[off+4:], v4[:])
	}
	if err := unix.Sendto(a.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("adding %v: %w", ip, err)
	}
	for range 16 { // bounded: the answer to our request comes first
		n, _, err := unix.Recvfrom(a.fd, a.buf, 0)
		if err != nil {
			return fmt.Errorf("adding %v: no answer from the kernel: %w", ip, err)
		}
		for b := a.buf[:n]; len(b) >= 16; {
			l := int(ne.Uint32(b[0:]))
			if l < 16 || l > len(b) {
				break
			}
			if ne.Uint16(b[4:]) == unix.NLMSG_ERROR && ne.Uint32(b[8:]) == a.seq && l >= 20 {
				switch errno := unix.Errno(-int32(ne.Uint32(b[16:]))); errno {
				case 0, unix.EEXIST:
					return nil
				default:
					return fmt.Errorf("adding %v: %w", ip, errno)
				}
			}
			b = b[(l+3)&^3:]
		}
	}
	return fmt.Errorf("adding %v: no answer from the kernel", ip)
}
