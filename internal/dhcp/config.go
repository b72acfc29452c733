package dhcp

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"phoneboot/internal/phone"
)

// Config is a DHCP server for one interface: a phone VLAN or a bench network.
type Config struct {
	Iface string // interface to serve on; the server never answers elsewhere
	// Node is the fleet node this server is (config.Node.Name; "": a
	// phoneboot alone): its leases carry it, and it loads only its own
	// (Leases.NodeLeases). A node sees the whole fleet's reservations, so
	// those outside its subnet are other nodes' and ignored without a
	// warning.
	Node   string
	Range  [2]netip.Addr // pool, inclusive
	Subnet netip.Prefix  // default: the interface's prefix containing Range
	Router netip.Addr    // option 3 (zero: none)
	DNS    []netip.Addr  // option 6
	Domain string        // option 15
	NTP    []netip.Addr  // option 42
	// TFTP is option 150, the list Cisco phones take their TFTP server
	// from (and siaddr, their third choice, is TFTP[0]); default: the
	// server's own address on Iface.
	TFTP      []netip.Addr
	TFTPName  string        // option 66; default: TFTP[0] as text
	LeaseTime time.Duration // option 51; default 24h. T1 (58) and T2 (59) are 1/2 and 7/8 of it.
	// Reservations give a MAC a fixed address (inventory phones with an
	// ip). It need not be in Range; one outside Subnet is ignored with a
	// warning (a phone with a static address elsewhere). No other client
	// gets a reserved address.
	Reservations map[phone.MAC]netip.Addr
	// Listed are the inventory's MACs: the admin named them, so their
	// first lease takes no token of the new-lease bucket (below), however
	// many boot at once.
	Listed      map[phone.MAC]bool
	DeclineHold time.Duration // how long a declined address stays unused; default 10 min
	// NewLeasesPerMinute and NewLeaseBurst bound how fast clients that
	// hold nothing here take addresses (a token bucket: NewLeaseBurst at
	// once, then NewLeasesPerMinute a minute), so that a host sending
	// from rotating MACs cannot empty the pool at once. Renewals, clients
	// with an offer or a lease, reservations and Listed MACs are never
	// limited. 0
	// means 12 a minute, bursts of 48.
	NewLeasesPerMinute int
	NewLeaseBurst      int
	// UnconfirmedLease is the lease of a client that asks for an address
	// it was neither offered nor leased (a REQUEST without DISCOVER); its
	// first renewal gets the full lease time. 0 means 2 min; never more
	// than the lease time.
	UnconfirmedLease time.Duration
	// Overrides change options for some clients, by model or vendor
	// class; the first that matches wins.
	Overrides []Override
	// Probe is how long Run listens for another DHCP server's answer to a
	// probe DISCOVER before it starts serving; 0 means 1.5 s, negative
	// means no probe.
	Probe time.Duration
}

// Override replaces the options of clients it matches: its non-zero
// fields win over Config's.
type Override struct {
	// Model matches the vendor classes of a phone model, named as
	// phone.ModelByName knows it ("7960", "CP-7941G").
	Model string
	// VendorClass matches option 60 exactly (trailing NULs ignored).
	VendorClass string

	Router    netip.Addr
	DNS       []netip.Addr
	Domain    string
	NTP       []netip.Addr
	TFTP      []netip.Addr
	TFTPName  string
	LeaseTime time.Duration
}

// options is what a client may be told: Config's, or an Override's merged in.
type options struct {
	router    netip.Addr
	dns, ntp  []netip.Addr
	domain    string
	tftp      []netip.Addr
	tftpName  string
	leaseTime time.Duration
}

type override struct {
	model, vendorClass string
	opts               options
}

