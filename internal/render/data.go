package render

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"phoneboot/internal/phone"
)

// Data is what every template sees as dot. Each file fills the fields it
// needs; the rest are zero. Strings are raw: XML templates pass them
// through xml, SIP text templates through sip. doc.go lists the fields for
// admins.
type Data struct {
	File string // the file being rendered: "SEP00137F38B3DE.cnf.xml"

	Site Site // as the caller gave it

	// CallManagers are the <callManagerGroup> members, priority order.
	CallManagers []Member
	// SIPProxy is Site.SIPProxy with its port filled in (5060).
	SIPProxy      Member
	TimeZone      TimeZone
	NTPServers    []string
	UserLocale    string // Site.Locale: "English_United_States"
	NetworkLocale string // LocaleInfo.Network, else its country part: "United_States"
	// Locale details (LocaleInfo with the defaults applied); WinCharSet
	// is set for per-phone files, by family.
	LangCode, LocaleVersion, WinCharSet string
	LocaleUID, NetworkLocaleUID         int
	DialRules                           []DialRule
	Rings                               []Ring
	Sync                                string // Site.Sync, "1" when empty
	// ImageVersion is image_version of the SIP files (SIPDefault.cnf:
	// the argument; SIP<MAC>.cnf: Phone.Load) and VERSION of
	// syncinfo.xml ("*" = any); "" = none.
	ImageVersion string

	// Per phone: SEP<MAC>.cnf.xml, SIP<MAC>.cnf.
	Phone      Phone
	DeviceName string // "SEP00137F38B3DE"
	MAC        string // "00137F38B3DE"
	Model      string // catalog name "7960"; "" = not known yet
	Protocol   string // "SCCP" or "SIP"
	// Form is the shape of SEP<MAC>.cnf.xml: "ual-stub" (7940/7960 on
	// SIP), "java-sip" (79x1 and later on SIP) or "xml" (the rest).
	Form  string
	Load  string
	Label string
	Lines []LineData
	// Transport is "TCP" or "UDP" and TransportCode its
	// <transportLayerProtocol> (1 TCP, 2 UDP, §2.1), for Java phones on
	// SIP.
	Transport     string
	TransportCode int
	// MediaStart and MediaStop are the RTP port range of SIP phones.
	MediaStart, MediaStop int
	// AddOns are the phone's key expansion modules (<addOnModules>).
	AddOns []AddOn
	// Blank: the phone is in the inventory (Site.Phones), so what its
	// files do not use is blanked; Unused are its line buttons without a
	// line, up to the model's line count (SIP<MAC>.cnf).
	Blank  bool
	Unused []int
	// VersionStamp is a hash of the template and of everything the file
	// is made from: it changes exactly when the file does.
	VersionStamp string

	// XMLDefault.cnf.xml.
	LoadInfos []LoadInfo
}

// Member is one <callManagerGroup> member.
type Member struct {
	Priority int    // 0 first
	Host     string // <processNodeName>
	SCCPPort int    // <ethernetPhonePort>; 0 = leave out
	SIPPort  int    // <sipPort>; 0 = leave out
}

// AddOn is one <addOnModule> (§2.1 [S4]).
type AddOn struct {
	Idx   int    // 1, 2: position, counting from the phone
	Type  string // <deviceType>: "7914", "7915", "7916"
	Lines int    // <deviceLine>: its line keys (14, 24, 24 [S4])
	Load  string // <loadInformation>: "" = keep its own
	// First and Last are the phone's line buttons on the module.
	First, Last int
}

// LineData is one line with the defaults applied.
type LineData struct {
	Button      int // 1-based
	Extension   string
	Name        string
	Label       string // Name, or Extension when Name is empty
	DisplayName string // same as Label
	AuthName    string // AuthUser, or Extension when empty
	Password    string
}

