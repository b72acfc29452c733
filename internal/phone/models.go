package phone

import (
	"strings"
)

// Family groups models that boot, name their loads and take configs alike.
type Family int

// Families.
const (
	// FamilyClassic: 7940/7960. OS79XX.TXT on old loads, P003…/P0S3… loads,
	// SIP text configs (SIPDefault.cnf, SIP<MAC>.cnf) or SCCP XML.
	FamilyClassic Family = iota + 1
	// FamilyJava: 79x1/79x2/79x5/797x/7911/7906/7931. SCCPnn/SIPnn loads of
	// .sbn components, termNN.default.loads after a factory reset, XML
	// configs only, HTTP on 6970 before TFTP on newer loads.
	FamilyJava
	// FamilyEntry: 7902/7905/7912. Binary profiles ff/ld/gk<mac>.
	FamilyEntry
	// FamilyOther: conference, wireless and older desk phones.
	FamilyOther
	// FamilyKEM: key expansion modules, loaded through their phone.
	FamilyKEM
)

func (f Family) String() string {
	switch f {
	case FamilyClassic:
		return "classic (7940/7960)"
	case FamilyJava:
		return "Java (79x1 and later)"
	case FamilyEntry:
		return "entry (7902/7905/7912)"
	case FamilyOther:
		return "other"
	case FamilyKEM:
		return "key expansion module"
	}
	return "unknown"
}

// Model is one phone model as phoneboot knows it (cisco-79xx.md §1.3-§1.4,
// §2.2.1, §4.3, §5, §7).
type Model struct {
	Name       string // "7960"
	Marketing  string // "Cisco IP Phone 7960G"
	Family     Family
	TypeCodes  []int    // the NNN of loadInformationNNN in XMLDefault.cnf.xml
	Protocols  []string // protocols it can run: SCCP, SIP
	LineKeys   int      // line/feature buttons (0: unknown or none)
	LoadPrefix string   // Java phones: NN of SCCPNN/SIPNN loads ("41"); empty otherwise
	// TermFile is the load list fetched after a factory reset (Java
	// phones), "" when the model has none.
	TermFile string
	// VendorClasses are DHCP option 60 strings, without the trailing NUL
	// most models send (match with it tolerated).
	VendorClasses []string
	// Reset is the factory-reset key sequence, empty when not known.
	Reset string
}

const (
	vcPrefix = "Cisco Systems, Inc. IP Phone "
	// resetClassic is the 7940/7960 sequence (§7).
	resetClassic = "Power up holding #; release when the Headset, Mute and Speaker buttons flash in turn; within 60 s press 123456789*0#; answer 2 to 'Keep network cfg?' to erase it too."
	// resetJava is the 79x1/79x2/79x5/797x sequence (§7); the phone then
	// fetches termNN.default.loads from the TFTP server DHCP names.
	resetJava = "Power up holding # (it can take minutes) until the line buttons flash in turn; release and press 123456789*0#. The phone then loads termNN.default.loads from the TFTP server that DHCP option 150 names (a manually set TFTP server is not used)."
	// reset7911 is the 7911G's variant (§7 [S24]).
	reset7911 = "Power up holding # (before the Applications button flashes) until the handset's message light flashes red; release and press 123456789*0#. The phone then loads termNN.default.loads from the TFTP server that DHCP option 150 names (a manually set TFTP server is not used)."
)

