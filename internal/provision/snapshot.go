package provision

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/files"
	"phoneboot/internal/phone"
	"phoneboot/internal/render"
	"phoneboot/internal/upgrade"
)

// snapshot is everything provision decides from the config, the templates
// and the files in the TFTP root, built once per change and then only
// read: every transfer shares its rendered files.
type snapshot struct {
	cfg  *config.Config
	tmpl *render.Templates
	// site is the config's; its call managers and SIP proxy may be empty,
	// and then each phone gets the address it reached phoneboot on
	// (siteAt).
	site  render.Site
	root  map[string]string // lower-case name → name, files at the top of the TFTP root
	loads loadIndex
	// files are the generated files by lower-case name, as siteAt makes
	// them without a local address; atLocal holds them for each local
	// address when the site's defaults need one (sharedAt).
	files        map[string]files.Bytes
	atLocal      sync.Map // netip.Addr → map[string]files.Bytes
	atLocalCount atomic.Int64
	// inventory is the inventory by MAC; auto are the rendered configs of
	// phones outside it, made on their first request.
	inventory map[phone.MAC]int
	fw        Firmware // nil: no catalog
	auto      sync.Map // lower-case name + "/" + learned model → files.Bytes
	autoCount atomic.Int64
	problems  []Problem
}

// Problem is something wrong (or worth knowing) in what phones would get.
type Problem struct {
	File string
	Line int
	Msg  string
	Note bool // information, not an error
}

