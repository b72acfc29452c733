// Package config reads phoneboot.toml: the site's defaults and the phone
// inventory. Decoding is strict: an unknown key, a bad value, a model
// phoneboot does not know or a phone listed twice is an error that names
// the file and the line, so a typo never silently changes what phones get.
// Every problem in the file is reported, not just the first.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"phoneboot/internal/phone"
)

// Config is a parsed phoneboot.toml.
type Config struct {
	Site      Site      `toml:"site"`
	Phones    []Phone   `toml:"phone"`
	Provision Provision `toml:"provision"`
	DHCP      DHCP      `toml:"dhcp"`

	File string    `toml:"-"` // the file it was read from
	pos  positions // where each key is, for errors found later (missing loads)
}

// Site holds what every phone gets unless its own entry says otherwise.
type Site struct {
	// Protocol phones run when their entry does not say: SCCP or SIP.
	Protocol string `toml:"protocol"`
	// CallManagers are SCCP call-control hosts (host or host:port).
	CallManagers []string `toml:"call_managers"`
	// SIPProxy is the SIP registrar/proxy (host or host:port).
	SIPProxy   string   `toml:"sip_proxy"`
	TimeZone   string   `toml:"time_zone"`
	NTPServers []string `toml:"ntp_servers"`
	// Locale is the user locale directory name, e.g. English_United_States.
	Locale string `toml:"locale"`
	// Loads is the target load per model: "7960" = "P0S3-8-12-00".
	Loads map[string]string `toml:"loads"`
	// DialPlan is dialplan.xml; empty means one rule: any number, 5 s.
	DialPlan []DialRule `toml:"dial_plan"`
	// Rings is RINGLIST.DAT; empty means the .raw files in the TFTP root.
	Rings []Ring `toml:"ring"`
	// Sync is the SYNC value of syncinfo.xml; change it to make SIP
	// 7940/7960 reboot on their next check-sync.
	Sync string `toml:"sync"`
	// TFTPViaDHCP states that the site's DHCP server names phoneboot as
	// TFTP server (option 150 or 66). A 7940/7960 whose loader was
	// upgraded has lost its manual TFTP setting and finds phoneboot only
	// so ("Protocol Application Invalid", cisco-79xx.md §1.6).
	TFTPViaDHCP bool `toml:"tftp_via_dhcp"`
}

// DialRule is one TEMPLATE of dialplan.xml.
type DialRule struct {
	Match   string `toml:"match"`
	Timeout int    `toml:"timeout"`
	Rewrite string `toml:"rewrite"`
}

// Ring is one custom ring of RINGLIST.DAT.
type Ring struct {
	Name string `toml:"name"`
	File string `toml:"file"`
}

// Phone is one inventory entry, keyed by MAC.
type Phone struct {
	MAC      phone.MAC `toml:"-"`
	RawMAC   string    `toml:"mac"`
	Model    string    `toml:"model"`    // optional: learned from the phone otherwise
	Protocol string    `toml:"protocol"` // overrides site.protocol
	Label    string    `toml:"label"`
	Load     string    `toml:"load"` // overrides site.loads for this phone
	// RunningLoad is what the phone runs now, for phones that do not say
	// (old 7940/7960 SIP loads); what phoneboot sees later wins.
	RunningLoad string `toml:"running_load"`
	// IP is the address phoneboot's DHCP server reserves for the phone.
	IP    string `toml:"ip"`
	Lines []Line `toml:"line"`
}

// Line is one line button.
type Line struct {
	Extension string `toml:"extension"`
	Name      string `toml:"name"`
	AuthUser  string `toml:"auth_user"`
	Password  string `toml:"password"`
}

// Provision holds the loop breakers' settings (cisco-79xx.md §1.6; the
// thresholds are guesses from the seed page, hence settings).
type Provision struct {
	// CTLLoopRequests is how many CTLSEP<MAC>.tlv requests in a row,
	// with nothing else asked in between, make a loop.
	CTLLoopRequests int `toml:"ctl_loop_requests"`
	// ConfigLoopRequests is the same for SEP<MAC>.cnf.xml.
	ConfigLoopRequests int `toml:"config_loop_requests"`
	// LoopWindow is how far apart those requests may be: "2m".
	LoopWindow Duration `toml:"loop_window"`
}

// DHCP configures phoneboot's own DHCP server; it is off while Interface
// is empty (the serve flags --dhcp-iface/--dhcp-range override these).
type DHCP struct {
	Interface string   `toml:"interface"`
	Range     string   `toml:"range"`  // "10.0.0.100-10.0.0.199"
	Subnet    string   `toml:"subnet"` // default: the interface's
	Router    string   `toml:"router"`
	DNS       []string `toml:"dns"`
	Domain    string   `toml:"domain"`
	NTP       []string `toml:"ntp"`
	TFTP      []string `toml:"tftp"` // option 150; default: phoneboot's address on the interface
	LeaseTime Duration `toml:"lease_time"`
	// Classes are option sets for some phones: by model or vendor class.
	Classes []DHCPClass `toml:"class"`
}

