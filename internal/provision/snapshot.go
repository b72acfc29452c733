package provision

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"phoneboot/internal/config"
	"phoneboot/internal/firmware"
	"phoneboot/internal/phone"
	"phoneboot/internal/render"
	"phoneboot/internal/tftp"
)

// snapshot is everything provision decides from the config, the templates
// and the files in the TFTP root, built once per change and then only
// read: every transfer shares its rendered files.
type snapshot struct {
	cfg   *config.Config
	tmpl  *render.Templates
	site  render.Site
	root  map[string]string // lower-case name → name, files at the top of the TFTP root
	loads map[string]loadStatus
	// files are the generated files by lower-case name.
	files map[string]tftp.Bytes
	// inventory is the inventory by MAC; auto are the rendered configs of
	// phones outside it, made on their first request.
	inventory map[phone.MAC]int
	auto      sync.Map // lower-case name + "/" + learned model → tftp.Bytes
	autoCount atomic.Int64
	problems  []Problem
}

// loadStatus says whether a load can be named in a config.
type loadStatus struct {
	complete bool
	missing  []string // what is not in the TFTP root
	loader   string   // 7940/7960: the P003… loader component OS79XX.TXT names
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

// build makes a snapshot. cfg may be nil (no config file: defaults).
func build(cfg *config.Config, rootDir, templatesDir string) (*snapshot, error) {
	if cfg == nil {
		cfg = &config.Config{}
	}
	tmpl, err := render.Load(templatesDir)
	if err != nil {
		return nil, err
	}
	s := &snapshot{cfg: cfg, tmpl: tmpl, loads: map[string]loadStatus{}, files: map[string]tftp.Bytes{}, inventory: map[phone.MAC]int{}}
	if s.root, err = listRoot(rootDir); err != nil {
		return nil, err
	}
	for _, name := range tmpl.Overridden() {
		s.note(filepath.Join(templatesDir, name), 0, "template overrides the built-in one")
	}
	s.site = siteOf(cfg, s.root)
	s.checkLoads(rootDir)
	for i, p := range cfg.Phones {
		s.inventory[p.MAC] = i
	}
	if err := s.renderShared(); err != nil {
		return nil, err
	}
	for i := range cfg.Phones {
		v := s.view(cfg.Phones[i].MAC, phone.Model{})
		if err := s.renderPhone(v); err != nil {
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
		return nil, fmt.Errorf("TFTP root: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(maxRootEntries)
	if err != nil && len(names) == 0 && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("TFTP root: %w", err)
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
	site := render.Site{TimeZone: st.TimeZone, NTPServers: st.NTPServers, Locale: st.Locale, Sync: st.Sync}
	for _, cm := range st.CallManagers {
		site.CallManagers = append(site.CallManagers, hostOf(cm))
	}
	if st.SIPProxy != "" {
		site.SIPProxy = hostOf(st.SIPProxy)
	}
	for _, r := range st.DialPlan {
		site.DialPlan = append(site.DialPlan, render.DialRule{Match: r.Match, Timeout: r.Timeout, Rewrite: r.Rewrite})
	}
	for _, r := range st.Rings {
		site.Rings = append(site.Rings, render.Ring{Name: r.Name, File: r.File})
	}
	if len(site.Rings) == 0 {
		// No rings configured: offer the .raw files an admin dropped in
		// the root (cisco-79xx.md §3.4).
		var raws []string
		for _, n := range root {
			if strings.HasSuffix(strings.ToLower(n), ".raw") {
				raws = append(raws, n)
			}
		}
		sort.Strings(raws)
		for _, n := range raws {
			site.Rings = append(site.Rings, render.Ring{Name: strings.TrimSuffix(n, filepath.Ext(n)), File: n})
		}
	}
	return site
}

// hostOf splits "host" or "host:port".
func hostOf(s string) render.Host {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return render.Host{Host: h, Port: n}
		}
	}
	return render.Host{Host: s}
}

// checkLoads finds out which of the loads the config names can be named
// in a config: the .loads file and every component it lists must be in
// the root (cisco-79xx.md §9). Old 7940/7960 loads have no .loads file;
// their .bin or .sbn is enough.
func (s *snapshot) checkLoads(rootDir string) {
	type use struct {
		id   string
		line int
		who  string
	}
	var uses []use
	models := make([]string, 0, len(s.cfg.Site.Loads))
	for m := range s.cfg.Site.Loads {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, m := range models {
		uses = append(uses, use{s.cfg.Site.Loads[m], s.cfg.SiteLoadLine(m), "site.loads." + m})
	}
	for i, p := range s.cfg.Phones {
		if p.Load != "" {
			uses = append(uses, use{p.Load, s.cfg.PhoneLine(i, "load"), "phone " + p.MAC.String()})
		}
	}
	for _, u := range uses {
		st, ok := s.loads[u.id]
		if !ok {
			st = s.loadStatus(rootDir, u.id)
			s.loads[u.id] = st
		}
		if !st.complete {
			s.problem(s.cfg.File, u.line, "%s: load %s is not in the TFTP root (missing %s); phones keep their running load until it is", u.who, u.id, strings.Join(st.missing, ", "))
		}
	}
}

func (s *snapshot) loadStatus(rootDir, id string) loadStatus {
	name, ok := s.root[strings.ToLower(id+".loads")]
	if !ok {
		for _, ext := range []string{".bin", ".sbn"} {
			if _, ok := s.root[strings.ToLower(id+ext)]; ok && isClassic(id) {
				return loadStatus{complete: true, loader: id}
			}
		}
		return loadStatus{missing: []string{id + ".loads"}}
	}
	data, err := os.ReadFile(filepath.Join(rootDir, name))
	if err != nil {
		return loadStatus{missing: []string{name + " (unreadable: " + err.Error() + ")"}}
	}
	l, err := firmware.ParseLoads(data)
	if err != nil {
		return loadStatus{missing: []string{name + " (" + err.Error() + ")"}}
	}
	st := loadStatus{complete: true}
	for _, c := range l.Components {
		if _, ok := s.root[strings.ToLower(c)]; !ok {
			st.complete = false
			st.missing = append(st.missing, c)
		}
		// The loader of a 7940/7960 package (P003…, also in SIP
		// packages) is what OS79XX.TXT names (§3.3, §4.2).
		stem := strings.TrimSuffix(c, filepath.Ext(c))
		if strings.HasPrefix(strings.ToUpper(stem), "P003") && st.loader == "" {
			st.loader = stem
		}
	}
	if st.loader == "" && isClassic(id) {
		st.loader = id
	}
	return st
}

// isClassic: 7940/7960 load IDs start with P0 (P003…, P0S3…, P0M3…).
func isClassic(id string) bool { return strings.HasPrefix(strings.ToUpper(id), "P0") }

// present is the load ID if it can be named, else "".
func (s *snapshot) present(id string) string {
	if id == "" {
		return ""
	}
	st, ok := s.loads[id]
	if !ok || !st.complete {
		return ""
	}
	return id
}

// classicLoad is the load every 7940/7960 of the site is to run, for the
// files that cannot say per phone (SIPDefault.cnf, OS79XX.TXT): the
// site's load for the 7960 or 7940, when they agree.
func (s *snapshot) classicLoad() string {
	a, b := s.cfg.Site.Loads["7960"], s.cfg.Site.Loads["7940"]
	switch {
	case a == "":
		a = b
	case b != "" && a != b:
		return ""
	}
	return s.present(a)
}

// renderShared renders the files every phone shares.
func (s *snapshot) renderShared() error {
	add := func(name string, b []byte, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.files[strings.ToLower(name)] = b
		return nil
	}
	defaults := map[string]string{}
	for m, id := range s.cfg.Site.Loads {
		if s.present(id) != "" {
			defaults[m] = id
		}
	}
	b, err := s.tmpl.DefaultConfig(s.site, defaults)
	if err := add("XMLDefault.cnf.xml", b, err); err != nil {
		return err
	}
	classic := s.classicLoad()
	sipImage := ""
	if strings.HasPrefix(strings.ToUpper(classic), "P0S3") {
		sipImage = classic
	}
	b, err = s.tmpl.SIPDefault(s.site, sipImage)
	if err := add("SIPDefault.cnf", b, err); err != nil {
		return err
	}
	if classic != "" {
		s.files["os79xx.txt"] = render.OS79XX(s.loads[classic].loader)
	}
	b, err = s.tmpl.DialPlan(s.site)
	if err := add("dialplan.xml", b, err); err != nil {
		return err
	}
	if len(s.site.Rings) > 0 {
		b, err = s.tmpl.RingList(s.site)
		if err := add("RINGLIST.DAT", b, err); err != nil {
			return err
		}
	}
	b, err = s.tmpl.SyncInfo(s.site, sipImage)
	return add("syncinfo.xml", b, err)
}

// view decides what one phone gets: its inventory entry over the site's
// defaults, a protocol the model can run, and a load only when its files
// are all there. learned is the model observed on the network, used for
// phones outside the inventory (or listed without a model).
func (s *snapshot) view(mac phone.MAC, learned phone.Model) render.Phone {
	v := render.Phone{MAC: mac, Model: learned, Protocol: s.cfg.Site.Protocol}
	var entry *config.Phone
	if i, ok := s.inventory[mac]; ok {
		entry = &s.cfg.Phones[i]
		if m, ok := phone.ModelByName(entry.Model); ok {
			v.Model = m
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
	if v.Model.Name == "" {
		return v // no load for a model we do not know
	}
	id := s.cfg.Site.Loads[v.Model.Name]
	if entry != nil && entry.Load != "" {
		id = entry.Load
	}
	v.Load = s.present(id)
	return v
}

// renderPhone renders the per-device files of v into s.files.
func (s *snapshot) renderPhone(v render.Phone) error {
	files, err := s.phoneFiles(v)
	if err != nil {
		return err
	}
	for name, b := range files {
		s.files[name] = b
	}
	return nil
}

// phoneFiles renders SEP<MAC>.cnf.xml and, for 7940/7960 (or a phone of
// unknown model) on SIP, SIP<MAC>.cnf.
func (s *snapshot) phoneFiles(v render.Phone) (map[string]tftp.Bytes, error) {
	out := map[string]tftp.Bytes{}
	b, err := s.tmpl.DeviceConfig(s.site, v)
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
		b, err := s.tmpl.SIPConfig(s.site, v)
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