// LoadInfo is one loadInformationNNN line of XMLDefault.cnf.xml.
type LoadInfo struct {
	Code  int    // the NNN (§2.2.1)
	Model string // model attribute: "Cisco 7960" (informational, §2.2)
	Load  string
}

const (
	portSCCP = 2000
	portSIP  = 5060
	// maxCallManagers: the phones take up to 5 members (§2.1).
	maxCallManagers = 5
	// maxNodeName: processNodeName is limited to 50 characters (§2.1).
	maxNodeName = 50
	// maxLabel: phone_label of the 7940/7960 SIP configs (§3.2).
	maxLabel = 11
	// maxSync: syncinfo.xml SYNC value (§3.5).
	maxSync = 32
)

// defaultLocaleVersion is the <version> of chan-sccp's locale blocks [S2].
const defaultLocaleVersion = "7.1.0.1(1)"

// langCodes is the <langCode> of Cisco's locale directory names, in the
// form of [S2]'s English_United_States "en_US" (language and country,
// ISO 639-1 and 3166-1): the common ones; others get it from
// site.locale_lang_code or an empty element, as [S4] has.
var langCodes = map[string]string{
	"english_united_states": "en_US", "english_united_kingdom": "en_GB", "german_germany": "de_DE",
	"german_austria": "de_AT", "german_switzerland": "de_CH", "french_france": "fr_FR", "french_canada": "fr_CA",
	"french_switzerland": "fr_CH", "italian_italy": "it_IT", "spanish_spain": "es_ES", "dutch_netherlands": "nl_NL",
	"portuguese_portugal": "pt_PT", "portuguese_brazil": "pt_BR", "danish_denmark": "da_DK", "swedish_sweden": "sv_SE",
	"norwegian_norway": "no_NO", "finnish_finland": "fi_FI", "polish_poland": "pl_PL", "czech_czech_republic": "cs_CZ",
	"hungarian_hungary": "hu_HU", "russian_russian_federation": "ru_RU", "japanese_japan": "ja_JP",
	"chinese_china": "zh_CN",
}

