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
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/files"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonestate"
	"phoneboot/internal/ratelimit"
	"phoneboot/internal/render"
	"phoneboot/internal/upgrade"
)

// Options configure a Provisioner.
type Options struct {
	Root      string       // the TFTP root: firmware and the admin's own files
	Files     files.Opener // opens files of Root
	Templates string       // folder of template overrides ("" or missing: built-in only)
	// Firmware is the firmware catalog; nil: firmware only from Root.
	Firmware Firmware
	// Book is what is known of each phone; provision keeps it up to date.
	// nil: a book of its own.
	Book   *phonestate.Book
	Logger *slog.Logger
	// OnEvent receives every decision worth a line in a phone's timeline
	// (Source event.Provision, its facts in typed fields). It is called
	// from transfers' goroutines and must not block.
	OnEvent func(event.Event)
	Now     func() time.Time // for tests; time.Now when nil
}

// Request is a phone asking for a file, over any transport.
type Request struct {
	// Name is the file asked for, as the transport made it safe: '/' as
	// separator, no leading "/" or "./", no "..".
	Name      string
	Client    netip.AddrPort // the phone's address
	Local     netip.Addr     // the address the phone reached phoneboot on
	Transport event.Source   // event.TFTP or event.HTTP
}

// Provisioner answers phones' requests.
type Provisioner struct {
	opts       Options
	book       *phonestate.Book
	snap       atomic.Pointer[snapshot]
	settleWait time.Duration
	foreigners *ratelimit.Keyed[foreignKey] // the foreign requests worth an event
}

// maxRendered bounds the configs kept rendered for phones outside the
// inventory, per snapshot.
const maxRendered = 2000

// New returns a Provisioner serving the built-in defaults until Update.
func New(opts Options) (*Provisioner, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Book == nil {
		opts.Book = phonestate.New(0)
	}
	p := &Provisioner{opts: opts, book: opts.Book, settleWait: settleWait, foreigners: newForeigners()}
	if _, err := p.Update(config.Default("")); err != nil {
		return nil, err
	}
	return p, nil
}

// Update renders everything for cfg (config.Default without a config
// file) and the current TFTP root and templates, then switches to it at
// once; transfers already running keep the files they started with. On error nothing changes.
// The problems found (missing loads, overriding files) are returned.
func (p *Provisioner) Update(cfg *config.Config) ([]Problem, error) {
	s, err := build(cfg, p.opts.Root, p.opts.Templates, p.opts.Firmware, p.Running)
	if err != nil {
		return nil, err
	}
	p.snap.Store(s)
	inv := make(map[phone.MAC]netip.Addr, len(cfg.Phones))
	for _, ph := range cfg.Phones {
		inv[ph.MAC] = ph.IP
	}
	p.book.SetInventory(inv)
	p.book.SetHold(cfg.Security.FirstSightHold)
	return s.problems, nil
}

// Book is what provision knows of each phone.
func (p *Provisioner) Book() *phonestate.Book { return p.book }

// Running is the load a phone runs, as far as phoneboot has seen.
func (p *Provisioner) Running(mac phone.MAC) string {
	ph, _ := p.book.Get(mac)
	return ph.Running
}

// Open answers a request.
func (p *Provisioner) Open(ctx context.Context, req Request) (files.File, error) {
	s := p.snap.Load()
	lower := strings.ToLower(req.Name)
	n := phone.ParseName(req.Name)
	ip := req.Client.Addr()
	att := p.book.Attribute(n, ip, p.opts.Now())
	if att.Verdict == phonestate.Foreign {
		return p.foreign(ctx, s, n, req, att)
	}
	mac, known := att.MAC, att.Verdict == phonestate.Own
	var d decision
	if known {
		p.settle(mac)
		p.drain(mac, ip, nil, phonestate.Asked{}) // what the address did before it named the phone
		d = p.observe(s, n, req, mac)
	}

	if f, ok := p.override(ctx, req.Name, n); ok {
		return f, nil // the admin's file wins
	}
	switch n.Kind {
	case phone.KindCTL, phone.KindITL:
		if d.emptyTrust {
			return files.Bytes{}, nil
		}
		return nil, files.NotFoundf("file not found (no security: phones go on without it)")
	case phone.KindTrustFile:
		return nil, files.NotFoundf("file not found (no security: phones go on without it)")
	case phone.KindDeviceConfig, phone.KindSIPConfig:
		if n.Signed {
			// No CTL/ITL was served, so the phone does not need signed
			// files and falls back to the plain one (cisco-79xx.md §1.3).
			return nil, files.NotFoundf("file not found (phoneboot does not sign configs)")
		}
		b, err := p.phoneFile(s, mac, lower, req)
		if err != nil {
			return nil, err
		}
		if d.configLoop > 0 {
			p.emit(event.Event{MAC: mac, IP: ip, Kind: event.ConfigLoop, File: req.Name, Facts: event.Facts{Count: d.configLoop},
				Detail: fmt.Sprintf("asked for %s %d times in a row without asking for anything else; each time it was given %s", req.Name, d.configLoop, describe(b))})
		}
		return b, nil
	}
	shared, err := s.sharedAt(req.Local)
	if err != nil {
		p.opts.Logger.Error("cannot render the shared files", "local", req.Local.String(), "err", err)
		return nil, files.Internalf("phoneboot cannot render this file; see its log")
	}
	if b, ok := shared[lower]; ok {
		return b, nil
	}
	switch n.Kind {
	case phone.KindOSImage:
		return p.osImage(s, n, mac, ip, known)
	case phone.KindTermDefault:
		return p.termFile(s, n, req.Name)
	case phone.KindRingList:
		// The admin's own list would have won above (override); the
		// generated ones are among the shared files.
		if lower == "distinctiveringlist.xml" {
			return nil, files.NotFoundf("file not found (phoneboot makes no distinctive ring list; put one in the TFTP root)")
		}
		return nil, files.NotFoundf("file not found (no ring tones: no [[site.ring]] entries and no .raw files in the TFTP root)")
	}
	if p.opts.Firmware != nil {
		f, ok, err := p.opts.Firmware.Open(req.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			return f, nil
		}
	}
	return p.opts.Files.Open(ctx, req.Name)
}

