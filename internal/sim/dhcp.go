package sim

// The DHCP side of a simulated phone: DISCOVER, OFFER, REQUEST, ACK as a
// 79xx sends them (cisco-79xx.md §5: broadcast flag, client-id 01:<MAC>,
// hostname SEP<MAC>, its vendor class, option 55 asking for 150), and the
// TFTP server it then uses: option 150 first, then 66, then siaddr.
//
// Many phones share one socket (a thousand sockets on port 68 would each
// get a copy of every broadcast reply): a reader hands each reply to the
// exchange waiting for its transaction id.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"phoneboot/internal/phone"
)

// DHCPOptions are the settings of a DHCP client.
type DHCPOptions struct {
	// To is where messages go; the zero value means 255.255.255.255:67,
	// as a phone without an address sends them.
	To netip.AddrPort
	// Timeout is the wait for the first reply before sending again; it
	// doubles on every resend, up to 4 times itself (RFC 2131 §4.1 has a
	// client back off; no source gives a 79xx's timings). 0 means 1s.
	Timeout time.Duration
	// Retries bounds the resends of one message, and the fresh starts
	// after a NAK. 0 means 4.
	Retries int
	// Loss is the fraction (0..1) of messages sent and of replies
	// received that are thrown away, drawn from a generator seeded with
	// Seed: a lossy network, reproducibly.
	Loss float64
	Seed uint64
}

// Lease is what a phone got.
type Lease struct {
	Addr     netip.Addr
	Mask     net.IPMask   // option 1; nil when not sent
	Server   netip.Addr   // option 54
	TFTP     []netip.Addr // option 150
	TFTPName string       // option 66
	SIAddr   netip.Addr   // the header's next-server, zero when 0.0.0.0
	// Sends counts the messages the phone sent (resends included), NAKs
	// the NAKs after which it started over.
	Sends, NAKs int
}

// TFTPServer is where the phone fetches its files, in the order a 79xx
// looks (cisco-79xx.md §5 "Priority"): the first address of option 150,
// else option 66 when it is an address, else siaddr. A phone given none
// of them has nowhere to boot from, which is an error.
func (l Lease) TFTPServer() (netip.AddrPort, error) {
	if len(l.TFTP) > 0 {
		return netip.AddrPortFrom(l.TFTP[0], 69), nil
	}
	if a, err := netip.ParseAddr(strings.TrimRight(l.TFTPName, "\x00")); err == nil && a.Is4() {
		return netip.AddrPortFrom(a, 69), nil
	}
	if l.SIAddr.IsValid() && !l.SIAddr.IsUnspecified() {
		return netip.AddrPortFrom(l.SIAddr, 69), nil
	}
	return netip.AddrPort{}, errors.New("the lease names no TFTP server (no option 150, 66 or siaddr)")
}

// DHCP is the DHCP client of many simulated phones on one socket.
type DHCP struct {
	conn *net.UDPConn
	o    DHCPOptions
	to   *net.UDPAddr

	mu   sync.Mutex
	wait map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
	rng  *mrand.Rand // under mu

	// Lost counts the messages Loss threw away, both ways.
	Lost atomic.Int64
	done chan struct{}
}

// NewDHCP starts a client on conn, a socket on port 68 that may
// broadcast (udpnet.ListenDevice opens one). Close stops it; conn stays
// the caller's.
func NewDHCP(conn *net.UDPConn, o DHCPOptions) *DHCP {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Retries <= 0 {
		o.Retries = 4
	}
	to := o.To
	if !to.IsValid() {
		to = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dhcpv4.ServerPort)
	}
	d := &DHCP{conn: conn, o: o, to: net.UDPAddrFromAddrPort(to),
		wait: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{},
		rng:  mrand.New(mrand.NewPCG(o.Seed, 0x64686370)), done: make(chan struct{})}
	conn.SetReadDeadline(time.Time{})
	go d.read()
	return d
}

// Close stops the reader.
func (d *DHCP) Close() {
	d.conn.SetReadDeadline(time.Unix(1, 0))
	<-d.done
}

// lose draws whether a message is lost.
func (d *DHCP) lose() bool {
	if d.o.Loss <= 0 {
		return false
	}
	d.mu.Lock()
	lost := d.rng.Float64() < d.o.Loss
	d.mu.Unlock()
	if lost {
		d.Lost.Add(1)
	}
	return lost
}

func (d *DHCP) read() {
	defer close(d.done)
	buf := make([]byte, 1500)
	for {
		n, _, err := d.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout()) {
				return
			}
			continue
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || d.lose() {
			continue
		}
		d.mu.Lock()
		ch := d.wait[m.TransactionID]
		d.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m:
			default: // a late duplicate: the exchange has enough
			}
		}
	}
}