// siteData fills the site-wide fields.
func siteData(s Site, file string) (*Data, error) {
	d := &Data{
		File: file, Site: s, NTPServers: s.NTPServers,
		UserLocale: s.Locale, DialRules: s.DialPlan, Rings: s.Rings, Sync: s.Sync,
	}
	tz, err := LookupTimeZone(s.TimeZone)
	if err != nil {
		return d, err
	}
	if s.SIPTimeZone != "" {
		tz.SIP = s.SIPTimeZone
	}
	d.TimeZone = tz
	if _, country, ok := strings.Cut(s.Locale, "_"); ok {
		d.NetworkLocale = country
	}
	li := s.LocaleInfo
	if li.Network != "" {
		d.NetworkLocale = li.Network
	}
	d.LangCode = li.LangCode
	if d.LangCode == "" {
		d.LangCode = langCodes[strings.ToLower(s.Locale)]
	}
	d.LocaleVersion = li.Version
	if d.LocaleVersion == "" {
		d.LocaleVersion = defaultLocaleVersion
	}
	d.LocaleUID, d.NetworkLocaleUID = orDefault(li.UID, 1), orDefault(li.NetworkUID, 64)
	switch d.WinCharSet = strings.ToLower(li.Charset); d.WinCharSet {
	case "", "iso-8859-1", "utf-8":
	default:
		return d, fmt.Errorf("locale charset %q: want iso-8859-1 or utf-8", li.Charset)
	}
	if len(d.DialRules) == 0 {
		d.DialRules = []DialRule{{Match: "*", Timeout: 5}}
	}
	for i, r := range d.DialRules {
		if r.Match == "" {
			return d, fmt.Errorf("dial rule %d: empty MATCH", i+1)
		}
		if r.Timeout < 0 {
			return d, fmt.Errorf("dial rule %d: negative Timeout %d", i+1, r.Timeout)
		}
		if err := CheckRewrite(r.Rewrite); err != nil {
			return d, fmt.Errorf("dial rule %d: %w", i+1, err)
		}
	}
	if d.Sync == "" {
		d.Sync = "1"
	}
	d.MediaStart, d.MediaStop = orDefault(s.MediaStart, 16384), orDefault(s.MediaStop, 32766)
	if d.MediaStart < 1 || d.MediaStop > 65535 || d.MediaStart >= d.MediaStop {
		return d, fmt.Errorf("media ports %d-%d: want a range of ports from 1 to 65535", d.MediaStart, d.MediaStop)
	}
	if utf8.RuneCountInString(d.Sync) > maxSync {
		return d, fmt.Errorf("sync value is %d characters; phones take at most %d", utf8.RuneCountInString(d.Sync), maxSync)
	}
	if s.SIPProxy.Host != "" {
		d.SIPProxy = Member{Host: s.SIPProxy.Host, SIPPort: orDefault(s.SIPProxy.Port, portSIP)}
		if err := checkNodeName("SIP proxy", s.SIPProxy.Host); err != nil {
			return d, err
		}
	}
	for i, cm := range s.CallManagers {
		if i == maxCallManagers {
			break
		}
		if cm.Host == "" {
			return d, fmt.Errorf("call manager %d: empty host", i+1)
		}
		if err := checkNodeName("call manager", cm.Host); err != nil {
			return d, err
		}
		d.CallManagers = append(d.CallManagers, Member{Priority: i, Host: cm.Host, SCCPPort: orDefault(cm.Port, portSCCP)})
	}
	// Without call managers, name the SIP proxy: phones need a
	// <callManagerGroup> member to register anywhere, and send SIP
	// REGISTER to it (§2.2, [S23]).
	if len(d.CallManagers) == 0 && d.SIPProxy.Host != "" {
		m := d.SIPProxy
		m.SCCPPort = portSCCP
		d.CallManagers = []Member{m}
	}
	return d, nil
}

func orDefault(port, def int) int {
	if port == 0 {
		return def
	}
	return port
}

func checkNodeName(what, host string) error {
	if n := utf8.RuneCountInString(host); n > maxNodeName {
		return fmt.Errorf("%s %q: processNodeName is limited to %d characters, this is %d", what, host, maxNodeName, n)
	}
	return nil
}

