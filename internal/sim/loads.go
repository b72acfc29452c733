package sim

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// The simulator's own readings of firmware names and .loads files. They
// are written from cisco-79xx.md, not shared with the server, so that a
// mistake on either side shows up as a failed boot instead of passing on
// both.

// version is a release number, as far as the rules of §4.4 need it:
// major.minor(maint) and a service tag (SR2, ES4). Build numbers after it
// do not matter to any rule and are not kept.
type version struct {
	major, minor, maint int
	tag                 string // "SR", "ES", "" for none
	tagN                int
}

// compare orders versions: numbers first, then a release without a tag
// before the same release with one (8.5(2) before 8.5(2)SR1, §4.4 [S30]:
// "≥ 8.5(2)SR1" is past 8.5(2)); tags of one release by name and number
// (no source orders SR against ES; any fixed order will do here).
func (v version) compare(o version) int {
	if c := cmp.Compare(v.major, o.major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.minor, o.minor); c != 0 {
		return c
	}
	if c := cmp.Compare(v.maint, o.maint); c != 0 {
		return c
	}
	if (v.tag == "") != (o.tag == "") {
		if v.tag == "" {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(v.tag, o.tag); c != 0 {
		return c
	}
	return cmp.Compare(v.tagN, o.tagN)
}

func (v version) less(o version) bool { return v.compare(o) < 0 }

// at is the version major.minor(maint).
func at(major, minor, maint int) version { return version{major: major, minor: minor, maint: maint} }

func (v version) String() string {
	s := fmt.Sprintf("%d.%d(%d)", v.major, v.minor, v.maint)
	if v.tag != "" {
		s += v.tag + strconv.Itoa(v.tagN)
	}
	return s
}

// kind is what a load name is.
type kind int

const (
	// classicApp: a 7940/7960 protocol image, P003… (SCCP), P0S3… (SIP),
	// P0M3… (MGCP).
	classicApp kind = iota + 1
	// ualLoader: P003-xx-y-zz, the Universal Application Loader of a SIP
	// package, which runs no protocol by itself (§3.3, §4.2).
	ualLoader
	// javaLoad: SCCPnn./SIPnn./TERMnn. (§4.1, §4.3).
	javaLoad
)

// loadName is one reading of a load ID (a name without extension).
type loadName struct {
	name   string
	kind   kind
	proto  string // "SCCP", "SIP", "MGCP"; "" for the loader and TERM loads
	prefix string // Java: the NN of SCCPnn./SIPnn./TERMnn.
	// v is the version; an "8.3" name P0S3xxyy reads as xx.yy (§4.1
	// [S13]: the earliest images).
	v version
}

// readLoad reads a load ID (§4.1 [S13][S10][S12]):
//
//	P0S3-xx-y-zz   SIP, dashed, padding varies (P0S3-08-11-00, P0S3-8-12-00)
//	P0M3-xx-y-zz   MGCP, the same way
//	P003-xx-y-zz   the SIP package's loader (§3.3: OS79XX.TXT names P003-8-12-00)
//	P003xxyyzzww   SCCP xx.yy(zz), ww a build (P00308010200 = 8.1(2))
//	P003xxyySRnn   SCCP xx.yy(nn)SRnn (P0030801SR02 = 8.1(2)SR2, §4.1)
//	P0S3xxyy       SIP xx.yy, an "8.3" name; P003xxyy the same for SCCP
//	SCCPnn.x-y-z…  Java, nn the phone type; SIPnn.…, TERMnn.… alike, the
//	               version x.y(z) with an optional tag (2SR3), build
//	               numbers after, and a final S for signed (SIP41.9-4-2SR3-1S)
//
// Case does not matter to the reading; the phone still compares names
// exactly. ok is false for anything else.
func readLoad(s string) (loadName, bool) {
	l := loadName{name: s}
	u := strings.ToUpper(s)
	if len(u) > 64 {
		return l, false
	}
	if len(u) >= 4 && u[0] == 'P' && u[1] == '0' && u[3] == '3' {
		return readClassic(l, u)
	}
	return readJava(l, u)
}

func readClassic(l loadName, u string) (loadName, bool) {
	l.kind = classicApp
	switch u[2] {
	case '0':
		l.proto = "SCCP"
	case 'S':
		l.proto = "SIP"
	case 'M':
		l.proto = "MGCP"
	default:
		return l, false
	}
	rest := u[4:]
	var nums []int
	switch {
	case strings.HasPrefix(rest, "-"):
		parts := strings.Split(rest[1:], "-")
		if len(parts) != 3 {
			return l, false
		}
		for _, p := range parts {
			n, ok := digits(p, 2)
			if !ok {
				return l, false
			}
			nums = append(nums, n)
		}
		if l.proto == "SCCP" {
			// SCCP loads have no dashes; P003-… is the loader (§3.3, §4.2).
			l.kind, l.proto = ualLoader, ""
		}
	case len(rest) == 8 && allDigits(rest):
		nums = []int{num(rest[0:2]), num(rest[2:4]), num(rest[4:6])}
	case len(rest) == 8 && allDigits(rest[:4]) && allLetters(rest[4:6]) && allDigits(rest[6:]):
		// P0030801SR02 is 8.1(2)SR2: the one number after the tag is
		// both the maintenance release and the service release (§4.1).
		n := num(rest[6:])
		nums = []int{num(rest[0:2]), num(rest[2:4]), n}
		l.v.tag, l.v.tagN = rest[4:6], n
	case len(rest) == 4 && allDigits(rest):
		nums = []int{num(rest[0:2]), num(rest[2:4]), 0}
	default:
		return l, false
	}
	l.v.major, l.v.minor, l.v.maint = nums[0], nums[1], nums[2]
	return l, true
}

func readJava(l loadName, u string) (loadName, bool) {
	l.kind = javaLoad
	head, ver, ok := strings.Cut(u, ".")
	if !ok || len(head) < 3 {
		return l, false
	}
	proto, prefix := head[:len(head)-2], head[len(head)-2:]
	switch proto {
	case "SCCP", "SIP":
		l.proto = proto
	case "TERM":
	default:
		return l, false
	}
	if !allDigits(prefix) {
		return l, false
	}
	l.prefix = prefix
	parts := strings.Split(strings.TrimSuffix(ver, "S"), "-")
	if len(parts) < 3 {
		return l, false
	}
	var ok1, ok2, ok3 bool
	l.v.major, ok1 = digits(parts[0], 3)
	l.v.minor, ok2 = digits(parts[1], 3)
	m := parts[2]
	i := 0
	for i < len(m) && m[i] >= '0' && m[i] <= '9' {
		i++
	}
	l.v.maint, ok3 = digits(m[:i], 3)
	if tag := m[i:]; tag != "" {
		j := 0
		for j < len(tag) && tag[j] >= 'A' && tag[j] <= 'Z' {
			j++
		}
		n, ok := digits(tag[j:], 3)
		if j == 0 || !ok {
			return l, false
		}
		l.v.tag, l.v.tagN = tag[:j], n
	}
	for _, p := range parts[3:] {
		if _, ok := digits(p, 3); !ok {
			return l, false
		}
	}
	return l, ok1 && ok2 && ok3
}

// sipChain reports whether the load is on the 7940/7960 SIP upgrade chain
// of §4.4: a SIP image, or the loader of a SIP package (whose version is
// the package's).
func (l loadName) sipChain() bool {
	return l.kind == ualLoader || (l.kind == classicApp && l.proto == "SIP")
}

// ual reports whether a 7940/7960 load boots with the Universal
// Application Loader, CTLSEP<MAC>.tlv and SEP<MAC>.cnf.xml first, rather
// than with OS79XX.TXT: SIP 7.x and later, SCCP 6.x and later, and the
// loader itself. Inference in §1.2 ("Which releases are old?"), from the
// section headings of Cisco doc 5455 [S14] and CME's 5.x/6.x → 7.x
// upgrade generating the loader [S10]. No source says when MGCP switched:
// MGCP loads are taken as old.
func (l loadName) ual() bool {
	switch {
	case l.kind == ualLoader:
		return true
	case l.kind != classicApp:
		return false
	case l.proto == "SIP":
		return l.v.major >= 7
	case l.proto == "SCCP":
		return l.v.major >= 6
	}
	return false
}

// signed reports whether a 7940/7960 SIP load (or the loader) is a signed
// one: §4.4 [S10] "signed loads start at SIP 5.x, cannot downgrade to
// unsigned afterwards". SCCP and MGCP signing is not in any source and is
// not modelled.
func (l loadName) signed() bool {
	return l.sipChain() && l.v.major >= 5
}

// unsignedSIP reports whether the load is a SIP image from before the
// signed ones (4.x and older, "8.3" names included).
func (l loadName) unsignedSIP() bool {
	return l.kind == classicApp && l.proto == "SIP" && l.v.major < 5
}

// oldRequest is the first file an old (pre-UAL) 7940/7960 load asks for.
// "During the phone bootup, regardless of protocol, the first file
// requested is the OS79XX.TXT file" (§1.2 [S12]). Inference from the seed
// page, "the really old SIP firmware were requesting 79XX.TXT": SIP 2.x
// and 3.x ask for 79XX.TXT instead, and nothing else; 4.x to 6.x ask for
// OS79XX.TXT.
func (l loadName) oldRequest() string {
	if l.kind == classicApp && l.proto == "SIP" && l.v.major <= 3 {
		return "79XX.TXT"
	}
	return "OS79XX.TXT"
}

// loadsBody is what a .loads file says after its signed header (§4.2,
// §4.3).
type loadsBody struct {
	components []string // in the order listed: the order they are fetched
	// release is the load named by a "# SIP41.9-4-2SR3-1S RELEASE load
	// version …" comment (§4.3), "" when there is none. A term file is
	// known by it only (inference: the body of termNN.default.loads is the
	// package's .loads, comment included, §4.3).
	release string
}

// readLoads reads a .loads file: a binary signed header (TLVs, signer,
// signature, the file's own name embedded, §4.2 [S3]) that may hold
// newline bytes, then text lines: component file names, LA_VERSION=…,
// "#" comments and #HARDWARE_COMP_1 (§4.2, §4.3). A line's text starts
// after its last byte that is not printable, so a first component glued
// to the header is still found; the file's own name (….loads) is not a
// component. A file that lists none cannot be a load the phone accepts:
// §1.5 "Auth failure".
func readLoads(data []byte) (loadsBody, error) {
	var b loadsBody
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		for i := len(line) - 1; i >= 0; i-- {
			if c := line[i]; (c < 0x20 && c != '\t' && c != '\r') || c >= 0x7f {
				line = line[i+1:]
				break
			}
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "LA_VERSION="):
		case strings.HasPrefix(line, "#"):
			if b.release == "" {
				for _, w := range strings.Fields(strings.TrimPrefix(line, "#")) {
					if l, ok := readLoad(w); ok && l.kind == javaLoad {
						b.release = w
						break
					}
				}
			}
		case isImage(line) && !seen[line]:
			seen[line] = true
			b.components = append(b.components, line)
		}
	}
	if len(b.components) == 0 {
		return b, fmt.Errorf("no component files listed")
	}
	return b, nil
}

