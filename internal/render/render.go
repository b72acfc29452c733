package render

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"phoneboot/internal/phone"
)

// Host is a server address; Port 0 means the protocol default (SCCP 2000, SIP 5060).
type Host struct {
	Host string
	Port int
}

// DialRule is one <TEMPLATE> of dialplan.xml (cisco-79xx.md §3.4).
type DialRule struct {
	Match   string // MATCH pattern: digits, ".", "*", ","
	Timeout int    // seconds to wait for more digits
	Rewrite string // Rewrite attribute: digits, ".", %0 to %5, %%, %. (CheckRewrite); "" = none
}

// Ring is one entry of RINGLIST.DAT (§3.4) and Ringlist.xml (§1.3):
// Name at most 25 characters, File a .raw file of at most 25 (CheckRing).
type Ring struct{ Name, File string }

// Site is what every phone shares.
type Site struct {
	CallManagers []Host // SCCP call control, first 5 used, priority order
	SIPProxy     Host   // SIP registrar/proxy (Host "" = none)
	// TimeZone as the admin wrote it: IANA ("Europe/Vienna") or a Cisco
	// name ("W. Europe Standard/Daylight Time"), one of timezones.tsv;
	// "" = none. See LookupTimeZone.
	TimeZone string
	// SIPTimeZone overrides the table's time_zone value for the 7940/7960
	// SIP configs (the values their firmware takes are uncertain).
	SIPTimeZone string
	NTPServers  []string
	Locale      string // user locale directory, e.g. "English_United_States"; "" = none
	// Locale details for <userLocale> and <networkLocaleInfo> (§2.1):
	// each "" or 0 means the default (LocaleInfo's doc says which).
	LocaleInfo LocaleInfo
	DialPlan   []DialRule // empty: one rule MATCH="*" Timeout="5"
	Rings      []Ring
	Sync       string // syncinfo.xml SYNC value; "" = "1"

	// Phones are the inventory's own settings of each phone that Phone
	// does not carry, by MAC. A phone listed here is one phoneboot
	// provisions fully: its SIP<MAC>.cnf blanks every setting it does not
	// use (a phone keeps in flash what a file does not mention); phones
	// outside it keep what they have.
	Phones map[phone.MAC]PhoneSettings

	// SIPTransport is how Java phones on SIP reach the proxy, "TCP" or
	// "UDP" (<transportLayerProtocol> 1 or 2, §2.1); "" = TCP, which
	// usecallmanager.nz advises (§1.6).
	SIPTransport string
	// MediaStart and MediaStop are the RTP ports of SIP phones; 0 = the
	// default 16384-32766 ([S4], mkirbst).
	MediaStart, MediaStop int
	// KEMLoads is the load each key expansion module is to run, by model
	// name ("7914": "S00105000400"); a module without one gets an empty
	// <loadInformation> and keeps its own.
	KEMLoads map[string]string
}

// PhoneSettings are one inventory phone's settings beyond Phone.
type PhoneSettings struct {
	SIPTransport string // "" = Site.SIPTransport
	// KEMs are its key expansion modules (7914, 7915, 7916), the first
	// next to the phone: <addOnModules> idx 1, 2 (§1.4, §2.1 [S4]). Lines
	// beyond the phone's own buttons are theirs.
	KEMs []phone.Model
}

// LocaleInfo is what <userLocale> and <networkLocaleInfo> carry besides
// the directory name (chan-sccp's SCCP templates [S2], usecallmanager.nz
// [S4]). The values are (uncertain): the sources show English_United_States
// / United_States only, so each is a setting with the sources' value as
// default.
type LocaleInfo struct {
	// Network is <networkLocale>, the tones directory; "" = the part of
	// Site.Locale after its first "_" ("German_Germany" -> "Germany").
	Network string
	// LangCode is <langCode>; "" = from the locale name by a small
	// table ("German_Germany" -> "de_DE", as [S2]'s "en_US"), else empty
	// as in [S4].
	LangCode string
	// Version is <version> of both: the phone downloads a locale again
	// only when it changes (§2.1); "" = [S2]'s "7.1.0.1(1)".
	Version string
	// Charset is <winCharSet>, "iso-8859-1" or "utf-8" ([S4]); "" =
	// iso-8859-1 for the 7940/7960 ([S2]'s 7940/7960 template), utf-8 for
	// the Java phones ([S4]).
	Charset string
	// UID and NetworkUID are the <uid> of each; 0 = [S2]'s 1 and 64.
	UID, NetworkUID int
}