// osImage answers OS79XX.TXT (79XX.TXT on SIP images older than 4.4), the
// image old 7940/7960 loads boot (§1.2, §3.3): the phone's next step, as
// the loader for loads that boot with the Universal Application Loader. It
// has no MAC in its name: a phone not seen before gets the step that is
// safe from every load such a boot may run, towards the site's target for
// 7940/7960, or "not found" when there is none and the phone boots the
// image it has (its SIP<MAC>.cnf or SEP<MAC>.cnf.xml names its step).
func (p *Provisioner) osImage(s *snapshot, n phone.Name, mac phone.MAC, ip netip.Addr, seen bool) (files.File, error) {
	var v render.Phone
	k := known{boot: phone.BootOS79XX, classic: true}
	if n.OldSIP {
		k.boot, k.proto = phone.Boot79XX, "SIP"
	}
	if _, proto := p.book.Early(ip); proto != "" && !seen {
		k.proto = proto // a phone that loops asks SEPDefault.cnf or SIPDefault.cnf between
	}
	if seen {
		k = p.state(s, mac)
		v, _ = s.view(mac, k)
	} else if m, target, ok := s.familyModel(); ok {
		v.Load = s.planFor(m, k, target).Next
	}
	if v.Load == "" || (v.Model.Name != "" && v.Model.Family != phone.FamilyClassic) {
		return nil, files.NotFoundf("file not found (no image to name for this phone: it keeps its own)")
	}
	// The image's first four characters decide (§1.2 [S12]): the same
	// protocol's image lets an old phone go on to its own config, whose
	// image_version fetches the whole package; another protocol's, or a
	// phone whose protocol is not known, gets the package's loader, the
	// Universal Application Loader that then asks for its application.
	image := v.Load
	if l, ok := phone.ParseLoadID(v.Load); ok && l.UAL() && l.Protocol != k.proto {
		if info, ok := s.loads.get(v.Load); ok {
			image = info.loader
		}
	}
	return files.Bytes(render.OS79XX(image)), nil
}

// termFile answers termNN.default.loads, the load list a Java phone
// fetches after a factory reset: the one that came with the load the
// site targets for that model, so SCCP and SIP term files are never mixed
// (cisco-79xx.md §4.3).
func (p *Provisioner) termFile(s *snapshot, n phone.Name, name string) (files.File, error) {
	if id := s.termLoad(n.Model); id != "" && p.opts.Firmware != nil {
		f, ok, err := p.opts.Firmware.Term(id, name)
		if err != nil || ok {
			return f, err
		}
	}
	return nil, files.NotFoundf("file not found (no load for this model in [site.loads] whose package had %s)", name)
}