// settings is a validated Config.
type settings struct {
	iface       string
	node        string
	self        netip.Addr // the server's address on iface, inside subnet: option 54
	subnet      netip.Prefix
	lo, hi      netip.Addr
	base        options
	overrides   []override
	reserved    map[phone.MAC]netip.Addr
	reservedBy  map[netip.Addr]phone.MAC
	listed      map[phone.MAC]bool
	declineHold time.Duration
	probe       time.Duration
	newPerMin   int                 // new clients a minute, after a burst of
	newBurst    int                 // this many
	unconfirmed time.Duration       // the lease of a REQUEST without DISCOVER
	excluded    map[netip.Addr]bool // never leased: network, broadcast, the server, the router
	warnings    []string
}

// The new-lease limit's defaults: a switch full of new phones gets
// addresses at once, and a pool of 249 addresses lasts at least
// (249-48)/12 ≈ 16 minutes against a host that completes full exchanges
// from rotating MACs (docs/security.md, "DHCP").
const (
	DefaultNewLeasesPerMinute = 12
	DefaultNewLeaseBurst      = 48
)

// maxPool bounds the pool so that a scan for a free address stays cheap.
const maxPool = 1 << 16

// maxReply is the size every client must accept (RFC 2131 §2: 576-byte IP
// datagrams) less the IP and UDP headers.
const maxReply = 576 - 28

// ifaceInfo is what New learns about the interface.
type ifaceInfo struct {
	name  string
	addrs []netip.Prefix // IPv4 only
}