// Lease runs p's DISCOVER, OFFER, REQUEST, ACK. After a NAK it starts
// over (RFC 2131 §3.1), at most Retries times.
func (d *DHCP) Lease(ctx context.Context, p Phone) (Lease, error) {
	sm, ok := modelOf(p.Model)
	if !ok {
		return Lease{}, fmt.Errorf("%s phones are not simulated", p.Model.Name)
	}
	var l Lease
	for {
		err := d.leaseOnce(ctx, p.MAC, sm, &l)
		if !errors.Is(err, errNAK) || l.NAKs >= d.o.Retries {
			return l, err
		}
		l.NAKs++
	}
}

var errNAK = errors.New("NAK")

func (d *DHCP) leaseOnce(ctx context.Context, mac phone.MAC, sm simModel, l *Lease) error {
	var xid dhcpv4.TransactionID
	rand.Read(xid[:])
	ch := make(chan *dhcpv4.DHCPv4, 8)
	d.mu.Lock()
	d.wait[xid] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.wait, xid)
		d.mu.Unlock()
	}()
	off, err := d.exchange(ctx, ch, request(mac, sm, xid, dhcpv4.MessageTypeDiscover), mac, l, dhcpv4.MessageTypeOffer)
	if err != nil {
		return fmt.Errorf("DISCOVER: %w", err)
	}
	sid := off.ServerIdentifier()
	if sid == nil {
		return errors.New("OFFER without a server identifier (option 54)")
	}
	ack, err := d.exchange(ctx, ch, request(mac, sm, xid, dhcpv4.MessageTypeRequest,
		dhcpv4.OptRequestedIPAddress(off.YourIPAddr), dhcpv4.OptServerIdentifier(sid)),
		mac, l, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
	if err != nil {
		return fmt.Errorf("REQUEST: %w", err)
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return fmt.Errorf("%w for %v: %q", errNAK, off.YourIPAddr, ack.Message())
	}
	a, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || a.IsUnspecified() {
		return fmt.Errorf("ACK without an address (%v)", ack.YourIPAddr)
	}
	l.Addr = a
	l.Mask = ack.SubnetMask()
	l.Server = addr4(ack.ServerIdentifier())
	l.TFTP = nil
	if v := ack.Options.Get(dhcpv4.OptionTFTPServerAddress); len(v) > 0 {
		if len(v)%4 != 0 {
			return fmt.Errorf("option 150 of %d bytes: not a list of IPv4 addresses", len(v))
		}
		for i := 0; i < len(v); i += 4 {
			l.TFTP = append(l.TFTP, netip.AddrFrom4([4]byte(v[i:i+4])))
		}
	}
	l.TFTPName = ack.TFTPServerName()
	l.SIAddr = addr4(ack.ServerIPAddr)
	return nil
}

func addr4(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// exchange sends b until a reply of one of types comes for mac: Retries
// resends at most, the wait doubling from Timeout up to 4 times it.
func (d *DHCP) exchange(ctx context.Context, ch chan *dhcpv4.DHCPv4, b []byte, mac phone.MAC, l *Lease, types ...dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	wait := d.o.Timeout
	for range d.o.Retries + 1 {
		l.Sends++
		if !d.lose() {
			if _, err := d.conn.WriteTo(b, d.to); err != nil {
				return nil, err
			}
		}
		t := time.NewTimer(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
				break waiting
			case m := <-ch:
				if string(m.ClientHWAddr) == string(mac[:]) && typeIn(m.MessageType(), types) {
					t.Stop()
					return m, nil
				}
			}
		}
		wait = min(2*wait, 4*d.o.Timeout)
	}
	return nil, fmt.Errorf("no %v after %d sends", types, d.o.Retries+1)
}

func typeIn(t dhcpv4.MessageType, types []dhcpv4.MessageType) bool {
	for _, x := range types {
		if t == x {
			return true
		}
	}
	return false
}

// request is a phone's DISCOVER or REQUEST (cisco-79xx.md §5, "DISCOVER
// contents").
func request(mac phone.MAC, sm simModel, xid dhcpv4.TransactionID, typ dhcpv4.MessageType, opts ...dhcpv4.Option) []byte {
	hw := net.HardwareAddr(mac[:])
	m := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, ClientHWAddr: hw,
		TransactionID: xid, Flags: 0x8000, // broadcast: it has no address yet
		ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero, ServerIPAddr: net.IPv4zero, GatewayIPAddr: net.IPv4zero,
		Options: dhcpv4.Options{},
	}
	m.UpdateOption(dhcpv4.OptMessageType(typ))
	m.UpdateOption(dhcpv4.OptClientIdentifier(append([]byte{1}, mac[:]...)))
	m.UpdateOption(dhcpv4.OptHostName("SEP" + mac.Hex()))
	m.UpdateOption(dhcpv4.OptClassIdentifier(sm.vendorClass()))
	m.UpdateOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask, dhcpv4.OptionTFTPServerName,
		dhcpv4.OptionDomainNameServer, dhcpv4.OptionRouter, dhcpv4.OptionDomainName, dhcpv4.OptionTFTPServerAddress))
	for _, o := range opts {
		m.UpdateOption(o)
	}
	return m.ToBytes()
}