// Line is one line button.
type Line struct{ Extension, Name, AuthUser, Password string }

// Phone is one phone as it will be configured: every choice already made by the caller.
type Phone struct {
	MAC      phone.MAC
	Model    phone.Model // zero value (Name == "") = model not known yet
	Protocol string      // "SCCP" or "SIP"
	Label    string
	Load     string // load ID to name; "" = name none (phone keeps its running load)
	Lines    []Line
}

// Template names: the embedded files under templates/, and the names an
// admin uses for overrides.
const (
	tmplDevice     = "device.xml.tmpl"
	tmplDefault    = "default.xml.tmpl"
	tmplSIPDefault = "sipdefault.cnf.tmpl"
	tmplSIP        = "sip.cnf.tmpl"
	tmplDialPlan   = "dialplan.xml.tmpl"
	tmplRingList   = "ringlist.dat.tmpl"
	tmplRingXML    = "ringlist.xml.tmpl"
	tmplSyncInfo   = "syncinfo.xml.tmpl"
)

var names = []string{tmplDefault, tmplDevice, tmplDialPlan, tmplRingList, tmplRingXML, tmplSIP, tmplSIPDefault, tmplSyncInfo}

//go:embed templates/*.tmpl
var embedded embed.FS

// Names lists every template name, sorted.
func Names() []string { return slices.Clone(names) }

// Templates holds the parsed templates: the embedded defaults, each replaced by a
// file of the same name in an admin's override directory.
type Templates struct {
	tmpl       map[string]*template.Template
	src        map[string]string // template text, part of every versionStamp
	overridden []string
}

// Load parses the embedded templates, then any file in dir whose name is one of
// the template names (dir "" or missing: defaults only). A template that does not
// parse is an error naming the file and line, e.g. "templates/device.xml.tmpl:12: ...".
// Files in dir with other names are an error too ("unknown template X; known: ...") so a typo is not ignored.
func Load(dir string) (*Templates, error) {
	t := &Templates{tmpl: map[string]*template.Template{}, src: map[string]string{}}
	for _, name := range names {
		b, err := embedded.ReadFile("templates/" + name)
		if err != nil {
			return nil, err
		}
		if err := t.parse(name, "templates/"+name, string(b)); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range entries {
			name := e.Name()
			if !slices.Contains(names, name) {
				return nil, fmt.Errorf("%s: unknown template %s; known: %s", dir, name, strings.Join(names, ", "))
			}
			path := filepath.Join(dir, name)
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			if err := t.parse(name, path, string(b)); err != nil {
				return nil, err
			}
			t.overridden = append(t.overridden, name)
		}
		slices.Sort(t.overridden)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

// parse parses one template under its path, so that text/template's own
// messages ("template: PATH:LINE: ...") name the file an admin edits.
func (t *Templates) parse(name, path, text string) error {
	tp, err := template.New(path).Funcs(funcs).Parse(text)
	if err != nil {
		return cleanErr(err)
	}
	t.tmpl[name], t.src[name] = tp, text
	return nil
}

func cleanErr(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "template: "))
}