// phoneData fills the site and phone fields and checks what every
// per-phone file needs.
func phoneData(s Site, p Phone, file string) (*Data, error) {
	d, err := siteData(s, file)
	if err != nil {
		return d, err
	}
	d.Phone, d.DeviceName, d.MAC = p, p.MAC.DeviceName(), p.MAC.Hex()
	if d.WinCharSet == "" {
		// [S2]'s 7940/7960 template has iso-8859-1, [S4]'s (for the
		// Java phones) utf-8.
		d.WinCharSet = "utf-8"
		if p.Model.Family == phone.FamilyClassic {
			d.WinCharSet = "iso-8859-1"
		}
	}
	d.Model, d.Load, d.Label = p.Model.Name, p.Load, p.Label
	d.Protocol = strings.ToUpper(p.Protocol)
	if d.Protocol != "SCCP" && d.Protocol != "SIP" {
		return d, fmt.Errorf("protocol %q: want SCCP or SIP", p.Protocol)
	}
	if m := p.Model; m.Name != "" {
		if m.Family == phone.FamilyKEM {
			return d, fmt.Errorf("%s is a key expansion module, not a phone", m.Name)
		}
		if !slices.Contains(m.Protocols, d.Protocol) {
			return d, fmt.Errorf("model %s does not run %s (it runs %s)", m.Name, d.Protocol, strings.Join(m.Protocols, ", "))
		}
	}
	set, inInventory := s.Phones[p.MAC]
	d.Blank = inInventory
	buttons := p.Model.LineKeys
	next := p.Model.LineKeys + 1
	for i, k := range set.KEMs {
		switch {
		case k.Family != phone.FamilyKEM:
			return d, fmt.Errorf("module %d: %s is not a key expansion module", i+1, k.Name)
		case p.Model.Name == "" || p.Model.LineKeys == 0:
			return d, fmt.Errorf("key expansion modules need the phone's model and its line buttons")
		case p.Model.Family == phone.FamilyClassic && d.Protocol == "SIP":
			return d, fmt.Errorf("a %s on SIP has lines 1 to 6 only (§3.2): no key expansion module", p.Model.Name)
		}
		buttons += k.LineKeys
		d.AddOns = append(d.AddOns, AddOn{Idx: i + 1, Type: k.Name, Lines: k.LineKeys, Load: s.KEMLoads[k.Name], First: next, Last: next + k.LineKeys - 1})
		next += k.LineKeys
	}
	if m := p.Model; m.LineKeys > 0 && len(p.Lines) > buttons {
		if len(set.KEMs) > 0 {
			return d, fmt.Errorf("model %s with %d expansion modules has %d line buttons, %d lines given", m.Name, len(set.KEMs), buttons, len(p.Lines))
		}
		return d, fmt.Errorf("model %s has %d line buttons, %d lines given", m.Name, m.LineKeys, len(p.Lines))
	}
	for i, l := range p.Lines {
		if l.Extension == "" {
			return d, fmt.Errorf("line %d: empty extension", i+1)
		}
		ld := LineData{Button: i + 1, Extension: l.Extension, Name: l.Name, Label: l.Name, AuthName: l.AuthUser, Password: l.Password}
		if ld.Label == "" {
			ld.Label = l.Extension
		}
		ld.DisplayName = ld.Label
		if ld.AuthName == "" {
			ld.AuthName = l.Extension
		}
		d.Lines = append(d.Lines, ld)
	}
	d.Transport = strings.ToUpper(set.SIPTransport)
	if d.Transport == "" {
		d.Transport = strings.ToUpper(s.SIPTransport)
	}
	switch d.Transport {
	case "", "TCP":
		d.Transport, d.TransportCode = "TCP", 1
	case "UDP":
		d.TransportCode = 2
	default:
		return d, fmt.Errorf("SIP transport %q: want TCP or UDP", d.Transport)
	}
	return d, nil
}

// deviceData picks the form of SEP<MAC>.cnf.xml.
func deviceData(s Site, p Phone) (*Data, error) {
	d, err := phoneData(s, p, p.MAC.DeviceName()+".cnf.xml")
	if err != nil {
		return d, err
	}
	switch {
	case p.Model.Family == phone.FamilyClassic && d.Protocol == "SIP":
		d.Form = "ual-stub"
	case p.Model.Family == phone.FamilyJava && d.Protocol == "SIP":
		d.Form = "java-sip"
		if d.SIPProxy.Host == "" {
			return d, fmt.Errorf("%s on SIP needs a SIP proxy", p.Model.Name)
		}
		// The proxy is the only member: line <proxy>USECALLMANAGER
		// means "register with the callManagerGroup member" (§2.1).
		d.CallManagers = []Member{d.SIPProxy}
	default:
		d.Form = "xml"
		if d.Protocol == "SIP" {
			// A SIP device registers over SIP whatever its model: its
			// members are the SIP proxy on sipPort, never the SCCP call
			// managers on ethernetPhonePort (§2.1: "SCCP uses
			// ethernetPhonePort, SIP uses sipPort"). This is the phone
			// whose model is not known yet, on a SIP site.
			d.CallManagers = sipMembers(d)
		}
	}
	return d, nil
}