// DHCPClass overrides options for clients of one model or vendor class.
type DHCPClass struct {
	Model       string   `toml:"model"`
	VendorClass string   `toml:"vendor_class"`
	Router      string   `toml:"router"`
	DNS         []string `toml:"dns"`
	TFTP        []string `toml:"tftp"`
	LeaseTime   Duration `toml:"lease_time"`
}

// Duration is a TOML string such as "90s" or "2m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: write it like \"90s\" or \"2m\"", b)
	}
	if v <= 0 {
		return fmt.Errorf("duration %q must be positive", b)
	}
	d.Duration = v
	return nil
}

// Defaults for [provision].
const (
	DefaultCTLLoopRequests    = 4
	DefaultConfigLoopRequests = 4
	DefaultLoopWindow         = 2 * time.Minute
)

// Error is a problem at a place in a config file.
type Error struct {
	File string
	Line int // 0 when the place is the whole file
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in one file, in line order. errors.As
// finds the first as an *Error.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives the problems to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Load reads and checks the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse checks data, naming it file in errors.
func Parse(file string, data []byte) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{File: file, Line: pe.Position.Line, Msg: pe.Message}}
		}
		return nil, Errors{{File: file, Msg: err.Error()}}
	}
	c.File, c.pos = file, locate(data)
	var errs Errors
	for _, k := range md.Undecoded() {
		errs = append(errs, &Error{File: file, Line: c.pos.key(k), Msg: unknownKey(k)})
	}
	errs = append(errs, c.check()...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	if c.Provision.CTLLoopRequests == 0 {
		c.Provision.CTLLoopRequests = DefaultCTLLoopRequests
	}
	if c.Provision.ConfigLoopRequests == 0 {
		c.Provision.ConfigLoopRequests = DefaultConfigLoopRequests
	}
	if c.Provision.LoopWindow.Duration == 0 {
		c.Provision.LoopWindow.Duration = DefaultLoopWindow
	}
	return &c, nil
}

// SiteLoadLine is the line of site.loads' entry for model (0 if unknown).
func (c *Config) SiteLoadLine(model string) int { return c.pos.at("site.loads", 0, model) }

// PhoneLine is the line of key in the i-th [[phone]], or of its header.
func (c *Config) PhoneLine(i int, key string) int { return c.pos.at("phone", i, key) }

