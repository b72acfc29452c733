package phone

import (
	"strings"
)

// What a firmware image file is, in one place (cisco-79xx.md §1.4, §4.1-§4.3):
// the request grammar (ParseName), the firmware catalog's import and the
// loads provision may name all ask these questions of a file name.

// imageExts are the extensions of firmware image files: .sbn signed and
// .bin unsigned images (7940/7960 loaders and old images, §4.1-§4.2; the
// Java phones' components, §4.3), .sb2 the 7940/7960 application of a
// Universal Application Loader package (§4.2), .zup unsigned and .sbin
// signed 7905/7912 images (§1.4). A .loads file lists images; it is none.
var imageExts = []string{".sbn", ".sb2", ".bin", ".zup", ".sbin"}

// ImageExts returns the extensions of firmware image files, lower case
// with their dot: .sbn .sb2 .bin .zup .sbin.
func ImageExts() []string { return append([]string(nil), imageExts...) }

// IsImageExt reports whether ext (with its dot, in any case: ".SBN") is
// the extension of a firmware image file.
func IsImageExt(ext string) bool {
	for _, e := range imageExts {
		if len(ext) == len(e) && strings.EqualFold(ext, e) { // ASCII only: "ſbn" is no "sbn"
			return true
		}
	}
	return false
}

// Image is a parsed firmware image file name.
type Image struct {
	Name string // as given
	// Stem is the name without its extension, as spelled: the load ID of
	// a 7940/7960 image (P0S3-8-12-00 of P0S3-8-12-00.sb2), what the
	// phone asks for before the extension.
	Stem string
	Ext  string // the extension, lower case: ".sbn"
	// ID is Stem as a load ID (ParseLoadID); ID.Family is 0 when it is
	// none: Java components, 7905/7912 CP… images, KEM and other loads.
	ID LoadID
	// Component is the part a Java component name starts with: "jar",
	// "cnu", "apps", "dsp" or "cvm" (jar41sip.9-4-2ES26.sbn, §4.3); ""
	// for other images. Prefix is its phone type ("41") and Protocol
	// "SIP" or "SCCP" when the name says (jar and cvm do; cnu, apps and
	// dsp are shared by both protocols and say nothing).
	Component, Prefix, Protocol string
}

// ParseImage parses the base name of a firmware image file: a non-empty
// stem and one of the image extensions, in any case. ok is false for
// other files (.loads files included).
func ParseImage(name string) (Image, bool) {
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || !IsImageExt(name[dot:]) {
		return Image{}, false
	}
	im := Image{Name: name, Stem: name[:dot], Ext: strings.ToLower(name[dot:])}
	im.ID, _ = ParseLoadID(im.Stem)
	im.Component, im.Prefix, im.Protocol = javaComponent(strings.ToLower(name))
	return im, true
}

// javaComponent reads a Java component name, lower case: one of jar, cnu,
// apps, dsp, cvm; two digits of phone type; optionally sip or sccp; then
// a dot (jar41sip.9-4-2ES26.sbn, cnu41.9-4-2-26.sbn).
func javaComponent(lower string) (component, prefix, protocol string) {
	for _, c := range []string{"jar", "cnu", "apps", "dsp", "cvm"} {
		rest, ok := strings.CutPrefix(lower, c)
		if !ok || len(rest) < 3 || !isDigits(rest[:2]) {
			continue
		}
		p, rest := rest[:2], rest[2:]
		for _, proto := range []string{"", "sip", "sccp"} {
			if tail, ok := strings.CutPrefix(rest, proto); ok && strings.HasPrefix(tail, ".") {
				return c, p, strings.ToUpper(proto)
			}
		}
	}
	return "", "", ""
}

// Family is the family whose phones run the image: FamilyClassic for
// P003…/P0S3…/P0M3… images, FamilyJava for SCCPnn/SIPnn/TERMnn images and
// Java components; 0 when the name does not say (7905 CP…, 7936
// cmterm_…, KEM loads).
func (im Image) Family() Family {
	if im.ID.Family != 0 {
		return im.ID.Family
	}
	if im.Component != "" {
		return FamilyJava
	}
	return 0
}

// Loader reports whether the image is the loader of a 7940/7960 package
// with the Universal Application Loader, rather than an application: the
// .sbn or .bin of the P003-… loader of SIP packages (P003-8-12-00.sbn,
// §3.3, §4.2) or of a UAL SCCP load (P00307020300.bin "unsigned loader",
// .sbn "signed loader"; its .sb2 is the application, §4.2). The name
// before the extension is what OS79XX.TXT names to upgrade an old phone.
// Old images (before the UAL: SCCP < 6, SIP < 7) have no separate loader.
func (im Image) Loader() bool {
	return (im.Ext == ".sbn" || im.Ext == ".bin") && im.ID.UAL() &&
		(im.ID.Loader || im.ID.Protocol == "SCCP")
}

// OldImage reports whether the image is a whole 7940/7960 load by itself,
// without a .loads file: an image older than the Universal Application
// Loader (SCCP < 6, SIP < 7, MGCP; §1.2 "Which releases are old"), stored
// as .bin (§1.2.3) or, signed, .sbn (§4.1): P0S3-04-4-00.bin. Its stem is
// the load ID, and fetching it is running it.
func (im Image) OldImage() bool {
	return (im.Ext == ".bin" || im.Ext == ".sbn") && im.ID.Family == FamilyClassic &&
		!im.ID.Loader && !im.ID.UAL()
}

// LoadFamily is the family whose phones run load id (no extension):
// FamilyClassic for 7940/7960 loads (P003…, P0S3…, P0M3…), FamilyJava for
// SCCPnn./SIPnn./TERMnn. loads, 0 for a name ParseLoadID does not take.
func LoadFamily(id string) Family {
	l, _ := ParseLoadID(id)
	return l.Family
}
