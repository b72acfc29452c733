package dhcp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"phoneboot/internal/udpnet"
	"time"
	"unsafe"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"phoneboot/internal/phone"
)

// conn is a UDP socket on 0.0.0.0:port that only sees and sends on one
// interface (SO_BINDTODEVICE).
type conn struct {
	c     *net.UDPConn
	p     *ipv4.PacketConn
	iface string
}

func listen(iface string, port int) (*conn, error) {
	uc, err := udpnet.ListenDevice(iface, port, 1<<20)
	if err != nil {
		return nil, err
	}
	return &conn{c: uc, p: ipv4.NewPacketConn(uc), iface: iface}, nil
}

func (c *conn) close() { c.c.Close() }

func (c *conn) read(b []byte) (int, netip.AddrPort, error) {
	n, from, err := c.c.ReadFromUDPAddrPort(b)
	return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
}

// send sends a reply from the server's address. A reply to a client
// without an address goes to its new address once an ARP entry maps it to
// the client's MAC; without one (no CAP_NET_ADMIN), it is broadcast.
func (c *conn) send(r *reply, st *settings) error {
	to := r.to
	if r.arp {
		if err := c.setARP(to.Addr(), r.mac); err != nil {
			to = netip.AddrPortFrom(broadcast, to.Port())
		}
	}
	_, err := c.p.WriteTo(r.b, &ipv4.ControlMessage{Src: st.self.AsSlice()}, net.UDPAddrFromAddrPort(to))
	return err
}

// arpreq is struct arpreq of <net/if_arp.h>.
type arpreq struct {
	pa      [16]byte // struct sockaddr_in
	ha      [16]byte // struct sockaddr
	flags   int32
	netmask [16]byte
	dev     [16]byte
}

const atfCom = 0x02 // ATF_COM: completed entry

func (c *conn) setARP(ip netip.Addr, mac phone.MAC) error {
	var req arpreq
	binary.NativeEndian.PutUint16(req.pa[0:], unix.AF_INET)
	a := ip.As4()
	copy(req.pa[4:8], a[:])
	binary.NativeEndian.PutUint16(req.ha[0:], unix.ARPHRD_ETHER)
	copy(req.ha[2:8], mac[:])
	req.flags = atfCom
	copy(req.dev[:15], c.iface)
	rc, err := c.c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.SIOCSARP, uintptr(unsafe.Pointer(&req))); e != 0 {
			serr = e
		}
	}); err != nil {
		return err
	}
	return serr
}

// probe broadcasts a DISCOVER from a random locally administered MAC on
// the interface and reports every server that answers within d.
func probe(ctx context.Context, st *settings, d time.Duration, report func(netip.Addr, string)) error {
	c, err := listen(st.iface, dhcpv4.ClientPort)
	if err != nil {
		return err
	}
	defer c.close()
	var mac [6]byte
	rand.Read(mac[:])
	mac[0] = mac[0]&^1 | 2
	var xid dhcpv4.TransactionID
	rand.Read(xid[:])
	m := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, ClientHWAddr: mac[:],
		TransactionID: xid, Flags: 0x8000, Options: dhcpv4.Options{},
	}
	m.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeDiscover))
	m.UpdateOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask, dhcpv4.OptionServerIdentifier))
	b := m.ToBytes()
	to := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	if _, err := c.c.WriteTo(b, to); err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	buf := make([]byte, maxPacket)
	resent := false
	for {
		wait := deadline
		if !resent {
			wait = time.Now().Add(d / 2)
		}
		c.c.SetReadDeadline(wait)
		n, from, err := c.read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if !time.Now().Before(deadline) {
					return nil
				}
				if !resent { // one more, in case the first was lost
					resent = true
					c.c.WriteTo(b, to)
				}
				continue
			}
			return err
		}
		r, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || r.OpCode != dhcpv4.OpcodeBootReply || r.TransactionID != xid ||
			!bytesEqual(r.ClientHWAddr, mac[:]) || r.MessageType() != dhcpv4.MessageTypeOffer {
			continue
		}
		srv := from.Addr()
		if id, err := addrOption(r.Options, dhcpv4.OptionServerIdentifier); err == nil && id.IsValid() {
			srv = id
		}
		report(srv, fmt.Sprintf("it offered %v to a probe from %v", r.YourIPAddr, net.HardwareAddr(mac[:])))
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