// sipMembers are the <callManagerGroup> members of a SIP device: the SIP
// proxy on sipPort; without one, the call managers' hosts on the SIP port
// (inference: on a site without sip_proxy they are the only servers
// phoneboot knows; §2.1 has SIP members on sipPort 5060).
func sipMembers(d *Data) []Member {
	if d.SIPProxy.Host != "" {
		return []Member{d.SIPProxy}
	}
	var out []Member
	for _, cm := range d.CallManagers {
		out = append(out, Member{Priority: cm.Priority, Host: cm.Host, SIPPort: portSIP})
	}
	return out
}

// defaultData fills XMLDefault.cnf.xml's load lines: one per type code
// of each model, sorted by code (§2.2.1).
func defaultData(s Site, loads map[string]string) (*Data, error) {
	d, err := siteData(s, "XMLDefault.cnf.xml")
	if err != nil {
		return d, err
	}
	byCode := map[int]LoadInfo{}
	for name, load := range loads {
		m, ok := phone.ModelByName(name)
		if !ok {
			return d, fmt.Errorf("loads: unknown model %q", name)
		}
		// §2.2.1: chan-sccp's sample names an SCCP11 (Java) load for
		// the 7910, whose loads are P004…; never repeat that.
		if m.Name == "7910" && isJavaLoad(load) {
			return d, fmt.Errorf("loads: %s is a 79x1 load, not one for the 7910", load)
		}
		for _, code := range m.TypeCodes {
			li := LoadInfo{Code: code, Model: "Cisco " + m.Name, Load: load}
			if old, dup := byCode[code]; dup && old != li {
				return d, fmt.Errorf("loads: model %s given twice, as %q and %q", m.Name, old.Load, load)
			}
			byCode[code] = li
		}
	}
	for _, li := range byCode {
		d.LoadInfos = append(d.LoadInfos, li)
	}
	slices.SortFunc(d.LoadInfos, func(a, b LoadInfo) int { return a.Code - b.Code })
	return d, nil
}

func isJavaLoad(load string) bool {
	u := strings.ToUpper(load)
	for _, p := range []string{"SCCP", "SIP", "TERM"} {
		if rest, ok := strings.CutPrefix(u, p); ok && len(rest) >= 2 && rest[0] >= '0' && rest[0] <= '9' {
			return true
		}
	}
	return false
}

// CheckRewrite checks a dial rule's rewrite against the dial template's
// syntax (usecallmanager.nz dial-template.html, [S4]): digits replace
// with themselves, each "." with the digit the corresponding "." of the
// pattern matched, %0 is the whole match, %1 to %5 the groups of digits
// matched, %% a literal % and %. a literal ".". "*", "#" and "+" are
// taken as dialled characters (inference: [S4] lists only digits, but
// "*" and "#" are keys the pattern matches and "+" a digit of E.164).
// Anything else, %s above all, is an error: the phone would dial it
// literally or not at all.
func CheckRewrite(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '.', c == '*', c == '#', c == '+':
		case c == '%':
			if i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '5' || s[i+1] == '%' || s[i+1] == '.') {
				i++
				continue
			}
			tok := "%"
			if i+1 < len(s) {
				tok = s[i : i+2]
			}
			return fmt.Errorf("rewrite %q: %q is not a dial-template token; use %%0 for the whole number dialled, %%1 to %%5 for its groups of digits, %%%% for a %%", s, tok)
		default:
			return fmt.Errorf("rewrite %q: %q is neither a digit, ., *, #, + nor a %%0…%%5 token", s, string(c))
		}
	}
	return nil
}

// CheckSIPValue refuses a value that cannot be written into a
// 7940/7960 SIP text config (see sipSafe), for the config's checks.
func CheckSIPValue(s string) error { return sipSafe(s) }

// sipSafe refuses what would break a `name: "value"` line (§3.1): a quote
// ends the value, CR/LF end the line, NUL ends the phone's string.
func sipSafe(s string) error {
	for _, c := range []struct{ ch, name string }{{`"`, "a double quote"}, {"\r", "a CR"}, {"\n", "a line feed"}, {"\x00", "a NUL"}} {
		if strings.Contains(s, c.ch) {
			return fmt.Errorf("contains %s, which would break the line syntax", c.name)
		}
	}
	return nil
}

