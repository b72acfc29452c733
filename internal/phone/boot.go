package phone

// Boot is what a phone's boot showed of its load when nobody said which
// load it runs (cisco-79xx.md §1.2, §1.3): what upgrade planning may
// assume about it.
type Boot int

// What a boot can show.
const (
	// BootUnseen: nothing yet (a phone known only from the inventory or a
	// DHCP lease).
	BootUnseen Boot = iota
	// BootOS79XX: a 7940/7960 that began its boot with OS79XX.TXT runs a
	// load older than the Universal Application Loader: SIP below 7.x or
	// SCCP below 6.x (§1.2 [S12][S14], inference).
	BootOS79XX
	// Boot79XX: a 7940/7960 that asked for 79XX.TXT runs SIP older than
	// 4.4 (the seed page's comment: "really old SIP firmware were
	// requesting 79XX.TXT"; the version bound is an inference).
	Boot79XX
	// BootUAL: a 7940/7960 that began with CTLSEP<MAC>.tlv runs a load with
	// the Universal Application Loader: SIP 7.x or later, SCCP 6.x or later
	// (§1.2, §1.2.1).
	BootUAL
	// BootJava: a 79x1/79x2/79x5/797x: any of its loads (§1.3).
	BootJava
)

func (b Boot) String() string {
	switch b {
	case BootOS79XX:
		return "a 7940/7960 load older than the Universal Application Loader (it asks for OS79XX.TXT)"
	case Boot79XX:
		return "a SIP load older than 4.4 (it asks for 79XX.TXT)"
	case BootUAL:
		return "a 7940/7960 load with the Universal Application Loader (it asks for its CTL file first)"
	case BootJava:
		return "a load of its model"
	}
	return "a load its boot has not shown"
}
