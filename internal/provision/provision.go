// Package provision decides what a phone gets for each name it asks for:
// a file the admin put in the TFTP root, a config generated from the
// inventory (or from the defaults, for a phone outside it), firmware from
// the root, or "file not found" with a reason. The loop breakers of the
// seed page live here too: a phone stuck asking for CTLSEP<MAC>.tlv is
// switched to an empty file, and back, instead of an admin with tcpdump.
package provision

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/phone"
	"phoneboot/internal/render"
	"phoneboot/internal/tftp"
	"phoneboot/internal/upgrade"
)

// Options configure a Provisioner.
type Options struct {
	Root      string        // the TFTP root: firmware and the admin's own files
	Files     tftp.Resolver // serves files from Root
	Templates string        // folder of template overrides ("" or missing: built-in only)
	Firmware  Firmware      // the firmware catalog; nil: firmware only from Root
	// Running is the load each phone was last seen running (from the
	// store), so that a restart does not forget where upgrades stand.
	Running map[phone.MAC]string
	Logger  *slog.Logger
	// OnEvent receives every decision worth a line in a phone's timeline.
	// It is called from transfers' goroutines and must not block.
	OnEvent func(Event)
	Now     func() time.Time // for tests; time.Now when nil
}

// Event is a decision provision took about a phone.
type Event struct {
	Time   time.Time
	MAC    phone.MAC
	IP     netip.Addr
	Kind   string // one of the Kind… constants
	File   string
	Detail string // what happened and why, for people
}

// Event kinds.
const (
	KindAutoProvisioned = "auto-provisioned" // a phone outside the inventory got the defaults
	KindLoopBreaker     = "loop-breaker"     // a CTL/ITL loop made provision change what it serves
	KindLoopPersists    = "loop-persists"    // the breaker has nothing left to try
	KindConfigLoop      = "config-loop"      // a phone keeps asking for its SEP<MAC>.cnf.xml
	KindLoad            = "load"             // a phone runs a new load; Detail is its ID
	KindUpgrade         = "upgrade"          // a phone was given the next step of its path
	KindUpgradeBlocked  = "upgrade-blocked"  // the path needs a load the catalog lacks, or is refused
)

// Provisioner is a tftp.Resolver for phones.
type Provisioner struct {
	opts Options
	snap atomic.Pointer[snapshot]

	mu      sync.Mutex
	phones  map[phone.MAC]*phoneState
	ipMAC   map[netip.Addr]phone.MAC // the last phone seen at each address
	learned map[phone.MAC]phone.Model
	running map[phone.MAC]string // the load each phone runs, as far as seen
}

// maxTracked bounds the per-phone state kept for loop detection.
const maxTracked = 100000

// New returns a Provisioner serving the built-in defaults until Update.
func New(opts Options) (*Provisioner, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Provisioner{opts: opts, phones: map[phone.MAC]*phoneState{}, ipMAC: map[netip.Addr]phone.MAC{}, learned: map[phone.MAC]phone.Model{}, running: map[phone.MAC]string{}}
	for mac, id := range opts.Running {
		p.running[mac] = id
	}
	if _, err := p.Update(config.Default("")); err != nil {
		return nil, err
	}
	return p, nil
}

// Update renders everything for cfg (config.Default: no config file) and the current
// TFTP root and templates, then switches to it at once; transfers already
// running keep the files they started with. On error nothing changes.
// The problems found (missing loads, overriding files) are returned.
func (p *Provisioner) Update(cfg *config.Config) ([]Problem, error) {
	p.mu.Lock()
	running := maps.Clone(p.running)
	p.mu.Unlock()
	s, err := build(cfg, p.opts.Root, p.opts.Templates, p.opts.Firmware, running)
	if err != nil {
		return nil, err
	}
	p.snap.Store(s)
	return s.problems, nil
}

// Check builds what Update would serve without serving it: for
// `phoneboot check`.
func Check(cfg *config.Config, root, templates string, fw Firmware, running map[phone.MAC]string) ([]Problem, error) {
	s, err := build(cfg, root, templates, fw, running)
	if err != nil {
		return nil, err
	}
	return s.problems, nil
}

// Learn records a phone's model seen on the network (DHCP vendor class,
// CDP, a termNN.default.loads request), so that a phone outside the
// inventory gets its model's load.
func (p *Provisioner) Learn(mac phone.MAC, m phone.Model) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.learned) < maxTracked {
		p.learned[mac] = m
	}
}

// Bind records that ip belongs to mac (a DHCP lease), so that requests
// without a MAC in their name (OS79XX.TXT, termNN.default.loads, firmware)
// are attributed from the first one on.
func (p *Provisioner) Bind(mac phone.MAC, ip netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ipMAC) < maxTracked || p.ipMAC[ip] != (phone.MAC{}) {
		p.ipMAC[ip] = mac
	}
}

