package phone

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// LoadID is a parsed firmware load name (cisco-79xx.md §4.1).
//
// Classic (7940/7960) names put the protocol in the third character:
// P003… SCCP, P0S3… SIP, P0M3… MGCP. SCCP spells the version as pairs of
// digits (P00308010200 = 8.1(2), P0030801SR02 = 8.1(2)SR2); SIP and MGCP
// with dashes and inconsistent zero padding (P0S3-08-11-00, P0S3-8-12-00);
// the earliest ones as "8.3" names (P0S3xxyy). P003-… with dashes is the
// Universal Application Loader shipped in SIP packages (§3.3, §4.2), not an
// SCCP load. Java phones (79x1 and later) use SCCPnn./SIPnn./TERMnn.
// followed by a dashed version, an optional service tag and build numbers,
// and a final S for signed (SIP41.9-4-2SR3-1S).
type LoadID struct {
	Raw      string // as given
	Protocol string // "SCCP", "SIP", "MGCP"; "" for loaders and TERM loads
	Family   Family // FamilyClassic, FamilyJava; 0 when not parsed
	Prefix   string // Java: the phone type "41", "42", …; classic: ""
	// Loader marks the P003-… Universal Application Loader of a SIP
	// package, which runs no protocol by itself.
	Loader              bool
	Major, Minor, Maint int
	// Service is a service-release or engineering-special tag: "SR2",
	// "ES4", "" for none.
	Service string
	// Build is what follows the version, as dash-separated numbers
	// without padding: "1" for SIP41.9-4-2SR3-1S, "0-1" for
	// SCCP41.8-0-4ES4-0-1S, "" for none.
	Build string
}

// ParseLoadID parses a load name without its file extension. Case does not
// matter, as it does not to the TFTP server phones fetch it from. ok is
// false for names of neither family (7905 CP…, 7936 cmterm_…, typos).
func ParseLoadID(s string) (LoadID, bool) {
	u := strings.ToUpper(s)
	if len(u) > 64 {
		return LoadID{Raw: s}, false
	}
	var l LoadID
	var ok bool
	if len(u) >= 4 && u[0] == 'P' && u[1] == '0' && u[3] == '3' {
		l, ok = parseClassic(u)
	} else {
		l, ok = parseJava(u)
	}
	if !ok {
		return LoadID{Raw: s}, false
	}
	l.Raw = s
	return l, true
}

func parseClassic(u string) (LoadID, bool) {
	l := LoadID{Family: FamilyClassic}
	switch u[2] {
	case '0':
		l.Protocol = "SCCP"
	case 'S':
		l.Protocol = "SIP"
	case 'M':
		l.Protocol = "MGCP"
	default:
		return l, false
	}
	rest := u[4:]
	var ok1, ok2, ok3 bool
	switch {
	case strings.HasPrefix(rest, "-"):
		// P0S3-8-12-00, P0S3-04-4-00, P003-8-12-00 (loader).
		parts := strings.Split(rest[1:], "-")
		if len(parts) != 3 {
			return l, false
		}
		l.Major, ok1 = number(parts[0], 2)
		l.Minor, ok2 = number(parts[1], 2)
		l.Maint, ok3 = number(parts[2], 2)
		if l.Protocol == "SCCP" {
			// SCCP loads never use dashes; P003-… is the loader that SIP
			// packages carry and OS79XX.TXT names (§3.3).
			l.Protocol, l.Loader = "", true
		}
	case len(rest) == 8 && isDigits(rest):
		// P00308010200: major, minor, maintenance, build.
		l.Major, ok1 = number(rest[0:2], 2)
		l.Minor, ok2 = number(rest[2:4], 2)
		l.Maint, ok3 = number(rest[4:6], 2)
		b, _ := number(rest[6:8], 2)
		l.Build = strconv.Itoa(b)
	case len(rest) == 8 && isLetters(rest[4:6]):
		// P0030801SR02 reads as 8.1(2)SR2 (§4.1): the one number after the
		// tag serves as both maintenance and service-release number.
		l.Major, ok1 = number(rest[0:2], 2)
		l.Minor, ok2 = number(rest[2:4], 2)
		l.Maint, ok3 = number(rest[6:8], 2)
		l.Service = rest[4:6] + strconv.Itoa(l.Maint)
	case len(rest) == 4:
		// Early "8.3" names, P0S3xxyy (§4.1).
		l.Major, ok1 = number(rest[0:2], 2)
		l.Minor, ok2 = number(rest[2:4], 2)
		ok3 = true
	}
	return l, ok1 && ok2 && ok3
}