// check validates values, normalises spellings, and reports every problem.
func (c *Config) check() Errors {
	var errs Errors
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &Error{File: c.File, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	pos := c.pos
	var err error
	if c.Site.Protocol, err = protocol(c.Site.Protocol); err != nil {
		fail(pos.at("site", 0, "protocol"), "site.protocol: %v", err)
	}
	models := make([]string, 0, len(c.Site.Loads))
	for m := range c.Site.Loads {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, m := range models {
		if _, ok := phone.ModelByName(m); !ok {
			fail(pos.at("site.loads", 0, m), "site.loads: unknown model %q (known: %s)", m, knownModels())
		}
	}
	for i, r := range c.Site.DialPlan {
		if r.Match == "" {
			fail(pos.header("site.dial_plan", i), "site.dial_plan: a rule needs match (e.g. match = \"9.T\")")
		}
		if r.Timeout < 0 {
			fail(pos.at("site.dial_plan", i, "timeout"), "site.dial_plan: timeout %d must be 0 or more seconds", r.Timeout)
		}
	}
	for i, r := range c.Site.Rings {
		if r.Name == "" || r.File == "" {
			fail(pos.header("site.ring", i), "site.ring: a ring needs name and file (e.g. name = \"Piano\", file = \"Piano1.raw\")")
		}
	}
	if c.Provision.CTLLoopRequests < 0 || c.Provision.ConfigLoopRequests < 0 {
		fail(pos.header("provision", 0), "provision: loop thresholds must be positive")
	}
	c.checkDHCP(fail)
	seen := map[phone.MAC]int{}
	ips := map[netip.Addr]int{}
	for i := range c.Phones {
		p := &c.Phones[i]
		line := pos.header("phone", i)
		if p.RawMAC == "" {
			fail(line, "phone entry without mac")
			continue
		}
		mac, err := phone.ParseMAC(p.RawMAC)
		if err != nil {
			fail(pos.at("phone", i, "mac"), "%v", err)
			continue
		}
		p.MAC = mac
		if first, dup := seen[p.MAC]; dup {
			fail(pos.at("phone", i, "mac"), "phone %s is listed twice (first at line %d)", p.MAC, first)
			continue
		}
		seen[p.MAC] = pos.at("phone", i, "mac")
		if p.Protocol, err = protocol(p.Protocol); err != nil {
			fail(pos.at("phone", i, "protocol"), "phone %s: %v", p.MAC, err)
		}
		proto := p.Protocol
		if proto == "" {
			proto = c.Site.Protocol
		}
		c.checkLines(i, proto, fail)
		if p.IP != "" {
			a, err := netip.ParseAddr(p.IP)
			switch {
			case err != nil || !a.Is4():
				fail(pos.at("phone", i, "ip"), "phone %s: ip %q is not an IPv4 address", p.MAC, p.IP)
			case ips[a] != 0:
				fail(pos.at("phone", i, "ip"), "phone %s: ip %s is reserved for another phone too (line %d)", p.MAC, a, ips[a])
			default:
				ips[a] = pos.at("phone", i, "ip")
			}
		}
		if p.Model == "" {
			continue
		}
		m, ok := phone.ModelByName(p.Model)
		if !ok {
			fail(pos.at("phone", i, "model"), "phone %s: unknown model %q (known: %s)", p.MAC, p.Model, knownModels())
			continue
		}
		p.Model = m.Name
		if m.LineKeys > 0 && len(p.Lines) > m.LineKeys {
			fail(line, "phone %s: a %s has %d line buttons, %d lines are configured", p.MAC, m.Name, m.LineKeys, len(p.Lines))
		}
		if proto != "" && !contains(m.Protocols, proto) {
			fail(pos.at("phone", i, "protocol"), "phone %s: a %s cannot run %s (it runs %s)", p.MAC, m.Name, proto, strings.Join(m.Protocols, ", "))
		}
		// cisco-79xx.md §3.2: phone_label holds 11 characters on 7940/7960.
		if m.Family == phone.FamilyClassic && proto == "SIP" && len([]rune(p.Label)) > 11 {
			fail(pos.at("phone", i, "label"), "phone %s: label %q is %d characters; a %s on SIP shows at most 11", p.MAC, p.Label, len([]rune(p.Label)), m.Name)
		}
	}
	return errs
}

// checkDHCP reports [dhcp] values that do not parse; whether they fit
// the interface is checked when the server starts.
func (c *Config) checkDHCP(fail func(int, string, ...any)) {
	d := c.DHCP
	line := func(key string) int { return c.pos.at("dhcp", 0, key) }
	if d.Range != "" {
		if _, _, err := ParseRange(d.Range); err != nil {
			fail(line("range"), "dhcp.range: %v", err)
		}
	}
	if d.Subnet != "" {
		if _, err := netip.ParsePrefix(d.Subnet); err != nil {
			fail(line("subnet"), "dhcp.subnet %q: write it like 10.0.0.0/24", d.Subnet)
		}
	}
	for key, list := range map[string][]string{"router": {d.Router}, "dns": d.DNS, "ntp": d.NTP, "tftp": d.TFTP} {
		for _, v := range list {
			if a, err := netip.ParseAddr(v); v != "" && (err != nil || !a.Is4()) {
				fail(line(key), "dhcp.%s: %q is not an IPv4 address", key, v)
			}
		}
	}
	for i, cl := range d.Classes {
		at := c.pos.header("dhcp.class", i)
		if (cl.Model == "") == (cl.VendorClass == "") {
			fail(at, "dhcp.class: give either model or vendor_class")
		}
		if _, ok := phone.ModelByName(cl.Model); cl.Model != "" && !ok {
			fail(at, "dhcp.class: unknown model %q", cl.Model)
		}
		for _, v := range append(append([]string{cl.Router}, cl.DNS...), cl.TFTP...) {
			if a, err := netip.ParseAddr(v); v != "" && (err != nil || !a.Is4()) {
				fail(at, "dhcp.class: %q is not an IPv4 address", v)
			}
		}
	}
	if d.Interface != "" && d.Range == "" {
		fail(line("interface"), "dhcp: interface is set but range is not (e.g. range = \"10.0.0.100-10.0.0.199\")")
	}
}

// ParseRange reads a DHCP pool "FROM-TO" of IPv4 addresses.
func ParseRange(s string) (netip.Addr, netip.Addr, error) {
	from, to, ok := strings.Cut(s, "-")
	a, err1 := netip.ParseAddr(strings.TrimSpace(from))
	b, err2 := netip.ParseAddr(strings.TrimSpace(to))
	switch {
	case !ok || err1 != nil || err2 != nil || !a.Is4() || !b.Is4():
		return a, b, fmt.Errorf("range %q: write it like 10.0.0.100-10.0.0.199", s)
	case b.Less(a):
		return a, b, fmt.Errorf("range %q ends before it starts", s)
	}
	return a, b, nil
}

// checkLines reports lines a phone cannot register with.
func (c *Config) checkLines(i int, proto string, fail func(int, string, ...any)) {
	p := &c.Phones[i]
	// [[phone.line]] headers are numbered across all phones.
	first := 0
	for _, q := range c.Phones[:i] {
		first += len(q.Lines)
	}
	for j, l := range p.Lines {
		line := c.pos.header("phone.line", first+j)
		if l.Extension == "" {
			fail(line, "phone %s: line %d has no extension", p.MAC, j+1)
		}
		if proto == "SIP" && l.Password == "" {
			fail(line, "phone %s: SIP line %d (%s) has no password; the proxy will refuse its REGISTER", p.MAC, j+1, l.Extension)
		}
	}
}

func protocol(s string) (string, error) {
	switch u := strings.ToUpper(strings.TrimSpace(s)); u {
	case "", "SCCP", "SIP":
		return u, nil
	}
	return "", fmt.Errorf("protocol %q: use SCCP or SIP", s)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func knownModels() string {
	names := make([]string, len(phone.Models))
	for i, m := range phone.Models {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// keysOf lists the keys each table takes, for "did you mean".
var keysOf = map[string][]string{
	"":               {"site", "phone", "provision", "dhcp"},
	"site":           {"protocol", "call_managers", "sip_proxy", "time_zone", "ntp_servers", "locale", "loads", "dial_plan", "ring", "sync", "tftp_via_dhcp"},
	"site.dial_plan": {"match", "timeout", "rewrite"},
	"site.ring":      {"name", "file"},
	"provision":      {"ctl_loop_requests", "config_loop_requests", "loop_window"},
	"phone":          {"mac", "model", "protocol", "label", "load", "line"},
	"phone.line":     {"extension", "name", "auth_user", "password"},
}

func unknownKey(k toml.Key) string {
	table, last := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
	msg := fmt.Sprintf("unknown key %q", k.String())
	best, bestDist := "", 3
	for _, cand := range keysOf[table] {
		if d := distance(last, cand); d < bestDist {
			best, bestDist = cand, d
		}
	}
	if best != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", best)
	}
	if known, ok := keysOf[table]; ok {
		return msg + " (known here: " + strings.Join(known, ", ") + ")"
	}
	return msg
}

// distance is the Levenshtein distance of two short keys.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// positions maps table entries and keys to line numbers. The TOML library
// reports lines only for syntax errors, so the text is scanned once: every
// [table] or [[array]] header starts an entry, numbered per table name,
// and "key =" lines belong to the entry above them.
type positions struct {
	headers map[string][]int       // table name → header line of each entry
	keys    map[string]map[int]int // "table#index.key" → line
}

var (
	headerRE = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?`)
	keyRE    = regexp.MustCompile(`^\s*"?([A-Za-z0-9_.-]+)"?\s*=`)
)

func locate(data []byte) positions {
	p := positions{headers: map[string][]int{}, keys: map[string]map[int]int{}}
	table, index := "", 0
	for n, text := range strings.Split(string(data), "\n") {
		line := n + 1
		if m := headerRE.FindStringSubmatch(text); m != nil {
			table = m[1]
			p.headers[table] = append(p.headers[table], line)
			index = len(p.headers[table]) - 1
			continue
		}
		if m := keyRE.FindStringSubmatch(text); m != nil {
			k := table + "." + m[1]
			if p.keys[k] == nil {
				p.keys[k] = map[int]int{}
			}
			if _, dup := p.keys[k][index]; !dup {
				p.keys[k][index] = line
			}
		}
	}
	return p
}

// header is the line of entry i of table (0 if unknown).
func (p positions) header(table string, i int) int {
	if h := p.headers[table]; i < len(h) {
		return h[i]
	}
	return 0
}

// at is the line of key in entry i of table, else the entry's header.
func (p positions) at(table string, i int, key string) int {
	if l, ok := p.keys[table+"."+key][i]; ok {
		return l
	}
	return p.header(table, i)
}

// key is the line of an undecoded key (the first entry that has it).
func (p positions) key(k toml.Key) int {
	table, last := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
	best := 0
	for _, l := range p.keys[table+"."+last] {
		if best == 0 || l < best {
			best = l
		}
	}
	if best == 0 && len(k) == 1 {
		if h := p.headers[last]; len(h) > 0 {
			best = h[0]
		}
	}
	return best
}
