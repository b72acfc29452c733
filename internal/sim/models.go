package sim

import (
	"strings"

	"phoneboot/internal/phone"
)

// family is how a simulated model boots.
type family int

const (
	// classic: 7940/7960. OS79XX.TXT on old loads, the Universal
	// Application Loader on later ones, SIP text configs or SCCP XML
	// (cisco-79xx.md §1.2, §3).
	classic family = iota + 1
	// java: 79x1/79x2/79x5/797x and 7911/7906/7931: XML configs only,
	// trust lists probed on every boot, termNN.default.loads after a
	// factory reset (§1.3, §4.3, §7).
	java
)

// simModel is the simulator's own knowledge of a model. It is kept apart
// from internal/phone on purpose: the server's catalog may be wrong, and
// a simulated phone that read the same table would agree with it.
type simModel struct {
	name   string
	family family
	// typeCode is the NNN of loadInformationNNN that is this model's in a
	// <Default> document (§2.2.1; the seed page's <Default> has
	// loadInformation7 model="IP Phone 7960" and loadInformation8
	// model="IP Phone 7940").
	typeCode int
	// prefix is the NN of a Java model's SCCPnn./SIPnn. loads (§4.3).
	prefix string
	// term is what a Java model fetches after a factory reset,
	// termNN.default.loads with NN "part of the model number" (§1.3 [S24],
	// §4.3 table).
	term string
}

// models are the models the simulator boots. Codes from §2.2.1, prefixes
// and term files from §4.3; 7941G-GE/7961G-GE take the term file of the
// 7941/7961 (§4.3 lists term41/term61 for that row).
var models = []simModel{
	{name: "7940", family: classic, typeCode: 8},
	{name: "7960", family: classic, typeCode: 7},
	{name: "7941", family: java, typeCode: 115, prefix: "41", term: "term41.default.loads"},
	{name: "7941G-GE", family: java, typeCode: 309, prefix: "41", term: "term41.default.loads"},
	{name: "7961", family: java, typeCode: 30018, prefix: "41", term: "term61.default.loads"},
	{name: "7961G-GE", family: java, typeCode: 308, prefix: "41", term: "term61.default.loads"},
	{name: "7942", family: java, typeCode: 434, prefix: "42", term: "term42.default.loads"},
	{name: "7962", family: java, typeCode: 404, prefix: "42", term: "term62.default.loads"},
	{name: "7945", family: java, typeCode: 435, prefix: "45", term: "term45.default.loads"},
	{name: "7965", family: java, typeCode: 436, prefix: "45", term: "term65.default.loads"},
	{name: "7970", family: java, typeCode: 30006, prefix: "70", term: "term70.default.loads"},
	{name: "7971", family: java, typeCode: 119, prefix: "70", term: "term71.default.loads"},
	{name: "7975", family: java, typeCode: 437, prefix: "75", term: "term75.default.loads"},
	{name: "7911", family: java, typeCode: 307, prefix: "11", term: "term11.default.loads"},
	{name: "7906", family: java, typeCode: 369, prefix: "11", term: "term06.default.loads"},
	{name: "7931", family: java, typeCode: 348, prefix: "31", term: "term31.default.loads"},
}

// modelOf finds the simulated model named by m.Name, the only field of m
// the simulator reads.
func modelOf(m phone.Model) (simModel, bool) {
	for _, sm := range models {
		if sm.name == m.Name {
			return sm, true
		}
	}
	return simModel{}, false
}

// fits reports whether a Java load is one for this model: SCCPnn./SIPnn.
// of its load prefix, TERMnn. of its prefix or of its term file's number
// (TERM41.7-0-3-0S, TERM70.default; §4.1, §4.3, §7).
func (m simModel) fits(l loadName) bool {
	if l.prefix == m.prefix {
		return true
	}
	return l.proto == "" && "term"+l.prefix+".default.loads" == m.term
}

// vendorClass is the model's DHCP option 60, with the trailing NUL most
// models send (cisco-79xx.md §5 "Vendor class"): "…CP-7961G", and for
// the gigabit models "…CP-7941G-GE"; the 7971 exists only as a -GE.
func (m simModel) vendorClass() string {
	name := m.name
	switch {
	case m.name == "7971":
		name = "7971G-GE"
	case !strings.Contains(name, "G"):
		name += "G"
	}
	return "Cisco Systems, Inc. IP Phone CP-" + name + "\x00"
}