type sipField struct{ key, value string }

// checkSIP checks every value a SIP text file is made from, naming the
// key in the error but never the value (it may be a password).
func checkSIP(fields []sipField) error {
	for _, f := range fields {
		if err := sipSafe(f.value); err != nil {
			return fmt.Errorf("%s %w", f.key, err)
		}
	}
	return nil
}

func checkSIPDefault(d *Data) error {
	f := []sipField{
		{"image_version", d.ImageVersion}, {"proxy1_address", d.SIPProxy.Host},
		{"time_zone", d.TimeZone.SIP}, {"sync", d.Sync},
	}
	for _, n := range d.NTPServers {
		f = append(f, sipField{"sntp_server", n})
	}
	return checkSIP(f)
}

func checkSIPPhone(d *Data) error {
	if n := utf8.RuneCountInString(d.Label); n > maxLabel {
		return fmt.Errorf("phone_label is %d characters; the 7940/7960 take at most %d", n, maxLabel)
	}
	f := []sipField{{"image_version", d.ImageVersion}, {"phone_label", d.Label}, {"proxy1_address", d.SIPProxy.Host}}
	for _, l := range d.Lines {
		k := fmt.Sprintf("line%d_", l.Button)
		f = append(f, sipField{k + "name", l.Extension}, sipField{k + "shortname", l.Label},
			sipField{k + "displayname", l.DisplayName}, sipField{k + "authname", l.AuthName},
			sipField{k + "password", l.Password})
	}
	return checkSIP(f)
}

// Ring list limits of Ringlist.xml (usecallmanager.nz ring-tones.html,
// [S4]): "A maximum of 50 <Ring> entries", DisplayName and FileName "must
// not be longer than 25 characters". RINGLIST.DAT is written from the same
// list, so they hold for it too (its own limits are not known).
const (
	MaxRings       = 50
	MaxRingName    = 25
	MaxRingFile    = 25
	ringFileSuffix = ".raw"
)

// checkRings refuses what Ringlist.xml does not take and entries that
// would break RINGLIST.DAT's "name<TAB>file" lines (§3.4).
func checkRings(rings []Ring) error {
	if len(rings) > MaxRings {
		return fmt.Errorf("%d rings; phones take at most %d", len(rings), MaxRings)
	}
	for i, r := range rings {
		if err := CheckRing(r); err != nil {
			return fmt.Errorf("ring %d: %w", i+1, err)
		}
	}
	return nil
}

// CheckRing checks one ring list entry, for render and the config's
// checks.
func CheckRing(r Ring) error {
	switch {
	case r.Name == "" || r.File == "":
		return errors.New("name and file are both needed")
	case strings.ContainsAny(r.Name, "\t\r\n\x00"):
		return errors.New("name contains a tab, line break or NUL")
	case strings.ContainsAny(r.File, " \t\r\n\x00/\\"):
		return fmt.Errorf("file name %q contains white space, a slash or NUL", r.File)
	case utf8.RuneCountInString(r.Name) > MaxRingName:
		return fmt.Errorf("name %q is %d characters; phones show at most %d", r.Name, utf8.RuneCountInString(r.Name), MaxRingName)
	case utf8.RuneCountInString(r.File) > MaxRingFile:
		return fmt.Errorf("file name %q is %d characters; phones take at most %d", r.File, utf8.RuneCountInString(r.File), MaxRingFile)
	case !strings.HasSuffix(strings.ToLower(r.File), ringFileSuffix):
		return fmt.Errorf("file %q is not a .raw file (8 kHz u-law, what 79xx phones play)", r.File)
	}
	return nil
}

func xmlEscapeTo(w io.Writer, s string) error { return xml.EscapeText(w, []byte(s)) }