func (p Problem) String() string {
	switch {
	case p.File == "":
		return p.Msg
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// maxRootEntries bounds the listing of the TFTP root.
const maxRootEntries = 100000

// build makes a snapshot (cfg is config.Default without a config file);
// running is the load each phone was last seen running.
func build(cfg *config.Config, rootDir, templatesDir string, fw Firmware, running func(phone.MAC) string) (*snapshot, error) {
	tmpl, err := render.Load(templatesDir)
	if err != nil {
		return nil, err
	}
	s := &snapshot{cfg: cfg, tmpl: tmpl, inventory: map[phone.MAC]int{}, fw: fw}
	if s.root, err = listRoot(rootDir); err != nil {
		return nil, err
	}
	for _, name := range tmpl.Overridden() {
		s.note(filepath.Join(templatesDir, name), 0, "template overrides the built-in one")
	}
	s.site = siteOf(cfg, s.root)
	s.loads = indexLoads(fw, s.root, rootDir)
	for i, p := range cfg.Phones {
		s.inventory[p.MAC] = i
	}
	s.checkLoads(running)
	if s.files, err = s.renderShared(s.site); err != nil {
		return nil, err
	}
	s.noteDefaults()
	// Render every inventory phone once, so that a config that cannot be
	// rendered stops a start or a reload instead of a phone's boot.
	for i := range cfg.Phones {
		v, _ := s.view(cfg.Phones[i].MAC, known{running: running(cfg.Phones[i].MAC)})
		if _, err := s.phoneFiles(s.site, v); err != nil {
			line := cfg.PhoneLine(i, "mac")
			return nil, &config.Error{File: cfg.File, Line: line, Msg: fmt.Sprintf("phone %s: %v", v.MAC, err)}
		}
	}
	s.checkOverrides(rootDir)
	sort.SliceStable(s.problems, func(i, j int) bool {
		a, b := s.problems[i], s.problems[j]
		return a.File < b.File || a.File == b.File && a.Line < b.Line
	})
	return s, nil
}

func (s *snapshot) problem(file string, line int, format string, args ...any) {
	s.problems = append(s.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (s *snapshot) note(file string, line int, format string, args ...any) {
	s.problems = append(s.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Note: true})
}

// listRoot lists the top of the TFTP root by lower-case name: phones
// spell names in any case (cisco-79xx.md §0.4).
func listRoot(dir string) (map[string]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil // serve creates it; check may run first
	}
	if err != nil {
		return nil, fmt.Errorf("TFTP root %s: %s", dir, files.Why(err))
	}
	defer f.Close()
	names, err := f.Readdirnames(maxRootEntries)
	if err != nil && len(names) == 0 && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("TFTP root %s: %s", dir, files.Why(err))
	}
	root := make(map[string]string, len(names))
	for _, n := range names {
		root[strings.ToLower(n)] = n
	}
	return root, nil
}

// siteOf turns the config's site table into what templates use.
func siteOf(cfg *config.Config, root map[string]string) render.Site {
	st := cfg.Site
	site := render.Site{
		TimeZone: st.TimeZone, SIPTimeZone: st.SIPTimeZone, NTPServers: st.NTPServers, Locale: st.Locale, Sync: st.Sync,
		SIPTransport: st.SIPTransport, MediaStart: int(st.MediaPorts.Start), MediaStop: int(st.MediaPorts.Stop),
		LocaleInfo: render.LocaleInfo{
			Network: st.NetworkLocale, LangCode: st.LocaleLangCode, Version: st.LocaleVersion,
			Charset: st.LocaleCharset, UID: st.LocaleUID, NetworkUID: st.NetworkLocaleUID,
		},
	}
	for _, cm := range st.CallManagers {
		site.CallManagers = append(site.CallManagers, hostOf(cm))
	}
	if !st.SIPProxy.IsZero() {
		site.SIPProxy = hostOf(st.SIPProxy)
	}
	// The inventory's own settings of each phone, beyond what view()
	// puts in render.Phone; being listed makes render blank what a
	// phone's previous owner may have left in its flash.
	site.Phones = map[phone.MAC]render.PhoneSettings{}
	for _, p := range cfg.Phones {
		site.Phones[p.MAC] = render.PhoneSettings{SIPTransport: p.SIPTransport, KEMs: p.KEMs}
	}
	// A key expansion module's load (cisco-79xx.md §1.4: S00105000400.sbn,
	// B015-1-0-4-2.SBN, no .loads file) is named only when its image is in
	// the TFTP root: a phone is never sent after a file that is not there.
	site.KEMLoads = map[string]string{}
	for name, l := range st.Loads {
		if l.Model.Family != phone.FamilyKEM || l.ID == "" {
			continue
		}
		for _, ext := range []string{".sbn", ".bin", ".loads"} {
			if _, ok := root[strings.ToLower(l.ID)+ext]; ok {
				site.KEMLoads[name] = l.ID
				break
			}
		}
	}
	for _, r := range st.DialPlan {
		site.DialPlan = append(site.DialPlan, render.DialRule{Match: r.Match, Timeout: int(r.Timeout / time.Second), Rewrite: r.Rewrite})
	}
	for _, r := range st.Rings {
		site.Rings = append(site.Rings, render.Ring{Name: r.Name, File: r.File})
	}
	if len(site.Rings) == 0 {
		// No rings configured: offer the .raw files an admin dropped in
		// the root (cisco-79xx.md §3.4), as many as the lists take (the
		// first 50 by name, names the phones can show: Ringlist.xml,
		// §1.3).
		var raws []string
		for _, n := range root {
			r := render.Ring{Name: strings.TrimSuffix(n, filepath.Ext(n)), File: n}
			if strings.HasSuffix(strings.ToLower(n), ".raw") && render.CheckRing(r) == nil {
				raws = append(raws, n)
			}
		}
		sort.Strings(raws)
		for _, n := range raws[:min(len(raws), render.MaxRings)] {
			site.Rings = append(site.Rings, render.Ring{Name: strings.TrimSuffix(n, filepath.Ext(n)), File: n})
		}
	}
	return site
}

// hostOf is a config host as templates take it.
func hostOf(h config.Host) render.Host {
	return render.Host{Host: h.Name, Port: int(h.Port)}
}

// checkLoads reports the loads the config names that phones cannot be
// given, and upgrade paths that cannot be walked (cisco-79xx.md §4.4).
func (s *snapshot) checkLoads(running func(phone.MAC) string) {
	models := make([]string, 0, len(s.cfg.Site.Loads))
	for m := range s.cfg.Site.Loads {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, name := range models {
		id, line := s.cfg.Site.Loads[name].ID, s.cfg.SiteLoadLine(name)
		m := s.cfg.Site.Loads[name].Model
		if m.Family == phone.FamilyKEM {
			// A module's image has no .loads file and no upgrade path:
			// it counts when it is in the root (siteOf).
			if _, ok := s.site.KEMLoads[name]; !ok {
				s.problem(s.cfg.File, line, "site.loads.%s: %s.sbn is not in the TFTP root; phones with a %s get no module load until it is", name, id, name)
			}
			continue
		}
		if _, ok := s.loads.get(id); !ok {
			s.problem(s.cfg.File, line, "site.loads.%s: load %s is %s; phones keep their running load until it is", name, id, s.loads.why(id))
			continue
		}
		plan := s.plan(m, "", id)
		switch {
		case plan.Refused != "":
			s.problem(s.cfg.File, line, "site.loads.%s: %s", name, plan.Refused)
		case plan.Missing != "":
			s.note(s.cfg.File, line, "site.loads.%s: a %s on an old load (or one phoneboot has not seen yet) needs %s on the way to %s, which is not in the catalog; such phones wait before that step", name, name, plan.Missing, id)
		}
	}
	s.checkDHCP()
	for i, p := range s.cfg.Phones {
		target, line := s.target(i)
		if target == "" {
			continue
		}
		if p.Load != "" {
			if _, ok := s.loads.get(p.Load); !ok {
				s.problem(s.cfg.File, s.cfg.PhoneLine(i, "load"), "phone %s: load %s is %s; it keeps its running load until it is", p.MAC, p.Load, s.loads.why(p.Load))
				continue
			}
		}
		m := p.Model
		if m.Name == "" {
			continue
		}
		run := running(p.MAC)
		plan := s.plan(m, run, target)
		switch {
		case plan.Refused != "":
			s.problem(s.cfg.File, line, "phone %s: %s", p.MAC, plan.Refused)
		case plan.Missing != "" && run != "":
			s.problem(s.cfg.File, line, "phone %s runs %s: on the way to %s it needs %s, which is not in the catalog; it stays on %s until you import it", p.MAC, run, target, plan.Missing, orRunning(plan.Next, run))
		}
	}
}

// checkDHCP warns when 7940/7960 upgrades are configured but nothing says
// phones find phoneboot through DHCP: a loader upgrade wipes the phone's
// network settings, and without option 150/66 it ends half-upgraded with
// "Protocol Application Invalid" (cisco-79xx.md §1.6, seed page).
func (s *snapshot) checkDHCP() {
	if s.cfg.Site.TFTPViaDHCP {
		return
	}
	for name, l := range s.cfg.Site.Loads {
		if l.Model.Family == phone.FamilyClassic && l.ID != "" {
			s.note(s.cfg.File, s.cfg.SiteLoadLine(name), "warning: upgrading 7940/7960 loaders wipes their TFTP setting; make sure your DHCP server hands out phoneboot's address as option 150 (or 66), then set site.tftp_via_dhcp = true. Without it a phone can end \"Protocol Application Invalid\"")
			return
		}
	}
}

func orRunning(next, running string) string {
	if next != "" {
		return next
	}
	return running
}

// target is the load the inventory wants for its i-th phone, and the
// line that says so.
func (s *snapshot) target(i int) (string, int) {
	p := s.cfg.Phones[i]
	if p.Load != "" {
		return p.Load, s.cfg.PhoneLine(i, "load")
	}
	m := p.Model
	if m.Name == "" {
		return "", 0
	}
	return s.cfg.Site.Loads[m.Name].ID, s.cfg.SiteLoadLine(m.Name)
}

// plan is the next step from running towards target with the loads at
// hand; Next is spelled as the catalog or the root spells it.
func (s *snapshot) plan(m phone.Model, running, target string) upgrade.Plan {
	return s.spell(upgrade.Next(m, running, target, s.loads.ids()), target)
}

// planFor is the next step for a phone from what is known of it: the load
// it runs, else a step safe from every load its boot says it may run.
func (s *snapshot) planFor(m phone.Model, k known, target string) upgrade.Plan {
	if k.running != "" {
		return s.plan(m, k.running, target)
	}
	proto := k.proto
	if m.Family == phone.FamilyJava || proto == "" && k.boot == phone.BootUnseen {
		proto = phone.LoadProtocol(target)
	}
	could := upgrade.Candidates(m, k.boot, proto)
	return s.spell(upgrade.NextSafe(m, could, target, s.loads.ids()), target)
}

// spell names plan's step as the catalog or the root spells it.
func (s *snapshot) spell(plan upgrade.Plan, target string) upgrade.Plan {
	if plan.Done {
		plan.Next = target // keep naming the load it runs
	}
	if l, ok := s.loads.get(plan.Next); ok {
		plan.Next = l.id
	} else {
		plan.Next = ""
	}
	return plan
}

// familyModel stands for a phone known only to be a 7940 or 7960 (its
// boot showed it) when every such model the site targets has the same
// target: they run the same loads. ok is false when they differ.
func (s *snapshot) familyModel() (phone.Model, string, bool) {
	var m phone.Model
	target := ""
	for _, name := range slices.Sorted(maps.Keys(s.cfg.Site.Loads)) {
		l := s.cfg.Site.Loads[name]
		if l.Model.Family != phone.FamilyClassic {
			continue
		}
		if target != "" && !strings.EqualFold(target, l.ID) {
			return phone.Model{}, "", false
		}
		m, target = l.Model, l.ID
	}
	return m, target, target != ""
}

// targetFor is the load a phone of model m is to run: its inventory
// entry's, else the site's for the model.
func (s *snapshot) targetFor(mac phone.MAC, m phone.Model) string {
	if i, ok := s.inventory[mac]; ok {
		if s.cfg.Phones[i].Load != "" {
			return s.cfg.Phones[i].Load
		}
		if im := s.cfg.Phones[i].Model; im.Name != "" {
			m = im
		}
	}
	return s.cfg.Site.Loads[m.Name].ID
}

// termLoad is the load behind termNN.default.loads: the step towards the
// site's target for model NN that is safe from any load of the model, as
// for any phone whose load is unknown (§4.4: a phone below 8.3(3) must not
// jump past 8.5(2)). "" when there is none.
func (s *snapshot) termLoad(nn string) string {
	m, ok := phone.ModelByTerm(nn)
	if !ok || s.cfg.Site.Loads[m.Name].ID == "" {
		return ""
	}
	return s.planFor(m, known{boot: phone.BootJava}, s.cfg.Site.Loads[m.Name].ID).Next
}

// renderShared renders the files every phone shares, for site.
func (s *snapshot) renderShared(site render.Site) (map[string]files.Bytes, error) {
	out := map[string]files.Bytes{}
	add := func(name string, b []byte, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out[strings.ToLower(name)] = b
		return nil
	}
	// XMLDefault.cnf.xml and SIPDefault.cnf are read by phones phoneboot
	// may not know: they name only loads safe from any older load (the
	// first step of each model's path), and SIPDefault.cnf names none:
	// each 7940/7960 gets its own image_version in SIP<MAC>.cnf.
	b, err := s.tmpl.DefaultConfig(site, s.defaultLoads())
	if err := add("XMLDefault.cnf.xml", b, err); err != nil {
		return nil, err
	}
	b, err = s.tmpl.SIPDefault(site, "")
	if err := add("SIPDefault.cnf", b, err); err != nil {
		return nil, err
	}
	b, err = s.tmpl.DialPlan(site)
	if err := add("dialplan.xml", b, err); err != nil {
		return nil, err
	}
	if len(site.Rings) > 0 {
		// The same rings for the 7940/7960 on SIP (RINGLIST.DAT, §3.4)
		// and for SCCP and Java phones (Ringlist.xml, §1.3).
		b, err = s.tmpl.RingList(site)
		if err := add("RINGLIST.DAT", b, err); err != nil {
			return nil, err
		}
		b, err = s.tmpl.RingListXML(site)
		if err := add("Ringlist.xml", b, err); err != nil {
			return nil, err
		}
	}
	b, err = s.tmpl.SyncInfo(site, "")
	if err := add("syncinfo.xml", b, err); err != nil {
		return nil, err
	}
	return out, nil
}

// defaultLoads are the loads of XMLDefault.cnf.xml by model: steps safe
// from any load a phone of the model may run.
func (s *snapshot) defaultLoads() map[string]string {
	loads := map[string]string{}
	for _, l := range s.cfg.Site.Loads {
		if next := s.planFor(l.Model, known{}, l.ID).Next; next != "" {
			loads[l.Model.Name] = next
		}
	}
	return loads
}

// siteAt is the site as a phone that reached phoneboot at local gets it:
// without call managers or a SIP proxy in the config, phoneboot's own
// address stands in (the PBX is assumed to run beside phoneboot). IPv4
// only: the 79xx phones take IPv4 call-control addresses.
func (s *snapshot) siteAt(local netip.Addr) render.Site {
	site := s.site
	if local = local.Unmap(); !local.Is4() {
		return site
	}
	if len(site.CallManagers) == 0 {
		site.CallManagers = []render.Host{{Host: local.String()}}
	}
	if site.SIPProxy.Host == "" {
		site.SIPProxy = render.Host{Host: local.String()}
	}
	return site
}

// localKey is local where what phones get depends on it (the site leaves
// call control to phoneboot's own address), else the zero Addr.
func (s *snapshot) localKey(local netip.Addr) netip.Addr {
	if local = local.Unmap(); local.Is4() && (len(s.site.CallManagers) == 0 || s.site.SIPProxy.Host == "") {
		return local
	}
	return netip.Addr{}
}

// maxLocal bounds the local addresses shared files are kept for: a
// machine has few, and a flood cannot make more.
const maxLocal = 64

// sharedAt is the shared files for a phone that reached phoneboot at local.
func (s *snapshot) sharedAt(local netip.Addr) (map[string]files.Bytes, error) {
	key := s.localKey(local)
	if !key.IsValid() {
		return s.files, nil
	}
	if m, ok := s.atLocal.Load(key); ok {
		return m.(map[string]files.Bytes), nil
	}
	m, err := s.renderShared(s.siteAt(key))
	if err != nil || s.atLocalCount.Add(1) > maxLocal {
		return m, err
	}
	actual, _ := s.atLocal.LoadOrStore(key, m)
	return actual.(map[string]files.Bytes), nil
}

// noteDefaults tells `check` and the log where phones get phoneboot's own
// address as call control.
func (s *snapshot) noteDefaults() {
	if len(s.cfg.Site.CallManagers) == 0 {
		s.note(s.cfg.File, 0, "site.call_managers is not set: SCCP phones get the address they reach phoneboot on as their call manager (this assumes the PBX runs beside phoneboot; set call_managers otherwise)")
	}
	if s.cfg.Site.SIPProxy.IsZero() {
		s.note(s.cfg.File, 0, "site.sip_proxy is not set: SIP phones get the address they reach phoneboot on as their proxy (this assumes the PBX runs beside phoneboot; set sip_proxy otherwise)")
	}
}

// known is what provision plans a phone's load from.
type known struct {
	model   phone.Model // as the network showed it
	running string      // the load it runs, as seen or as the inventory says
	boot    phone.Boot  // what its last boot showed, for an unknown running load
	proto   string      // the protocol its requests showed ("" not yet)
	classic bool        // its boot was a 7940/7960's
}

// key sums up k for caches of rendered files.
func (k known) key() string {
	return fmt.Sprintf("%s/%s/%d/%s/%t", k.model.Name, k.running, k.boot, k.proto, k.classic)
}

// view decides what one phone gets: its inventory entry over the site's
// defaults, a protocol the model can run, and as load the next step of
// a safe path from the load it runs to its target. k.model is the model
// observed on the network, used for phones outside the inventory (or
// listed without a model); a phone whose boot showed a 7940/7960 plans
// as one (familyModel) while its model is not known.
func (s *snapshot) view(mac phone.MAC, k known) (render.Phone, upgrade.Plan) {
	v := render.Phone{MAC: mac, Model: k.model, Protocol: s.cfg.Site.Protocol}
	var entry *config.Phone
	if i, ok := s.inventory[mac]; ok {
		entry = &s.cfg.Phones[i]
		if entry.Model.Name != "" {
			v.Model = entry.Model
		}
		if entry.Protocol != "" {
			v.Protocol = entry.Protocol
		}
		v.Label = entry.Label
		for _, l := range entry.Lines {
			v.Lines = append(v.Lines, render.Line{Extension: l.Extension, Name: l.Name, AuthUser: l.AuthUser, Password: l.Password})
		}
	}
	if v.Model.Name != "" && (v.Protocol == "" || !contains(v.Model.Protocols, v.Protocol)) && len(v.Model.Protocols) > 0 {
		v.Protocol = v.Model.Protocols[0]
	}
	if v.Protocol == "" {
		v.Protocol = "SCCP" // what phones run from the factory
	}
	m := v.Model
	target := ""
	if m.Name == "" {
		if !k.classic {
			return v, upgrade.Plan{} // no load for a model we do not know
		}
		var ok bool
		if m, target, ok = s.familyModel(); !ok {
			return v, upgrade.Plan{}
		}
	} else {
		target = s.targetFor(mac, m)
	}
	if target == "" {
		return v, upgrade.Plan{}
	}
	plan := s.planFor(m, k, target)
	v.Load = plan.Next
	return v, plan
}

// defaultDoc is the `<Default>` document a 7940/7960 of unknown model gets
// as its SEP<MAC>.cnf.xml: a loadInformation line per model, from which
// each phone takes its own (the seed page's "XML magic"), each load a step
// safe from what the phone may run. offered is the load when every model
// gets the same one.
func (s *snapshot) defaultDoc(site render.Site, k known) (b files.Bytes, offered string, err error) {
	loads := map[string]string{}
	for name, l := range s.cfg.Site.Loads {
		if l.Model.Family != phone.FamilyClassic {
			continue
		}
		if next := s.planFor(l.Model, k, l.ID).Next; next != "" {
			loads[name] = next
			offered = next
		}
	}
	for _, id := range loads {
		if !strings.EqualFold(id, offered) {
			offered = ""
		}
	}
	b, err = s.tmpl.DefaultConfig(site, loads)
	return b, offered, err
}

// phoneFiles renders SEP<MAC>.cnf.xml and, for 7940/7960 (or a phone of
// unknown model) on SIP, SIP<MAC>.cnf.
func (s *snapshot) phoneFiles(site render.Site, v render.Phone) (map[string]files.Bytes, error) {
	out := map[string]files.Bytes{}
	b, err := s.tmpl.DeviceConfig(site, v)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		// Never serve an empty SEP<MAC>.cnf.xml: on the seed page that
		// made a phone "Protocol Application Invalid".
		return nil, fmt.Errorf("template rendered an empty SEP%s.cnf.xml", v.MAC.Hex())
	}
	out[strings.ToLower(v.MAC.DeviceName()+".cnf.xml")] = b
	if v.Protocol == "SIP" && (v.Model.Name == "" || v.Model.Family == phone.FamilyClassic) {
		b, err := s.tmpl.SIPConfig(site, v)
		if err != nil {
			return nil, err
		}
		out[strings.ToLower("SIP"+v.MAC.Hex()+".cnf")] = b
	}
	return out, nil
}

// checkOverrides notes the files of the TFTP root that are served instead
// of generated ones, and refuses empty device configs.
func (s *snapshot) checkOverrides(rootDir string) {
	names := make([]string, 0, len(s.root))
	for lower := range s.root {
		names = append(names, lower)
	}
	sort.Strings(names)
	for _, lower := range names {
		name := s.root[lower]
		path := filepath.Join(rootDir, name)
		n := phone.ParseName(name)
		generated := s.files[lower] != nil || n.Kind == phone.KindDeviceConfig && !n.Signed || n.Kind == phone.KindSIPConfig
		if !generated {
			continue
		}
		if st, err := os.Stat(path); err == nil && st.Size() == 0 && n.Kind == phone.KindDeviceConfig {
			s.problem(path, 0, "empty file ignored: an empty SEP<MAC>.cnf.xml leaves a phone looping or \"Protocol Application Invalid\" (seed page); phoneboot serves the generated one; delete this file")
			continue
		}
		s.note(path, 0, "served instead of the generated file (delete it to use the generated one)")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