// MACFor attributes a request to a phone: by the MAC in the name, or by
// the phone last seen at ip.
func (p *Provisioner) MACFor(name string, ip netip.Addr) (phone.MAC, bool) {
	if n := phone.ParseName(name); n.HasMAC {
		return n.MAC, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	mac, ok := p.ipMAC[ip]
	return mac, ok
}

// Open implements tftp.Resolver.
func (p *Provisioner) Open(ctx context.Context, req *tftp.Request) (tftp.File, error) {
	s := p.snap.Load()
	lower := strings.ToLower(req.Path)
	n := phone.ParseName(req.Path)
	ip := req.Remote.Addr()
	mac, known := n.MAC, n.HasMAC
	d := p.observe(s, n, req.Path, ip, &mac, &known)

	if f, ok := p.override(ctx, req, n); ok {
		return f, nil // the admin's file wins
	}
	switch n.Kind {
	case phone.KindCTL, phone.KindITL:
		if d.emptyTrust {
			return tftp.Bytes{}, nil
		}
		return nil, tftp.Errorf(tftp.ErrFileNotFound, "file not found (no security: phones go on without it)")
	case phone.KindTrustFile:
		return nil, tftp.Errorf(tftp.ErrFileNotFound, "file not found (no security: phones go on without it)")
	case phone.KindDeviceConfig, phone.KindSIPConfig:
		if n.Signed {
			// No CTL/ITL was served, so the phone does not need signed
			// files and falls back to the plain one (cisco-79xx.md §1.3).
			return nil, tftp.Errorf(tftp.ErrFileNotFound, "file not found (phoneboot does not sign configs)")
		}
		b, err := p.phoneFile(s, mac, lower, ip)
		if err != nil {
			return nil, err
		}
		if d.configLoop > 0 {
			p.emit(Event{MAC: mac, IP: ip, Kind: KindConfigLoop, File: req.Path,
				Detail: fmt.Sprintf("asked for %s %d times in a row without asking for anything else; each time it was given %s", req.Path, d.configLoop, describe(b))})
		}
		return b, nil
	}
	if b, ok := s.files[lower]; ok {
		return b, nil
	}
	switch n.Kind {
	case phone.KindOSImage:
		return p.osImage(s, mac, known)
	case phone.KindTermDefault:
		return p.termFile(s, n, req.Path)
	}
	if p.opts.Firmware != nil {
		f, ok, err := p.opts.Firmware.Open(req.Path)
		if err != nil {
			return nil, err
		}
		if ok {
			return f, nil
		}
	}
	return p.opts.Files.Open(ctx, req)
}

// osImage answers OS79XX.TXT, the image old 7940/7960 loads boot. It has
// no MAC in its name, so only a phone seen before (by its address) gets
// one: its next step, as the loader for loads that boot with the
// Universal Application Loader (cisco-79xx.md §3.3). Any other phone gets
// "not found" and boots the image it has, then asks for SIP<MAC>.cnf,
// which names its step: a site-wide image could send a SIP 4.x phone
// straight to 8.x, which the upgrade rules forbid.
func (p *Provisioner) osImage(s *snapshot, mac phone.MAC, known bool) (tftp.File, error) {
	if !known {
		return nil, tftp.Errorf(tftp.ErrFileNotFound, "file not found (phoneboot names images per phone; it does not know this one yet)")
	}
	learned, running := p.state(s, mac)
	v, _ := s.view(mac, learned, running)
	if v.Load == "" || (v.Model.Name != "" && v.Model.Family != phone.FamilyClassic) {
		return nil, tftp.Errorf(tftp.ErrFileNotFound, "file not found (no image to name for this phone)")
	}
	image := v.Load
	if l, ok := phone.ParseLoadID(v.Load); ok && l.UAL() {
		if info, ok := s.loads.get(v.Load); ok {
			image = info.loader
		}
	}
	return tftp.Bytes(render.OS79XX(image)), nil
}

// termFile answers termNN.default.loads, the load list a Java phone
// fetches after a factory reset: the one that came with the load the
// site targets for that model, so SCCP and SIP term files are never mixed
// (cisco-79xx.md §4.3).
func (p *Provisioner) termFile(s *snapshot, n phone.Name, name string) (tftp.File, error) {
	if id := s.termLoad(n.Model); id != "" && p.opts.Firmware != nil {
		f, ok, err := p.opts.Firmware.Term(id, name)
		if err != nil || ok {
			return f, err
		}
	}
	return nil, tftp.Errorf(tftp.ErrFileNotFound, "file not found (no load for this model in [site.loads] whose package had %s)", name)
}

// override opens the admin's own file for a name provision would answer
// itself, if the TFTP root has one. Looked up on every request, so a file
// dropped in the root wins at once. An empty SEP<MAC>.cnf.xml never
// counts: on the seed page it made a phone "Protocol Application Invalid".
func (p *Provisioner) override(ctx context.Context, req *tftp.Request, n phone.Name) (tftp.File, bool) {
	f, err := p.opts.Files.Open(ctx, req)
	if err != nil {
		return nil, false
	}
	if f.Size() == 0 && n.Kind == phone.KindDeviceConfig {
		f.Close()
		return nil, false
	}
	return f, true
}

// phoneFile returns a phone's generated SEP<MAC>.cnf.xml or SIP<MAC>.cnf,
// rendered for what the phone runs now and cached until that changes.
func (p *Provisioner) phoneFile(s *snapshot, mac phone.MAC, lower string, ip netip.Addr) (tftp.Bytes, error) {
	learned, running := p.state(s, mac)
	key := lower + "/" + learned.Name + "/" + running
	if b, ok := s.auto.Load(key); ok {
		return b.(tftp.Bytes), nil
	}
	v, plan := s.view(mac, learned, running)
	files, err := s.phoneFiles(v)
	if err != nil {
		p.opts.Logger.Error("cannot render a config", "phone", mac.String(), "err", err)
		return nil, tftp.Errorf(tftp.ErrUndefined, "phoneboot cannot render this config; see its log")
	}
	b, ok := files[lower]
	if !ok {
		return nil, tftp.Errorf(tftp.ErrFileNotFound, "file not found (only a 7940/7960 on SIP has one)")
	}
	if s.autoCount.Add(1) > maxTracked {
		return b, nil // a flood of made-up MACs: serve, but keep nothing
	}
	if _, loaded := s.auto.LoadOrStore(key, b); loaded {
		return b, nil
	}
	// First time this config is served: say why it is what it is.
	p.explainPlan(mac, ip, running, plan)
	if _, listed := s.inventory[mac]; !listed && strings.HasSuffix(lower, ".cnf.xml") {
		model := v.Model.Name
		if model == "" {
			model = "model not known yet"
		}
		p.emit(Event{MAC: mac, IP: ip, Kind: KindAutoProvisioned, File: v.MAC.DeviceName() + ".cnf.xml",
			Detail: fmt.Sprintf("not in the inventory: given the site defaults (%s, %s, %s); add it to phoneboot.toml to adopt it", v.Protocol, model, orNone(v.Load))})
	}
	return b, nil
}

// state is a phone's learned model and the load to plan from.
func (p *Provisioner) state(s *snapshot, mac phone.MAC) (phone.Model, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	learned := p.learned[mac]
	if p.running[mac] == "" {
		if i, ok := s.inventory[mac]; ok && s.cfg.Phones[i].RunningLoad != "" {
			return learned, s.cfg.Phones[i].RunningLoad
		}
	}
	return learned, p.runningFor(mac, s.targetFor(mac, learned))
}

// explainPlan records the step a phone was given, or why it was given
// none, once per change.
func (p *Provisioner) explainPlan(mac phone.MAC, ip netip.Addr, running string, plan upgrade.Plan) {
	if plan.Target == "" || plan.Done {
		return
	}
	ev := Event{MAC: mac, IP: ip, Kind: KindUpgrade}
	switch {
	case plan.Refused != "":
		ev.Kind, ev.Detail = KindUpgradeBlocked, fmt.Sprintf("target %s refused: %s", plan.Target, plan.Refused)
	case plan.Next == "" && plan.Missing != "":
		ev.Kind, ev.Detail = KindUpgradeBlocked, fmt.Sprintf("stays on %s: the way to %s needs %s, which is not in the catalog; import it (phoneboot firmware import)", orUnknown(running), plan.Target, plan.Missing)
	case plan.Next == "":
		return
	case plan.Missing != "":
		ev.Detail = fmt.Sprintf("step %s (from %s); after it the way to %s needs %s, which is not in the catalog", plan.Next, orUnknown(running), plan.Target, plan.Missing)
	default:
		ev.Detail = fmt.Sprintf("step %s (from %s), path %s", plan.Next, orUnknown(running), strings.Join(plan.Path, " → "))
	}
	if len(plan.Rules) > 0 {
		ev.Detail += " [" + plan.Rules[0].Source + "]"
	}
	// SEP<MAC>.cnf.xml and SIP<MAC>.cnf carry the same plan: say it once.
	p.mu.Lock()
	st := p.phones[mac]
	repeat := st != nil && st.plan == ev.Detail
	if st != nil {
		st.plan = ev.Detail
	}
	p.mu.Unlock()
	if !repeat {
		p.emit(ev)
	}
}

func orNone(load string) string {
	if load == "" {
		return "no load named (keeps its own)"
	}
	return load
}

func orUnknown(load string) string {
	switch load {
	case "":
		return "an unknown load"
	case ualFloorSIP, ualFloorSCCP:
		return "an unknown load with the Universal Application Loader"
	}
	return load
}

// describe says what a served file was, for loop reports.
func describe(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes (sha256 %x…)", len(b), sum[:6])
}

func (p *Provisioner) emit(ev Event) {
	ev.Time = p.opts.Now()
	p.opts.Logger.Info("provision: "+ev.Kind, "phone", ev.MAC.String(), "ip", ev.IP.String(), "file", ev.File, "detail", ev.Detail)
	if p.opts.OnEvent != nil {
		p.opts.OnEvent(ev)
	}
}

// Problems lists what is wrong in what phones get now.
func (p *Provisioner) Problems() []Problem { return p.snap.Load().problems }

var _ tftp.Resolver = (*Provisioner)(nil)
