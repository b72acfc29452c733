package phone

import (
	"strings"
)

// Kind is what a file a phone asks for is (cisco-79xx.md §1).
type Kind int

// Kinds of requested files.
const (
	KindOther         Kind = iota // nothing phone-specific we know of
	KindCTL                       // CTLSEP<MAC>.tlv: certificate trust list
	KindITL                       // ITLSEP<MAC>.tlv: identity trust list
	KindTrustFile                 // CTLFile.tlv, ITLFile.tlv: cluster-wide lists
	KindDeviceConfig              // SEP<MAC>.cnf.xml (.sgn, .enc.sgn)
	KindDefaultConfig             // XMLDefault.cnf.xml
	KindLegacyConfig              // SEP<MAC>.cnf, SEPDefault.cnf (pre-XML SCCP)
	KindSIPConfig                 // SIP<MAC>.cnf (7940/7960 SIP)
	KindSIPDefault                // SIPDefault.cnf
	KindOSImage                   // OS79XX.TXT (79XX.TXT): image to boot on old loads
	KindRingList                  // RINGLIST.DAT, Ringlist.xml, DISTINCTIVERINGLIST.XML
	KindDialPlan                  // dialplan.xml
	KindSyncInfo                  // syncinfo.xml
	KindLoadList                  // <LoadID>.loads
	KindTermDefault               // termNN.default.loads: load after factory reset
	KindImage                     // firmware image: .sbn .sb2 .bin .zup .sbin (ParseImage)
	KindProfile                   // ff<MAC>, ld<MAC>, gk<MAC> (7902/7905/7912) and *default.cfg
	KindLocale                    // <locale directory>/<file>
	KindRingTone                  // *.raw
	KindDesktop                   // Desktops/<WxHxD>/...: backgrounds
)

var kindNames = [...]string{
	KindOther: "other", KindCTL: "CTL", KindITL: "ITL", KindTrustFile: "trust list",
	KindDeviceConfig: "device config", KindDefaultConfig: "default config",
	KindLegacyConfig: "legacy config", KindSIPConfig: "SIP config", KindSIPDefault: "SIP default config",
	KindOSImage: "OS79XX.TXT", KindRingList: "ring list", KindDialPlan: "dial plan",
	KindSyncInfo: "sync info", KindLoadList: "load list", KindTermDefault: "factory-reset load list",
	KindImage: "firmware image", KindProfile: "profile", KindLocale: "locale file",
	KindRingTone: "ring tone", KindDesktop: "background",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Name is a parsed request name.
type Name struct {
	Kind Kind
	// MAC is the phone the name belongs to, when it names one (HasMAC).
	MAC    MAC
	HasMAC bool
	// Signed and Encrypted mark .sgn and .enc.sgn variants of configs.
	Signed, Encrypted bool
	// Load is the load ID of a .loads file or firmware image, the name
	// without its extension, as spelled in the request.
	Load string
	// Model is the model number of termNN.default.loads ("61" for 7961).
	Model string
	// Locale is the locale directory of a locale file ("German_Germany").
	Locale string
	// OldSIP marks 79XX.TXT, the OS79XX.TXT of SIP images older than 4.4
	// (seed page comment).
	OldSIP bool
}

// ParseName says what a requested file is and which phone it names. It
// takes the name as the TFTP server cleaned it (no leading "/" or "./",
// '/' as separator); case does not matter, as it does not to phones.
func ParseName(name string) Name {
	name = strings.TrimPrefix(name, "./")
	lower := strings.ToLower(name)
	if dir, file, ok := strings.Cut(name, "/"); ok {
		if strings.EqualFold(dir, "Desktops") {
			return Name{Kind: KindDesktop}
		}
		if !strings.Contains(file, "/") && dir != "" {
			return Name{Kind: KindLocale, Locale: dir}
		}
		return Name{Kind: KindOther}
	}
	switch lower {
	case "xmldefault.cnf.xml":
		return Name{Kind: KindDefaultConfig}
	case "sepdefault.cnf":
		return Name{Kind: KindLegacyConfig}
	case "sipdefault.cnf":
		return Name{Kind: KindSIPDefault}
	case "os79xx.txt":
		return Name{Kind: KindOSImage}
	case "79xx.txt":
		return Name{Kind: KindOSImage, OldSIP: true}
	case "ringlist.dat", "ringlist.xml", "distinctiveringlist.xml":
		return Name{Kind: KindRingList}
	case "dialplan.xml":
		return Name{Kind: KindDialPlan}
	case "syncinfo.xml":
		return Name{Kind: KindSyncInfo}
	case "ctlfile.tlv", "itlfile.tlv":
		return Name{Kind: KindTrustFile}
	case "ffdefault.cfg", "lddefault.cfg", "gkdefault.cfg":
		return Name{Kind: KindProfile}
	}
	if n, ok := macName(name, lower); ok {
		return n
	}
	if model, ok := strings.CutPrefix(lower, "term"); ok {
		if m, ok := strings.CutSuffix(model, ".default.loads"); ok && len(m) == 2 && isDigits(m) {
			return Name{Kind: KindTermDefault, Model: m}
		}
	}
	if id, ok := cutSuffixFold(name, ".loads"); ok && id != "" {
		return Name{Kind: KindLoadList, Load: id}
	}
	if im, ok := ParseImage(name); ok {
		return Name{Kind: KindImage, Load: im.Stem}
	}
	if strings.HasSuffix(lower, ".raw") {
		return Name{Kind: KindRingTone}
	}
	return Name{Kind: KindOther}
}

// macName parses the names that embed a MAC address.
func macName(name, lower string) (Name, bool) {
	type form struct {
		prefix, suffix string
		kind           Kind
	}
	forms := []form{
		{"ctlsep", ".tlv", KindCTL},
		{"itlsep", ".tlv", KindITL},
		{"sep", ".cnf.xml.enc.sgn", KindDeviceConfig},
		{"sep", ".cnf.xml.sgn", KindDeviceConfig},
		{"sep", ".cnf.xml", KindDeviceConfig},
		{"sep", ".cnf", KindLegacyConfig},
		{"sip", ".cnf", KindSIPConfig},
		{"ff", "", KindProfile},
		{"ld", "", KindProfile},
		{"gk", "", KindProfile},
	}
	for _, f := range forms {
		if !strings.HasPrefix(lower, f.prefix) || !strings.HasSuffix(lower, f.suffix) {
			continue
		}
		middle := name[len(f.prefix) : len(name)-len(f.suffix)]
		m, err := macFrom(middle)
		if err != nil {
			continue
		}
		n := Name{Kind: f.kind, MAC: m, HasMAC: true}
		n.Signed = strings.HasSuffix(f.suffix, ".sgn")
		n.Encrypted = strings.HasSuffix(f.suffix, ".enc.sgn")
		return n, true
	}
	return Name{}, false
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