func lookupIface(name string) (ifaceInfo, error) {
	if name == "" {
		return ifaceInfo{}, errors.New("dhcp iface: no interface given")
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return ifaceInfo{}, fmt.Errorf("dhcp iface %q: %w", name, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return ifaceInfo{}, fmt.Errorf("dhcp iface %q: %w", name, err)
	}
	info := ifaceInfo{name: name}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		ones, bits := n.Mask.Size()
		if !ok || bits == 0 {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() {
			if bits == 128 {
				ones -= 96
			}
			info.addrs = append(info.addrs, netip.PrefixFrom(ip, ones))
		}
	}
	return info, nil
}

func (info ifaceInfo) describe() string {
	if len(info.addrs) == 0 {
		return "no IPv4 address"
	}
	var s []string
	for _, p := range info.addrs {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

func compile(cfg Config, info ifaceInfo) (*settings, error) {
	st := &settings{iface: info.name, node: cfg.Node, declineHold: cfg.DeclineHold, probe: cfg.Probe,
		newPerMin: cfg.NewLeasesPerMinute, newBurst: cfg.NewLeaseBurst, unconfirmed: cfg.UnconfirmedLease}
	lo, hi := cfg.Range[0], cfg.Range[1]
	if !lo.Is4() || !hi.Is4() {
		return nil, fmt.Errorf("dhcp range %v-%v: want two IPv4 addresses", lo, hi)
	}
	if hi.Less(lo) {
		return nil, fmt.Errorf("dhcp range %v-%v ends before it starts", lo, hi)
	}
	if poolSize(lo, hi) > maxPool {
		return nil, fmt.Errorf("dhcp range %v-%v: more than %d addresses", lo, hi, maxPool)
	}
	st.lo, st.hi = lo, hi

	subnet := cfg.Subnet
	if !subnet.IsValid() {
		for _, p := range info.addrs {
			if p.Contains(lo) && p.Contains(hi) {
				subnet = p.Masked()
				break
			}
		}
		if !subnet.IsValid() {
			return nil, fmt.Errorf("dhcp subnet: no address of %s (%s) is in a prefix containing range %v-%v; set the subnet, and give %s an address in it",
				info.name, info.describe(), lo, hi, info.name)
		}
	}
	if !subnet.Addr().Is4() || subnet.Bits() > 30 || subnet.Bits() < 8 {
		return nil, fmt.Errorf("dhcp subnet %v: want an IPv4 prefix from /8 to /30", subnet)
	}
	subnet = subnet.Masked()
	st.subnet = subnet
	for _, a := range cfg.Range {
		if !subnet.Contains(a) {
			return nil, fmt.Errorf("dhcp range: %v is outside subnet %v", a, subnet)
		}
	}
	for _, p := range info.addrs {
		if subnet.Contains(p.Addr()) {
			st.self = p.Addr()
			break
		}
	}
	if !st.self.IsValid() {
		return nil, fmt.Errorf("dhcp iface: %s has no IPv4 address in subnet %v (it has %s)", info.name, subnet, info.describe())
	}
	st.excluded = map[netip.Addr]bool{subnet.Addr(): true, broadcastOf(subnet): true}
	for _, p := range info.addrs {
		st.excluded[p.Addr()] = true
	}

	if cfg.LeaseTime == 0 {
		cfg.LeaseTime = 24 * time.Hour
	}
	if st.declineHold == 0 {
		st.declineHold = 10 * time.Minute
	}
	if st.declineHold < 0 {
		return nil, fmt.Errorf("dhcp decline hold %v: must be positive", st.declineHold)
	}
	if st.probe == 0 {
		st.probe = 1500 * time.Millisecond
	}
	if st.newPerMin == 0 {
		st.newPerMin = DefaultNewLeasesPerMinute
	}
	if st.newBurst == 0 {
		st.newBurst = DefaultNewLeaseBurst
	}
	if st.newPerMin < 0 || st.newBurst < 0 {
		return nil, fmt.Errorf("dhcp new leases: %d a minute in bursts of %d: want positive numbers", st.newPerMin, st.newBurst)
	}
	if st.unconfirmed == 0 {
		st.unconfirmed = 2 * time.Minute
	}
	if st.unconfirmed < 10*time.Second {
		return nil, fmt.Errorf("dhcp unconfirmed lease %v: want 10s or more", st.unconfirmed)
	}
	tftp := cfg.TFTP
	if len(tftp) == 0 {
		tftp = []netip.Addr{st.self}
	}
	base := options{router: cfg.Router, dns: cfg.DNS, ntp: cfg.NTP, domain: cfg.Domain, tftp: tftp,
		tftpName: cfg.TFTPName, leaseTime: cfg.LeaseTime}
	if base.tftpName == "" && len(base.tftp) > 0 {
		base.tftpName = base.tftp[0].String()
	}
	if err := st.check("", &base); err != nil {
		return nil, err
	}
	st.base = base
	if cfg.Router.IsValid() {
		st.excluded[cfg.Router] = true
	}

	for i, o := range cfg.Overrides {
		ov := override{vendorClass: strings.TrimRight(o.VendorClass, "\x00")}
		name := fmt.Sprintf("dhcp override %d", i+1)
		switch {
		case o.Model != "" && o.VendorClass != "":
			return nil, fmt.Errorf("%s: give a model or a vendor class, not both", name)
		case o.Model != "":
			m, ok := phone.ModelByName(o.Model)
			if !ok {
				return nil, fmt.Errorf("%s: unknown phone model %q", name, o.Model)
			}
			ov.model = m.Name
			name += " (" + m.Name + ")"
		case ov.vendorClass != "":
			name += fmt.Sprintf(" (%q)", ov.vendorClass)
		default:
			return nil, fmt.Errorf("%s: give a model or a vendor class to match", name)
		}
		ov.opts = base
		if o.Router.IsValid() {
			ov.opts.router = o.Router
		}
		if o.DNS != nil {
			ov.opts.dns = o.DNS
		}
		if o.NTP != nil {
			ov.opts.ntp = o.NTP
		}
		if o.Domain != "" {
			ov.opts.domain = o.Domain
		}
		if o.TFTP != nil {
			ov.opts.tftp = o.TFTP
			if o.TFTPName == "" && cfg.TFTPName == "" && len(o.TFTP) > 0 {
				ov.opts.tftpName = o.TFTP[0].String()
			}
		}
		if o.TFTPName != "" {
			ov.opts.tftpName = o.TFTPName
		}
		if o.LeaseTime != 0 {
			ov.opts.leaseTime = o.LeaseTime
		}
		if err := st.check(name+" ", &ov.opts); err != nil {
			return nil, err
		}
		st.overrides = append(st.overrides, ov)
	}

	st.listed = maps.Clone(cfg.Listed)
	st.reserved = make(map[phone.MAC]netip.Addr, len(cfg.Reservations))
	st.reservedBy = make(map[netip.Addr]phone.MAC, len(cfg.Reservations))
	macs := make([]phone.MAC, 0, len(cfg.Reservations))
	for m := range cfg.Reservations {
		macs = append(macs, m)
	}
	slices.SortFunc(macs, func(a, b phone.MAC) int { return strings.Compare(a.String(), b.String()) })
	for _, m := range macs {
		ip := cfg.Reservations[m]
		switch {
		case m == (phone.MAC{}):
			return nil, fmt.Errorf("dhcp reservation of %v: no MAC", ip)
		case !ip.Is4():
			return nil, fmt.Errorf("dhcp reservation %v: %v is not an IPv4 address", m, ip)
		case !subnet.Contains(ip):
			if cfg.Node == "" {
				st.warnings = append(st.warnings, fmt.Sprintf("reservation of %v ignored: %v is not in subnet %v", m, ip, subnet))
			}
			continue
		case st.excluded[ip]:
			return nil, fmt.Errorf("dhcp reservation %v: %v is the network, broadcast, router or this server's address", m, ip)
		}
		if other, dup := st.reservedBy[ip]; dup {
			return nil, fmt.Errorf("dhcp reservation %v: %v is already reserved for %v", m, ip, other)
		}
		st.reserved[m], st.reservedBy[ip] = ip, m
	}
	return st, nil
}

// check validates one option set, then makes sure the largest reply it
// can produce fits in a minimal DHCP message.
func (st *settings) check(what string, o *options) error {
	ipv4s := func(field string, list []netip.Addr) error {
		for _, a := range list {
			if !a.Is4() || a.IsUnspecified() {
				return fmt.Errorf("dhcp %s%s: %v is not an IPv4 address", what, field, a)
			}
		}
		return nil
	}
	if o.router.IsValid() && !st.subnet.Contains(o.router) {
		return fmt.Errorf("dhcp %srouter: %v is not in subnet %v", what, o.router, st.subnet)
	}
	if err := ipv4s("dns", o.dns); err != nil {
		return err
	}
	if err := ipv4s("ntp", o.ntp); err != nil {
		return err
	}
	if err := ipv4s("tftp", o.tftp); err != nil {
		return err
	}
	if len(o.tftp) == 0 {
		return fmt.Errorf("dhcp %stftp: empty list", what)
	}
	if len(o.domain) > 255 || len(o.tftpName) > 255 {
		return fmt.Errorf("dhcp %sdomain or tftp name: longer than 255 bytes", what)
	}
	if o.leaseTime < 10*time.Second || o.leaseTime > 0xffffffff*time.Second {
		return fmt.Errorf("dhcp %slease time %v: want 10s or more", what, o.leaseTime)
	}
	// The largest reply: every option asked for, a relay's option 82 echo
	// aside (a relay accepts what it sent).
	r := st.newReply(&msg{p: &dhcpv4.DHCPv4{ClientHWAddr: make(net.HardwareAddr, 6)}}, dhcpv4.MessageTypeAck)
	st.addOptions(r, o, allCodes, true)
	if n := len(r.ToBytes()); n > maxReply {
		return fmt.Errorf("dhcp %soptions: a reply with all of them is %d bytes, more than the %d every client accepts; shorten the lists", what, n, maxReply)
	}
	return nil
}

func poolSize(lo, hi netip.Addr) int {
	return int(u32(hi)-u32(lo)) + 1
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromU32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func broadcastOf(p netip.Prefix) netip.Addr {
	return fromU32(u32(p.Masked().Addr()) | (1<<(32-p.Bits()) - 1))
}

func maskOf(p netip.Prefix) net.IPMask { return net.CIDRMask(p.Bits(), 32) }