// Models is the catalog. Where the reference marks a fact uncertain, the
// field is left empty rather than guessed.
var Models = []Model{
	{Name: "7940", Marketing: "Cisco IP Phone 7940G", Family: FamilyClassic, TypeCodes: []int{8}, Protocols: []string{"SCCP", "SIP"}, LineKeys: 2,
		VendorClasses: []string{vcPrefix + "CP-7940G", vcPrefix + "CP-7940"}, Reset: resetClassic},
	{Name: "7960", Marketing: "Cisco IP Phone 7960G", Family: FamilyClassic, TypeCodes: []int{7}, Protocols: []string{"SCCP", "SIP"}, LineKeys: 6,
		VendorClasses: []string{vcPrefix + "CP-7960G", vcPrefix + "CP-7960"}, Reset: resetClassic},
	java("7941", 115, 2, "41", "term41.default.loads", "CP-7941G"),
	java("7941G-GE", 309, 2, "41", "term41.default.loads", "CP-7941G-GE"),
	java("7961", 30018, 6, "41", "term61.default.loads", "CP-7961G"),
	java("7961G-GE", 308, 6, "41", "term61.default.loads", "CP-7961G-GE"),
	java("7942", 434, 2, "42", "term42.default.loads", "CP-7942G"),
	java("7962", 404, 6, "42", "term62.default.loads", "CP-7962G"),
	java("7945", 435, 2, "45", "term45.default.loads", "CP-7945G"),
	java("7965", 436, 6, "45", "term65.default.loads", "CP-7965G"),
	java("7970", 30006, 8, "70", "term70.default.loads", "CP-7970G"),
	java("7971", 119, 8, "70", "term71.default.loads", "CP-7971G-GE"),
	java("7975", 437, 8, "75", "term75.default.loads", "CP-7975G"),
	withReset(java("7911", 307, 1, "11", "term11.default.loads", "CP-7911G"), reset7911),
	java("7906", 369, 1, "11", "term06.default.loads", "CP-7906G"),
	java("7931", 348, 24, "31", "term31.default.loads", "CP-7931G"),
	{Name: "7902", Marketing: "Cisco IP Phone 7902G", Family: FamilyEntry, TypeCodes: []int{30008}, Protocols: []string{"SCCP"}, LineKeys: 1,
		VendorClasses: []string{vcPrefix + "CP-7902G"}},
	{Name: "7905", Marketing: "Cisco IP Phone 7905G", Family: FamilyEntry, TypeCodes: []int{20000}, Protocols: []string{"SCCP", "SIP"}, LineKeys: 1,
		VendorClasses: []string{vcPrefix + "7905"}},
	{Name: "7912", Marketing: "Cisco IP Phone 7912G", Family: FamilyEntry, TypeCodes: []int{30007}, Protocols: []string{"SCCP", "SIP"}, LineKeys: 1,
		VendorClasses: []string{vcPrefix + "7912"}},
	{Name: "7910", Marketing: "Cisco IP Phone 7910", Family: FamilyOther, TypeCodes: []int{6}, Protocols: []string{"SCCP"}, LineKeys: 1},
	{Name: "7935", Marketing: "Cisco IP Conference Station 7935", Family: FamilyOther, TypeCodes: []int{9}, Protocols: []string{"SCCP"}},
	{Name: "7936", Marketing: "Cisco IP Conference Station 7936", Family: FamilyOther, TypeCodes: []int{30019}, Protocols: []string{"SCCP"}},
	{Name: "7937", Marketing: "Cisco Unified IP Conference Station 7937G", Family: FamilyOther, TypeCodes: []int{431}, Protocols: []string{"SCCP"},
		VendorClasses: []string{"CP-7937G"}},
	{Name: "7920", Marketing: "Cisco Wireless IP Phone 7920", Family: FamilyOther, TypeCodes: []int{30002}, Protocols: []string{"SCCP"},
		VendorClasses: []string{vcPrefix + "7920"}},
	{Name: "7921", Marketing: "Cisco Unified Wireless IP Phone 7921G", Family: FamilyOther, TypeCodes: []int{365}, Protocols: []string{"SCCP"},
		VendorClasses: []string{"Cisco Systems Inc. Wireless Phone 7921"}},
	{Name: "7925", Marketing: "Cisco Unified Wireless IP Phone 7925G", Family: FamilyOther, TypeCodes: []int{484}, Protocols: []string{"SCCP"}},
	{Name: "7926", Marketing: "Cisco Unified Wireless IP Phone 7926G", Family: FamilyOther, TypeCodes: []int{577}, Protocols: []string{"SCCP"}},
	{Name: "7985", Marketing: "Cisco Unified IP Phone 7985G", Family: FamilyOther, TypeCodes: []int{302}, Protocols: []string{"SCCP"}},
	{Name: "7914", Marketing: "Cisco IP Phone Expansion Module 7914", Family: FamilyKEM, TypeCodes: []int{124}, LineKeys: 14},
	{Name: "7915", Marketing: "Cisco Unified IP Phone Expansion Module 7915", Family: FamilyKEM, TypeCodes: []int{227, 228}, LineKeys: 24},
	{Name: "7916", Marketing: "Cisco Unified IP Phone Expansion Module 7916", Family: FamilyKEM, TypeCodes: []int{229, 230}, LineKeys: 24},
}

func java(name string, code, lines int, prefix, term, vc string) Model {
	return Model{
		Name: name, Marketing: "Cisco Unified IP Phone " + name, Family: FamilyJava,
		TypeCodes: []int{code}, Protocols: []string{"SCCP", "SIP"}, LineKeys: lines,
		LoadPrefix: prefix, TermFile: term,
		VendorClasses: []string{vcPrefix + vc}, Reset: resetJava,
	}
}

func withReset(m Model, reset string) Model {
	m.Reset = reset
	return m
}

// ModelByName finds a model by the names people and devices use: "7960",
// "7960G", "CP-7960G", "IP Phone 7960", "7941G-GE"; case does not matter.
func ModelByName(s string) (Model, bool) {
	k := strings.ToUpper(strings.TrimSpace(s))
	for _, p := range []string{"CISCO ", "UNIFIED ", "IP PHONE ", "CP-"} {
		k = strings.TrimPrefix(k, p)
	}
	// Exact first, so that 7941G-GE is not taken for 7941.
	for _, name := range []string{k, strings.TrimSuffix(k, "G"), strings.TrimSuffix(k, "G-GE")} {
		for _, m := range Models {
			if name == strings.ToUpper(m.Name) {
				return m, true
			}
		}
	}
	return Model{}, false
}

// ModelByTypeCode finds the model of a loadInformationNNN code.
func ModelByTypeCode(code int) (Model, bool) {
	for _, m := range Models {
		for _, c := range m.TypeCodes {
			if c == code {
				return m, true
			}
		}
	}
	return Model{}, false
}

// ModelByVendorClass finds the model from a DHCP option 60 string, with
// or without its trailing NUL (§5: always tolerate it). The 7937 is known
// only by the end of its string, "CP-7937G".
func ModelByVendorClass(vc string) (Model, bool) {
	vc = strings.TrimRight(vc, "\x00")
	for _, m := range Models {
		for _, c := range m.VendorClasses {
			if vc == c || (strings.HasPrefix(c, "CP-") && strings.HasSuffix(vc, c)) {
				return m, true
			}
		}
	}
	return Model{}, false
}

// ModelByTerm finds the Java model whose factory-reset load list is
// termNN.default.loads.
func ModelByTerm(nn string) (Model, bool) {
	for _, m := range Models {
		if m.TermFile == "term"+nn+".default.loads" {
			return m, true
		}
	}
	return Model{}, false
}
