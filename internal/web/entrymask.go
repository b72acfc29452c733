package web

import (
	"fmt"
	"regexp"
	"strings"

	"phoneboot/internal/provision"
)

// An inventory entry holds its lines' SIP passwords: the editor shows
// them masked (like the generated files), and a save puts each masked
// password back from the entry in the file, in order, so that editing a
// label does not mean typing every password again.

// passwordLine finds `password = "…"` (or '…') in a TOML line.
var passwordLine = regexp.MustCompile(`^(\s*password\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')(.*)$`)

const maskedValue = `"` + provision.Masked + `"`

// maskEntry returns text with every password value masked.
func maskEntry(text string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		body, nl := strings.CutSuffix(l, "\n")
		if m := passwordLine.FindStringSubmatch(body); m != nil {
			lines[i] = m[1] + maskedValue + m[3]
			if nl {
				lines[i] += "\n"
			}
		}
	}
	return strings.Join(lines, "")
}

// unmaskEntry puts the passwords of old (the entry in the file) back
// where edited still has the mask: the n-th password of edited takes
// old's n-th. A mask with no password to take is an error with the line
// of the entry.
func unmaskEntry(edited, old string) (string, error) {
	var olds []string
	for _, l := range strings.Split(old, "\n") {
		if m := passwordLine.FindStringSubmatch(strings.TrimSuffix(l, "\r")); m != nil {
			olds = append(olds, m[2])
		}
	}
	lines := strings.SplitAfter(edited, "\n")
	n := 0
	for i, l := range lines {
		body, nl := strings.CutSuffix(l, "\n")
		body, cr := strings.CutSuffix(body, "\r")
		m := passwordLine.FindStringSubmatch(body)
		if m == nil {
			continue
		}
		if m[2] == maskedValue {
			if n >= len(olds) {
				return "", fmt.Errorf("entry line %d: the password is still %s: type this line's password", i+1, provision.Masked)
			}
			lines[i] = m[1] + olds[n] + m[3]
			if cr {
				lines[i] += "\r"
			}
			if nl {
				lines[i] += "\n"
			}
		}
		n++
	}
	return strings.Join(lines, ""), nil
}
