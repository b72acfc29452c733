// Package analyze rebuilds what happened on the wire from a packet
// capture (pcap or pcapng, from tcpdump, Wireshark or a span port): every
// phone's DHCP exchanges, TFTP transfers, HTTP requests on 6970, syslog,
// CDP/LLDP and ARP. What it rebuilds becomes event.Event values, the same
// vocabulary the live server records, attributed to phones by MAC; the
// phones' rows and findings come from fleet and track, the same rules the
// live server's `phoneboot phones` runs. It streams the capture: memory is
// bounded by the number of open transfers and of phones, never by the
// size of the file.
package analyze

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
)

// Options say where the capture's services listen and how much to keep.
type Options struct {
	// TFTPPorts are the ports TFTP requests go to (69 when empty). A
	// request to any other port is still found by its opcode and mode.
	TFTPPorts []uint16
	// HTTPPort is where phones fetch files over HTTP (6970 when 0).
	HTTPPort uint16
	// SyslogPort is where phones log (514 when 0).
	SyslogPort uint16
	// Config gives the inventory (targets, labels) and the rules'
	// thresholds; config.Default when nil.
	Config *config.Config
	// Limits; the defaults when 0.
	MaxTransfers int // open TFTP transfers and TCP connections at once
	MaxPhones    int // phones and addresses followed
	MaxEvents    int // events kept per phone (the newest)
	MaxAll       int // events kept in all
}

// Defaults of Options' limits.
const (
	DefaultMaxTransfers = 20_000
	DefaultMaxPhones    = 50_000
	DefaultMaxEvents    = 5_000
	DefaultMaxAll       = 500_000 // about 200 MB of events
)

// Source is the Source of the rows of phones seen in a capture.
const Source = "capture"

// Result is what a capture shows.
type Result struct {
	File    string    `json:"file"`
	Format  string    `json:"format"` // "pcap", "pcapng", "pcap.gz"
	Packets int       `json:"packets"`
	First   time.Time `json:"first,omitzero"`
	Last    time.Time `json:"last,omitzero"` // findings are judged at this time
	// Phones, with their timelines (oldest event first).
	Phones []fleet.View `json:"phones"`
	// Servers are the TFTP and HTTP servers the phones talked to.
	Servers []Server `json:"servers"`
	// Unattributed counts events of addresses no MAC was found for.
	Unattributed int `json:"unattributed_events,omitempty"`
	// Skipped counts packets that were not understood (not IP, ARP, CDP
	// or LLDP, or too short), Malformed those of a known protocol that
	// were broken (the first few described in Problems).
	Skipped   int      `json:"skipped_packets,omitempty"`
	Malformed int      `json:"malformed_packets,omitempty"`
	Problems  []string `json:"problems,omitempty"`
	// Dropped counts what the limits kept out.
	Dropped Dropped `json:"dropped,omitzero"`
	// Damage is set when the file could not be read to its end.
	Damage *Damage `json:"damage,omitempty"`
}

// Dropped counts what Options' limits kept out of a Result.
type Dropped struct {
	Transfers int `json:"transfers,omitempty"` // requests not followed: too many open at once
	Phones    int `json:"phones,omitempty"`    // events of phones past MaxPhones
	Events    int `json:"events,omitempty"`    // the oldest events of phones past MaxEvents, the newest past MaxAll
}

// Server is a file server the capture shows phones talking to.
type Server struct {
	Addr     netip.Addr `json:"addr"`
	Protocol string     `json:"protocol"` // "tftp" or "http"
	Port     uint16     `json:"port"`
	Requests int        `json:"requests"`
	Phones   int        `json:"phones"`
}

// ErrDamaged is wrapped by the error File returns with a Result for a
// capture that could not be read to its end.
var ErrDamaged = errors.New("damaged capture")

// damaged is the error of a damaged capture: the damage, said once.
type damaged struct{ d Damage }

func (e damaged) Error() string        { return e.d.String() }
func (e damaged) Is(target error) bool { return target == ErrDamaged }

// maxProblems bounds Result.Problems.
const maxProblems = 10

// File analyses the capture at path. A damaged capture gives its Result
// up to the damage and an error wrapping ErrDamaged.
func File(path string, o Options) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the capture: %w", err)
	}
	defer f.Close()
	res, err := Read(f, o)
	if res != nil {
		res.File = path
	}
	return res, err
}

// Read analyses a capture read from r.
func Read(r io.Reader, o Options) (*Result, error) {
	src, format, err := open(r)
	if err != nil {
		return nil, err
	}
	a := newAnalyzer(o)
	res := &Result{Format: format}
	offset := int64(24) // pcap: after the file header
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			if err == io.EOF {
				break
			}
			d := &Damage{Packet: res.Packets + 1, What: plainErr(err)}
			if format == "pcap" {
				d.Offset = offset
			}
			res.Damage = d
			break
		}
		res.Packets++
		offset += pcapRecord + int64(ci.CaptureLength)
		t := stamp(ci)
		if res.First.IsZero() {
			res.First = t
		}
		if t.After(res.Last) {
			res.Last = t
		}
		a.packet(res.Packets, linkOf(src, ci), data, t)
	}
	a.finish(res)
	if res.Damage != nil {
		return res, damaged{*res.Damage}
	}
	return res, nil
}