// imageExts are the extensions of firmware images: .bin unsigned, .sbn
// signed (§4.1), .sb2 the 7940/7960 application (§4.2), .zup/.sbin of
// 7905/7912 (§1.4), in any case (.SBN, §1.4).
var imageExts = []string{".sbn", ".sb2", ".bin", ".zup", ".sbin"}

// isImage reports whether s is a plain file name of a firmware image.
func isImage(s string) bool {
	if s == "" || len(s) > 128 || strings.ContainsAny(s, " /\\=") {
		return false
	}
	l := strings.ToLower(s)
	for _, ext := range imageExts {
		if stem, ok := strings.CutSuffix(l, ext); ok && stem != "" {
			return true
		}
	}
	return false
}

// isFirmware reports whether a requested name is firmware rather than a
// config: a .loads file (termNN.default.loads too) or an image.
func isFirmware(name string) bool {
	return strings.HasSuffix(strings.ToLower(name), ".loads") || isImage(name)
}

// splitExt splits an image name into stem and lower-case extension.
func splitExt(name string) (string, string) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name, ""
	}
	return name[:i], strings.ToLower(name[i:])
}

func digits(s string, max int) (int, bool) {
	if s == "" || len(s) > max || !allDigits(s) {
		return 0, false
	}
	return num(s), true
}

func num(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}
