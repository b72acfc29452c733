package fleet

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
)

// A fleet of n phones in a real SQLite store, each with the timeline
// `phoneboot serve` records for it: DHCP, the files of one or two boots,
// syslog lines, provision's decisions (an upgrade for some, the CTL loop
// breaker for a few). Half the phones are in the inventory, half were
// auto-provisioned. Everything is a function of the phone's index, so
// the fixture is the same on every run.

// fixtureNow is the time the fixture's findings are judged at.
var fixtureNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

const (
	fixtureJava    = "SIP41.9-4-2SR3-1S"
	fixtureOldJava = "SIP41.8-5-2S"
	fixtureClassic = "P0S3-8-12-00"
)

// fixtureMAC is phone i's MAC: 7961s in Cisco's 00:1E:4A block, 7960s in 00:13:7F.
func fixtureMAC(i int) phone.MAC {
	oui := [3]byte{0x00, 0x1E, 0x4A}
	if classicPhone(i) {
		oui = [3]byte{0x00, 0x13, 0x7F}
	}
	return phone.MAC{oui[0], oui[1], oui[2], byte(i >> 16), byte(i >> 8), byte(i)}
}

func classicPhone(i int) bool { return i%5 == 1 || i%5 == 3 }

// fixtureConfig is the inventory of the phones with an even index.
func fixtureConfig(tb testing.TB, n int) *config.Config {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`[site]
protocol = "SIP"
sip_proxy = "127.0.0.1"
call_managers = ["127.0.0.1"]

[site.loads]
7960 = "` + fixtureClassic + `"
7961 = "` + fixtureJava + `"

[provision]
ctl_loop_requests = 3
`)
	for i := 0; i < n; i += 2 {
		model := "7961"
		if classicPhone(i) {
			model = "7960"
		}
		fmt.Fprintf(&b, "\n[[phone]]\nmac = %q\nmodel = %q\nlabel = \"desk %d\"\n", fixtureMAC(i), model, i)
	}
	cfg, err := config.Parse("phoneboot.toml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// fillFleet makes the store and the inventory of n phones in dir.
func fillFleet(tb testing.TB, dir string, n int) Fleet {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, store.FileName))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	cfg := fixtureConfig(tb, n)
	var inv []store.Phone
	for _, ph := range cfg.Phones {
		inv = append(inv, store.Phone{MAC: ph.MAC, Model: ph.Model.Name, Protocol: ph.Protocol, Label: ph.Label})
	}
	if err := db.SyncInventory(ctx, inv); err != nil {
		tb.Fatal(err)
	}
	// In batches, as the Writer records them.
	var batch []event.Event
	for i := range n {
		batch = append(batch, timeline(i)...)
		if len(batch) >= 512 || i == n-1 {
			if err := db.Record(ctx, batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return Fleet{Store: db, Config: cfg, Now: func() time.Time { return fixtureNow }}
}

// boot writes one phone's events, a few seconds apart.
type boot struct {
	mac phone.MAC
	ip  netip.Addr
	at  time.Time
	evs []event.Event
}

func (b *boot) add(gap time.Duration, ev event.Event) {
	b.at = b.at.Add(gap)
	ev.Time, ev.MAC = b.at, b.mac
	if !ev.IP.IsValid() {
		ev.IP = b.ip
	}
	b.evs = append(b.evs, ev)
}

func (b *boot) file(src event.Source, name string, outcome event.Outcome, size int64) {
	ev := event.Event{Source: src, Kind: event.Request, File: name, Outcome: outcome}
	if outcome == event.OK {
		ev.Bytes, ev.Duration = size, time.Duration(size)*time.Microsecond/50
	}
	b.add(300*time.Millisecond, ev)
}

func (b *boot) provision(kind event.Kind, file, detail string, facts event.Facts) {
	b.add(10*time.Millisecond, event.Event{Source: event.Provision, Kind: kind, File: file, Detail: detail, Facts: facts})
}

func (b *boot) dhcp(model string) {
	b.add(0, event.Event{Source: event.DHCP, Kind: event.DHCPDiscover, IP: netip.Addr{},
		Detail: "DISCOVER from Cisco Systems, Inc. IP Phone CP-" + model + "G, asks for 1,3,6,15,66,150", Facts: event.Facts{Model: model}})
	b.add(5*time.Millisecond, event.Event{Source: event.DHCP, Kind: event.DHCPOffer, Detail: "OFFER " + b.ip.String() + ", TFTP server 127.0.0.1 (option 150)"})
	b.add(time.Second, event.Event{Source: event.DHCP, Kind: event.DHCPRequest, Detail: "REQUEST " + b.ip.String()})
	b.add(5*time.Millisecond, event.Event{Source: event.DHCP, Kind: event.DHCPAck, Detail: "ACK " + b.ip.String() + " for 24h0m0s"})
}

func (b *boot) syslog(lines ...string) {
	for _, l := range lines {
		b.add(2*time.Second, event.Event{Source: event.Syslog, Kind: event.SyslogLine,
			Detail: "<190>" + b.at.Format(time.Stamp) + " " + b.ip.String() + " " + l})
	}
}

// javaBoot: the trust lists probed, the phone's config, its extras.
func (b *boot) javaBoot(src event.Source) {
	b.dhcp("7961")
	dev := b.mac.DeviceName()
	b.file(src, "CTL"+dev+".tlv", event.NotFound, 0)
	b.file(src, "ITL"+dev+".tlv", event.NotFound, 0)
	b.file(src, "ITLFile.tlv", event.NotFound, 0)
	b.file(src, dev+".cnf.xml.sgn", event.NotFound, 0)
	b.file(src, dev+".cnf.xml", event.OK, 4321)
}

// timeline is phone i's events: its last boot began up to 5 hours
// before fixtureNow, the one before a day earlier.
func timeline(i int) []event.Event {
	mac := fixtureMAC(i)
	b := &boot{mac: mac, ip: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
		at: fixtureNow.Add(-29*time.Hour - time.Duration(i%3000)*6*time.Second)}
	dev := mac.DeviceName()
	switch {
	case classicPhone(i):
		// A 7960 on SIP 8.12 booting twice; every 25th loops on its
		// CTL file until the loop breaker serves an empty one.
		for n := range 2 {
			b.dhcp("7960")
			ctl := "CTL" + dev + ".tlv"
			b.file(event.TFTP, ctl, event.NotFound, 0)
			if i%25 == 1 && n == 1 {
				for range 4 {
					b.file(event.TFTP, ctl, event.NotFound, 0)
				}
				b.provision(event.LoopBreaker, ctl, "CTL loop: serving an empty "+ctl+" after 5 requests",
					event.Facts{Remedy: event.RemedyEmpty, Count: 5})
				b.file(event.TFTP, ctl, event.OK, 0)
			}
			b.file(event.TFTP, dev+".cnf.xml", event.OK, 2100)
			b.file(event.TFTP, fixtureClassic+".loads", event.OK, 420)
			b.at = b.at.Add(23 * time.Second)
			b.file(event.TFTP, "SIPDefault.cnf", event.OK, 1800)
			b.file(event.TFTP, "./SIP"+mac.Hex()+".cnf", event.OK, 900)
			if n == 0 {
				b.provision(event.Load, "SIP"+mac.Hex()+".cnf", "runs "+fixtureClassic+" now", event.Facts{Running: fixtureClassic})
			}
			b.file(event.TFTP, "RINGLIST.DAT", event.OK, 64)
			b.file(event.TFTP, "dialplan.xml", event.OK, 310)
			b.syslog("SIP 8.12: registered line 1", "NTP: clock set")
			b.at = fixtureNow.Add(-time.Duration(i%3000) * 6 * time.Second)
		}
	case i%5 == 2:
		// A 7961 upgrading from 8.5(2): the plan, the load list, its
		// five components, the reboot; every 4th of them is still (or
		// got stuck) downloading at its third component.
		b.javaBoot(event.TFTP)
		b.provision(event.Load, dev+".cnf.xml", "runs "+fixtureOldJava+" now", event.Facts{Running: fixtureOldJava})
		b.at = fixtureNow.Add(-time.Duration(i%3000) * 6 * time.Second)
		b.javaBoot(event.TFTP)
		b.provision(event.Upgrade, dev+".cnf.xml", "step "+fixtureJava+" (from "+fixtureOldJava+"), path "+fixtureJava,
			event.Facts{From: fixtureOldJava, Next: fixtureJava, Target: fixtureJava, Path: []string{fixtureJava}})
		b.file(event.TFTP, fixtureJava+".loads", event.OK, 640)
		parts := []string{"jar41sip.9-4-2ES26.sbn", "cnu41.9-4-2ES26.sbn", "apps41.9-4-2ES26.sbn", "dsp41.9-4-2ES26.sbn", "cvm41sip.9-4-2ES26.sbn"}
		if i%20 == 2 {
			parts = parts[:3]
		}
		for k, p := range parts {
			ev := event.Event{Source: event.TFTP, Kind: event.Request, File: p, Outcome: event.OK,
				Bytes: int64(1+k) * 700_000, Duration: time.Duration(1+k) * 4 * time.Second}
			if k == 1 {
				ev.Facts.Retransmits = 3
			}
			b.add(5*time.Second, ev)
		}
		if i%20 != 2 {
			b.provision(event.Load, parts[4], "runs "+fixtureJava+" now", event.Facts{Running: fixtureJava})
			b.at = b.at.Add(90 * time.Second)
			b.javaBoot(event.TFTP)
			b.file(event.TFTP, "Ringlist.xml", event.OK, 200)
			b.syslog("SIP41.9-4-2SR3-1S: line 1 registered")
		}
	default:
		// A 7961 on its target, over HTTP, booting twice.
		for range 2 {
			b.javaBoot(event.HTTP)
			b.file(event.HTTP, "Ringlist.xml", event.OK, 200)
			b.file(event.HTTP, "dialplan.xml", event.OK, 310)
			b.syslog("SIP41.9-4-2SR3-1S: line 1 registered", "SIP41.9-4-2SR3-1S: line 2 registered", "config: dial plan loaded")
			if len(b.evs) < 20 {
				b.provision(event.Load, dev+".cnf.xml", "runs "+fixtureJava+" now", event.Facts{Running: fixtureJava})
			}
			b.at = fixtureNow.Add(-time.Duration(i%3000) * 6 * time.Second)
		}
	}
	return b.evs
}