// analyzer holds the state of one capture's analysis.
type analyzer struct {
	o       Options
	cfg     *config.Config
	tftp    *tftpFlows
	http    *httpFlows
	arp     *arpWatch
	phones  *book
	servers map[serverKey]*serverSeen
	// announced is what each phone's CDP/LLDP said last.
	announced map[phone.MAC]announced
	// skipped, malformed and problems as in Result.
	skipped, malformed int
	problems           []string
	lastSweep          time.Time
	now                time.Time
}

type serverKey struct {
	addr  netip.Addr
	proto string
	port  uint16
}

type serverSeen struct {
	requests int
	phones   map[netip.Addr]bool // client addresses, at most maxServerClients
}

const maxServerClients = 100_000

func newAnalyzer(o Options) *analyzer {
	if len(o.TFTPPorts) == 0 {
		o.TFTPPorts = []uint16{69}
	}
	o.HTTPPort = cmp.Or(o.HTTPPort, 6970)
	o.SyslogPort = cmp.Or(o.SyslogPort, 514)
	o.MaxTransfers = cmp.Or(o.MaxTransfers, DefaultMaxTransfers)
	o.MaxPhones = cmp.Or(o.MaxPhones, DefaultMaxPhones)
	o.MaxEvents = cmp.Or(o.MaxEvents, DefaultMaxEvents)
	o.MaxAll = cmp.Or(o.MaxAll, DefaultMaxAll)
	cfg := o.Config
	if cfg == nil {
		cfg = config.Default("")
	}
	a := &analyzer{o: o, cfg: cfg, servers: map[serverKey]*serverSeen{}, announced: map[phone.MAC]announced{}}
	a.phones = newBook(o.MaxPhones, o.MaxEvents, o.MaxAll)
	a.tftp = newTFTPFlows(a, o.MaxTransfers)
	a.http = newHTTPFlows(a, o.MaxTransfers)
	a.arp = newARPWatch(a, o.MaxPhones)
	return a
}

// problem notes a malformed packet.
func (a *analyzer) problem(n int, format string, args ...any) {
	a.malformed++
	if len(a.problems) < maxProblems {
		a.problems = append(a.problems, fmt.Sprintf("packet %d: ", n)+fmt.Sprintf(format, args...))
	}
}

// emit records an event (its MAC set when the packet names it, else
// attributed by address at the end).
func (a *analyzer) emit(ev event.Event) { a.phones.add(ev) }

// served counts a request to a server.
func (a *analyzer) served(addr netip.Addr, proto string, port uint16, client netip.Addr) {
	k := serverKey{addr, proto, port}
	s := a.servers[k]
	if s == nil {
		if len(a.servers) >= a.o.MaxPhones {
			return
		}
		s = &serverSeen{phones: map[netip.Addr]bool{}}
		a.servers[k] = s
	}
	s.requests++
	if len(s.phones) < maxServerClients {
		s.phones[client] = true
	}
}

// sweepEvery is how often (capture time) idle flows are closed.
const sweepEvery = 5 * time.Second

func (a *analyzer) tick(t time.Time) {
	if t.After(a.now) {
		a.now = t
	}
	if a.now.Sub(a.lastSweep) >= sweepEvery {
		a.lastSweep = a.now
		a.tftp.sweep(a.now, false)
		a.http.sweep(a.now, false)
	}
}

// finish closes every flow and makes the rows.
func (a *analyzer) finish(res *Result) {
	a.tftp.sweep(a.now, true)
	a.http.sweep(a.now, true)
	a.arp.finish()
	res.Servers = []Server{}
	res.Skipped, res.Malformed, res.Problems = a.skipped, a.malformed, a.problems
	res.Dropped.Transfers = a.tftp.dropped + a.http.dropped
	res.Dropped.Phones, res.Dropped.Events = a.phones.droppedPhones, a.phones.droppedEvents
	for k, s := range a.servers {
		res.Servers = append(res.Servers, Server{Addr: k.addr, Protocol: k.proto, Port: k.port, Requests: s.requests, Phones: len(s.phones)})
	}
	slices.SortFunc(res.Servers, func(x, y Server) int {
		return cmp.Or(y.Requests-x.Requests, x.Addr.Compare(y.Addr), cmp.Compare(x.Port, y.Port))
	})
	timelines, unattributed := a.phones.timelines()
	res.Unattributed = unattributed
	fl := fleet.Fleet{Config: a.cfg}
	now := cmp.Or(res.Last, time.Now())
	res.Phones = []fleet.View{}
	for _, tl := range timelines {
		p := store.Phone{MAC: tl.mac, Source: Source, SeenModel: tl.model, Load: tl.running, LastSeen: tl.lastSeen, LastFile: tl.lastFile, IP: tl.ip}
		if len(tl.events) > 0 {
			p.FirstSeen = tl.events[0].Time
		}
		row := fl.Judge(p, tl.events, now)
		res.Phones = append(res.Phones, fleet.View{Row: row, Events: tl.events})
	}
}

// macOf is a MAC from a hardware address slice, ok only for a unicast,
// non-zero Ethernet address.
func macOf(b []byte) (phone.MAC, bool) {
	if len(b) != 6 || b[0]&1 != 0 {
		return phone.MAC{}, false
	}
	var m phone.MAC
	copy(m[:], b)
	return m, m != phone.MAC{}
}