// check renders every file once from sample inputs, so that a template
// naming a field that does not exist fails at Load, with its file and
// line, rather than when a phone asks for the file.
func (t *Templates) check() error {
	mac := phone.MAC{0x00, 0x13, 0x7f, 0x38, 0xb3, 0xde}
	s := Site{
		CallManagers: []Host{{Host: "192.0.2.10"}}, SIPProxy: Host{Host: "192.0.2.20"},
		TimeZone: "Europe/Vienna", NTPServers: []string{"192.0.2.1"}, Locale: "English_United_States",
		Rings: []Ring{{"Piano", "Piano1.raw"}},
	}
	line := []Line{{Extension: "100", Name: "Reception", Password: "secret"}}
	m := func(n string) phone.Model { md, _ := phone.ModelByName(n); return md }
	for _, p := range []Phone{
		{MAC: mac, Model: m("7960"), Protocol: "SIP", Load: "P0S3-8-12-00", Label: "Reception", Lines: line},
		{MAC: mac, Model: m("7960"), Protocol: "SCCP", Load: "P0030801SR02", Lines: line},
		{MAC: mac, Model: m("7961"), Protocol: "SIP", Load: "SIP41.9-4-2SR3-1S", Label: "Reception", Lines: line},
		{MAC: mac, Protocol: "SCCP"},
	} {
		if _, err := t.DeviceConfig(s, p); err != nil {
			return err
		}
		if p.Model.Family == phone.FamilyClassic && p.Protocol == "SIP" {
			if _, err := t.SIPConfig(s, p); err != nil {
				return err
			}
		}
	}
	if _, err := t.DefaultConfig(s, map[string]string{"7960": "P0S3-8-12-00"}); err != nil {
		return err
	}
	if _, err := t.SIPDefault(s, "P0S3-8-12-00"); err != nil {
		return err
	}
	if _, err := t.DialPlan(s); err != nil {
		return err
	}
	if _, err := t.RingList(s); err != nil {
		return err
	}
	if _, err := t.RingListXML(s); err != nil {
		return err
	}
	_, err := t.SyncInfo(s, "P0S3-8-12-00")
	return err
}

// Overridden lists the template names that came from dir, sorted.
func (t *Templates) Overridden() []string { return slices.Clone(t.overridden) }

// exec renders template name with d. inputs are everything the file is
// made from; their hash, with the template text, is d.VersionStamp.
func (t *Templates) exec(name string, d *Data, inputs ...any) ([]byte, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", name, t.src[name])
	for _, in := range inputs {
		if s, ok := in.(Site); ok {
			// Not the whole inventory: printing it for every phone's file
			// made a reload quadratic in the phones. A phone's own entry
			// is an input of its files (entryOf).
			s.Phones = nil
			in = s
		}
		fmt.Fprintf(h, "%#v\x00", in)
	}
	d.VersionStamp = hex.EncodeToString(h.Sum(nil)[:8])
	var buf bytes.Buffer
	if err := t.tmpl[name].Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render %s: %w", d.File, cleanErr(err))
	}
	// Exactly its size: rendered files are kept (provision caches them).
	return bytes.Clone(buf.Bytes()), nil
}

// DeviceConfig renders SEP<MAC>.cnf.xml (§2.1, §2.3).
func (t *Templates) DeviceConfig(s Site, p Phone) ([]byte, error) {
	d, err := deviceData(s, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	b, err := t.exec(tmplDevice, d, s, p, entryOf(s, p.MAC))
	if err != nil {
		return nil, err
	}
	// An empty SEP<MAC>.cnf.xml left a 7960 in "Protocol Application
	// Invalid" (seed page 000): refuse rather than serve one.
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("render %s: %s produced an empty file", d.File, t.tmpl[tmplDevice].Name())
	}
	return b, nil
}

// DefaultConfig renders XMLDefault.cnf.xml (§2.2); loads maps a model name
// ("7960", anything phone.ModelByName takes) to its load ID.
func (t *Templates) DefaultConfig(s Site, loads map[string]string) ([]byte, error) {
	d, err := defaultData(s, loads)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	b, err := t.exec(tmplDefault, d, s, loads)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("render %s: %s produced an empty file", d.File, t.tmpl[tmplDefault].Name())
	}
	return b, nil
}

