// Package firmware knows the firmware files phones fetch: the text part of
// a <LoadID>.loads file and the components it lists (cisco-79xx.md §4).
package firmware

import (
	"fmt"
	"strconv"
	"strings"

	"phoneboot/internal/phone"
)

// Loads is what a .loads file says once its signed binary header is
// skipped: the component files a phone fetches after it, in order.
type Loads struct {
	Components []string // e.g. P0030801SR02.sbn, jar41sip.9-4-2ES26.sbn
	LAVersion  string   // LA_VERSION=…, loader version of 7940/7960 loads
	// HardwareComp is #HARDWARE_COMP_1 of Java loads, -1 when absent.
	HardwareComp int
}

// ParseLoads reads the text tail of a .loads file. The file starts with a
// signed binary header (TLVs, certificates, an RSA signature) that may
// contain newline bytes; a line's text starts after its last
// non-printable byte, so the first component glued to the header is
// still found. A file that lists no component is an error.
func ParseLoads(data []byte) (Loads, error) {
	l := Loads{HardwareComp: -1}
	seen := map[string]bool{}
	for _, raw := range strings.Split(string(data), "\n") {
		line := raw
		for i := len(line) - 1; i >= 0; i-- {
			if c := line[i]; (c < 0x20 && c != '\t' && c != '\r') || c >= 0x7f {
				line = line[i+1:]
				break
			}
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "LA_VERSION="):
			l.LAVersion = strings.TrimPrefix(line, "LA_VERSION=")
		case strings.HasPrefix(line, "#HARDWARE_COMP_1"):
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "#HARDWARE_COMP_1")))
			if err == nil {
				l.HardwareComp = n
			}
		case strings.HasPrefix(line, "#"):
		case isComponent(line) && !seen[line]:
			seen[line] = true
			l.Components = append(l.Components, line)
		}
	}
	if len(l.Components) == 0 {
		return l, fmt.Errorf("no component files listed (is it a .loads file?)")
	}
	return l, nil
}

// isComponent reports whether s is a plain file name of a firmware image
// (phone.ParseImage): not the name of the .loads file itself, which the
// signed header embeds.
func isComponent(s string) bool {
	if len(s) > 128 || strings.ContainsAny(s, " /\\=") {
		return false
	}
	_, ok := phone.ParseImage(s)
	return ok
}