// override opens the admin's own file for a name provision would answer
// itself, if the TFTP root has one. Looked up on every request, so a file
// dropped in the root wins at once. An empty SEP<MAC>.cnf.xml never
// counts: on the seed page it made a phone "Protocol Application Invalid".
func (p *Provisioner) override(ctx context.Context, name string, n phone.Name) (files.File, bool) {
	f, err := p.opts.Files.Open(ctx, name)
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
func (p *Provisioner) phoneFile(s *snapshot, mac phone.MAC, lower string, req Request) (files.Bytes, error) {
	ip := req.Client.Addr()
	k := p.state(s, mac)
	local := s.localKey(req.Local)
	key := lower + "/" + k.key() + "/" + local.String()
	if r, ok := s.auto.Load(key); ok {
		r := r.(rendered)
		p.offer(mac, req, r.offered)
		return r.b, nil
	}
	v, plan := s.view(mac, k)
	site := s.siteAt(local)
	out, err := s.phoneFiles(site, v)
	offered := v.Load
	if err == nil && v.Model.Name == "" && k.classic && strings.HasSuffix(lower, ".cnf.xml") {
		// A 7940/7960 of unknown model: the seed page's <Default> document.
		out[lower], offered, err = s.defaultDoc(site, k)
	}
	if err != nil {
		p.opts.Logger.Error("cannot render a config", "phone", mac.String(), "err", err)
		return nil, files.Internalf("phoneboot cannot render this config; see its log")
	}
	b, ok := out[lower]
	if !ok {
		return nil, files.NotFoundf("file not found (only a 7940/7960 on SIP has one)")
	}
	p.offer(mac, req, offered)
	if s.autoCount.Add(1) > maxRendered {
		return b, nil // a flood of made-up MACs: serve, but keep nothing
	}
	if _, loaded := s.auto.LoadOrStore(key, rendered{b, offered}); loaded {
		return b, nil
	}
	// First time this config is served: say why it is what it is.
	p.explainPlan(mac, ip, k, plan)
	if _, listed := s.inventory[mac]; !listed && strings.HasSuffix(lower, ".cnf.xml") {
		model := v.Model.Name
		if model == "" {
			model = "model not known yet"
		}
		p.emit(event.Event{MAC: mac, IP: ip, Kind: event.AutoProvisioned, File: v.MAC.DeviceName() + ".cnf.xml",
			Detail: fmt.Sprintf("not in the inventory: given the site defaults (%s, %s, %s); add it to phoneboot.toml to adopt it", v.Protocol, model, orNone(v.Load))})
	}
	return b, nil
}

// rendered is a cached per-phone file and the load it names.
type rendered struct {
	b       files.Bytes
	offered string
}

// state is what provision plans a phone from: its learned model and the
// load it runs as seen, else as the inventory's running_load says, else
// what its boot showed.
func (p *Provisioner) state(s *snapshot, mac phone.MAC) known {
	ph, _ := p.book.Get(mac)
	k := known{model: ph.Model, running: ph.Running, boot: ph.Boot, proto: ph.Protocol,
		classic: ph.Boot == phone.BootOS79XX || ph.Boot == phone.Boot79XX || ph.Boot == phone.BootUAL && !ph.ITL}
	if k.running == "" {
		if i, ok := s.inventory[mac]; ok {
			k.running = s.cfg.Phones[i].RunningLoad
		}
	}
	if ph.ITL && ph.Boot == phone.BootUAL {
		k.boot = phone.BootJava
	}
	return k
}

// explainPlan records the step a phone was given, or why it was given
// none, once per change.
func (p *Provisioner) explainPlan(mac phone.MAC, ip netip.Addr, k known, plan upgrade.Plan) {
	if plan.Target == "" || plan.Done {
		return
	}
	running := k.running
	ev := event.Event{MAC: mac, IP: ip, Kind: event.Upgrade, Facts: event.Facts{
		From: running, Next: plan.Next, Target: plan.Target, Path: plan.Path, Missing: plan.Missing}}
	if running == "" {
		running = k.boot.String()
	}
	if len(plan.Rules) > 0 {
		ev.Facts.Rule = plan.Rules[0].Name
	}
	switch {
	case plan.Refused != "":
		ev.Kind, ev.Detail = event.UpgradeBlocked, fmt.Sprintf("target %s refused: %s", plan.Target, plan.Refused)
	case plan.Unsure != "":
		ev.Kind, ev.Detail = event.UpgradeBlocked, fmt.Sprintf("stays on %s: %s; set running_load in phoneboot.toml if you know it", running, plan.Unsure)
	case plan.Next == "" && plan.Missing != "":
		ev.Kind, ev.Detail = event.UpgradeBlocked, fmt.Sprintf("stays on %s: the way to %s needs %s, which is not in the catalog; import it (phoneboot firmware import)", orUnknown(running), plan.Target, plan.Missing)
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
	repeat := phonestate.Update(p.book, mac, func(ph *phonestate.Phone) bool {
		same := ph.Plan != nil && ph.Plan.Kind == ev.Kind && reflect.DeepEqual(ph.Plan.Facts, ev.Facts)
		ph.Plan = &ev
		return same
	})
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
	if load == "" {
		return "an unknown load"
	}
	return load
}

// describe says what a served file was, for loop reports.
func describe(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes (sha256 %x…)", len(b), sum[:6])
}

func (p *Provisioner) emit(ev event.Event) {
	if ev.Time.IsZero() {
		ev.Time = p.opts.Now()
	}
	ev.Source = event.Provision
	p.opts.Logger.Info("provision: "+string(ev.Kind), "phone", ev.MAC.String(), "ip", ev.IP.String(), "file", ev.File, "detail", ev.Detail)
	if p.opts.OnEvent != nil {
		p.opts.OnEvent(ev)
	}
}

// Problems lists what is wrong in what phones get now.
func (p *Provisioner) Problems() []Problem { return p.snap.Load().problems }
