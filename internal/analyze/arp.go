package analyze

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/track"
)

// arpAsk is what a capture shows of one phone asking ARP for one address.
type arpAsk struct {
	from        netip.Addr
	count       int
	first, last time.Time
}

type arpKey struct {
	mac    phone.MAC
	target netip.Addr
}

// arpWatch counts ARP requests that nobody answers: a phone that keeps a
// TFTP server's address from an old network asks for it again and again
// (the seed page's "temporarily reconfigure your local network to
// addresses that the phone is trying to use").
type arpWatch struct {
	a        *analyzer
	max      int
	asks     map[arpKey]*arpAsk
	answered map[netip.Addr]bool // addresses that answered ARP or sent IP
}

func newARPWatch(a *analyzer, max int) *arpWatch {
	return &arpWatch{a: a, max: max, asks: map[arpKey]*arpAsk{}, answered: map[netip.Addr]bool{}}
}

func (a *analyzer) arpPacket(f *frame) {
	var p layers.ARP
	if err := p.DecodeFromBytes(f.payload, gopacket.NilDecodeFeedback); err != nil {
		a.problem(f.n, "ARP: %v", err)
		return
	}
	if p.AddrType != layers.LinkTypeEthernet || p.Protocol != layers.EthernetTypeIPv4 || len(p.SourceProtAddress) != 4 || len(p.DstProtAddress) != 4 {
		a.skipped++
		return
	}
	sender := netip.AddrFrom4([4]byte(p.SourceProtAddress))
	target := netip.AddrFrom4([4]byte(p.DstProtAddress))
	mac, ok := macOf(p.SourceHwAddress)
	if !ok {
		a.skipped++
		return
	}
	w := a.arp
	switch p.Operation {
	case layers.ARPReply:
		w.seen(sender)
		if !sender.IsUnspecified() {
			a.phones.sawEthernet(sender, mac)
		}
	case layers.ARPRequest:
		if sender.IsUnspecified() || sender == target {
			return // a probe or announcement of its own address (RFC 5227)
		}
		w.seen(sender)
		a.phones.sawEthernet(sender, mac)
		k := arpKey{mac, target}
		ask := w.asks[k]
		if ask == nil {
			if len(w.asks) >= w.max {
				return
			}
			ask = &arpAsk{from: sender, first: f.t}
			w.asks[k] = ask
		}
		ask.count++
		ask.last = f.t
	}
}

// seen notes an address that is there.
func (w *arpWatch) seen(ip netip.Addr) {
	if len(w.answered) < w.max || w.answered[ip] {
		w.answered[ip] = true
	}
}

// finish makes an event of each address a phone asked for often enough
// that never answered.
func (w *arpWatch) finish() {
	for k, ask := range w.asks {
		if ask.count < track.ARPUnansweredCount || w.answered[k.target] {
			continue
		}
		w.a.emit(event.Event{Time: ask.last, MAC: k.mac, IP: ask.from, Source: event.ARP, Kind: event.ARPUnanswered,
			Facts:  event.Facts{Server: k.target, Count: ask.count},
			Detail: fmt.Sprintf("asked %d times who has %v (from %s); nobody answered", ask.count, k.target, ask.first.Local().Format("15:04:05"))})
	}
}