// SIPDefault renders SIPDefault.cnf (§3.1, §3.2); imageVersion "" = no
// image_version line.
func (t *Templates) SIPDefault(s Site, imageVersion string) ([]byte, error) {
	d, err := siteData(s, "SIPDefault.cnf")
	if err == nil {
		d.ImageVersion = imageVersion
		err = checkSIPDefault(d)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	return t.exec(tmplSIPDefault, d, s, imageVersion)
}

// SIPConfig renders SIP<MAC>.cnf (§3.1, §3.2) for a 7940/7960 on SIP.
func (t *Templates) SIPConfig(s Site, p Phone) ([]byte, error) {
	d, err := phoneData(s, p, "SIP"+p.MAC.Hex()+".cnf")
	switch {
	case err != nil:
	case d.Protocol != "SIP":
		err = fmt.Errorf("phone runs %s; SIP<MAC>.cnf is for SIP phones", d.Protocol)
	case p.Model.Name != "" && p.Model.Family != phone.FamilyClassic:
		err = fmt.Errorf("SIP<MAC>.cnf is for the 7940/7960; a %s takes its SIP settings from SEP<MAC>.cnf.xml", p.Model.Name)
	default:
		d.ImageVersion = p.Load
		if d.Blank {
			// Lines 1-6 on a 7960, 1-2 on a 7940 (§3.2); a phone whose
			// model is not known yet may be either: up to 6.
			n := p.Model.LineKeys
			if n == 0 {
				n = 6
			}
			for b := len(d.Lines) + 1; b <= n; b++ {
				d.Unused = append(d.Unused, b)
			}
		}
		err = checkSIPPhone(d)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	return t.exec(tmplSIP, d, s, p, entryOf(s, p.MAC))
}

// entry is what Site.Phones says of one phone: an input of its files.
type entry struct {
	Settings PhoneSettings
	Listed   bool
}

func entryOf(s Site, mac phone.MAC) entry {
	set, ok := s.Phones[mac]
	return entry{set, ok}
}

// DialPlan renders dialplan.xml (§3.4).
func (t *Templates) DialPlan(s Site) ([]byte, error) {
	d, err := siteData(s, "dialplan.xml")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	return t.exec(tmplDialPlan, d, s)
}

// RingList renders RINGLIST.DAT (§3.4). No rings renders an empty file;
// the caller may answer "file not found" instead, which phones take as
// "no custom rings" (§1.5).
func (t *Templates) RingList(s Site) ([]byte, error) {
	d, err := siteData(s, "RINGLIST.DAT")
	if err == nil {
		err = checkRings(s.Rings)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	return t.exec(tmplRingList, d, s)
}

// RingListXML renders Ringlist.xml (cisco-79xx.md §1.3 [S4]), the ring
// list of SCCP and Java phones, from the same rings as RINGLIST.DAT. No
// rings renders an empty list; the caller may answer "file not found".
func (t *Templates) RingListXML(s Site) ([]byte, error) {
	d, err := siteData(s, "Ringlist.xml")
	if err == nil {
		err = checkRings(s.Rings)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	return t.exec(tmplRingXML, d, s)
}

// SyncInfo renders syncinfo.xml (§3.5); imageVersion "" is the wildcard "*".
func (t *Templates) SyncInfo(s Site, imageVersion string) ([]byte, error) {
	d, err := siteData(s, "syncinfo.xml")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	d.ImageVersion = imageVersion
	if d.ImageVersion == "" {
		d.ImageVersion = "*"
	}
	return t.exec(tmplSyncInfo, d, s, imageVersion)
}

// OS79XX is the one-line OS79XX.TXT naming image: never a trailing space,
// tab, CR or newline (Cisco bug CSCdv19260: a trailing space makes the phone
// ask for a file that does not exist). No template: there is nothing to customise.
func OS79XX(image string) []byte {
	image = strings.TrimSpace(image)
	// Only the first line counts (§3.3: a single line).
	if i := strings.IndexAny(image, "\r\n"); i >= 0 {
		image = strings.TrimSpace(image[:i])
	}
	return []byte(image)
}

// funcs are the functions templates can call besides text/template's own.
var funcs = template.FuncMap{
	"xml": xmlEscape,
	"sip": sipQuote,
}

// xmlEscape escapes v for XML text and attribute values alike. Characters
// XML cannot carry at all (NUL, most C0 controls, invalid UTF-8) become
// U+FFFD, so the output always parses.
func xmlEscape(v any) string {
	var b strings.Builder
	_ = xmlEscapeTo(&b, fmt.Sprint(v))
	return b.String()
}

// sipQuote quotes v for a "name: value" line of the SIP text configs. A
// value that would end the line or the quotes early is an error; the Go
// side checks named fields first, this catches what a custom template adds.
func sipQuote(v any) (string, error) {
	s := fmt.Sprint(v)
	if err := sipSafe(s); err != nil {
		return "", err
	}
	return `"` + s + `"`, nil
}