func parseJava(u string) (LoadID, bool) {
	l := LoadID{Family: FamilyJava}
	head, version, ok := strings.Cut(u, ".")
	if !ok || len(head) < 3 {
		return l, false
	}
	proto, prefix := head[:len(head)-2], head[len(head)-2:]
	switch proto {
	case "SCCP", "SIP":
		l.Protocol = proto
	case "TERM":
	default:
		return l, false
	}
	if !isDigits(prefix) {
		return l, false
	}
	l.Prefix = prefix
	// The final S marks a signed load; it is not part of the version.
	version = strings.TrimSuffix(version, "S")
	parts := strings.Split(version, "-")
	if len(parts) < 3 || len(parts) > 6 {
		return l, false
	}
	var ok1, ok2, ok3 bool
	l.Major, ok1 = number(parts[0], 3)
	l.Minor, ok2 = number(parts[1], 3)
	// The third part may carry the tag: 2SR3, 4ES4.
	maint := parts[2]
	i := 0
	for i < len(maint) && isDigits(maint[i:i+1]) {
		i++
	}
	l.Maint, ok3 = number(maint[:i], 3)
	if tag := maint[i:]; tag != "" {
		j := 0
		for j < len(tag) && isLetters(tag[j:j+1]) {
			j++
		}
		n, ok := number(tag[j:], 3)
		if j == 0 || !ok {
			return l, false
		}
		l.Service = tag[:j] + strconv.Itoa(n)
	}
	var build []string
	for _, p := range parts[3:] {
		n, ok := number(p, 3)
		if !ok {
			return l, false
		}
		build = append(build, strconv.Itoa(n))
	}
	l.Build = strings.Join(build, "-")
	return l, ok1 && ok2 && ok3
}

// number parses 1 to max decimal digits.
func number(s string, max int) (int, bool) {
	if len(s) == 0 || len(s) > max || !isDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

// Less orders loads by version: major, minor, maintenance, then a release
// without service tag before one with (a service release comes after its
// base), then the build numbers. Protocol and family are not compared, so
// SIP 8.12 and SCCP 8.12 are equal. How ES and SR tags of one release
// order is not documented; they sort by tag, then number, so that sorting
// is at least deterministic.
func (l LoadID) Less(o LoadID) bool { return l.compare(o) < 0 }

func (l LoadID) compare(o LoadID) int {
	if c := cmp.Compare(l.Major, o.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(l.Minor, o.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(l.Maint, o.Maint); c != 0 {
		return c
	}
	if c := compareService(l.Service, o.Service); c != 0 {
		return c
	}
	return compareNumbers(l.Build, o.Build)
}

func compareService(a, b string) int {
	if a == "" || b == "" {
		return cmp.Compare(len(a), len(b)) // "" first
	}
	at, an := splitTag(a)
	bt, bn := splitTag(b)
	if c := cmp.Compare(at, bt); c != 0 {
		return c
	}
	return cmp.Compare(an, bn)
}

// splitTag splits "SR3" into "SR" and 3.
func splitTag(s string) (string, int) {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return s, 0
	}
	n, _ := strconv.Atoi(s[i:])
	return s[:i], n
}

// compareNumbers compares dash-separated numbers piecewise; a shorter list
// that is a prefix of a longer one comes first.
func compareNumbers(a, b string) int {
	as, bs := strings.Split(a, "-"), strings.Split(b, "-")
	if a == "" {
		as = nil
	}
	if b == "" {
		bs = nil
	}
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

// String is the version as people write it: "SIP 8.12", "SCCP 8.1(2)SR2",
// "loader 8.12", "SIP41 9.4(2)SR3". An unparsed load is its raw name.
func (l LoadID) String() string {
	switch {
	case l.Family == FamilyJava:
		p := l.Protocol
		if p == "" {
			p = "TERM"
		}
		return fmt.Sprintf("%s%s %d.%d(%d)%s", p, l.Prefix, l.Major, l.Minor, l.Maint, l.Service)
	case l.Family == FamilyClassic && l.Protocol == "SCCP":
		return fmt.Sprintf("SCCP %d.%d(%d)%s", l.Major, l.Minor, l.Maint, l.Service)
	case l.Family == FamilyClassic:
		// SIP and MGCP releases are called 8.12, 7.4: the third number is
		// almost always 00.
		p := l.Protocol
		if l.Loader {
			p = "loader"
		}
		s := fmt.Sprintf("%s %d.%d", p, l.Major, l.Minor)
		if l.Maint != 0 {
			s += "." + strconv.Itoa(l.Maint)
		}
		return s
	}
	return l.Raw
}

// UAL reports whether a classic load boots with the Universal Application
// Loader (SCCP ≥ 6, SIP ≥ 7; §1.2 "Which releases are old") rather than
// OS79XX.TXT. The P003-… loader itself is one. No source says where MGCP
// switched, so MGCP loads report false.
func (l LoadID) UAL() bool {
	if l.Family != FamilyClassic {
		return false
	}
	switch {
	case l.Loader:
		return true
	case l.Protocol == "SCCP":
		return l.Major >= 6
	case l.Protocol == "SIP":
		return l.Major >= 7
	}
	return false
}

// LoadProtocol is the protocol load id runs ("SCCP", "SIP", "MGCP"), ""
// for loaders, TERM loads and names that do not parse.
func LoadProtocol(id string) string {
	l, _ := ParseLoadID(id)
	return l.Protocol
}
