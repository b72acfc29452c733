package recovery

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"phoneboot/internal/printable"
)

// Width is the terminal width the texts fit in.
const Width = 80

// Text is the guide as `phoneboot recover` prints it, in Width columns:
// step 1 is what phoneboot must have ready (each check ok, MISSING or
// note, with what to do), the next ones what to do on the phone.
func (g *Guide) Text() string {
	var b strings.Builder
	title := fmt.Sprintf("Recovering a %s", g.Model.Marketing)
	if g.MAC != [6]byte{} {
		title += " (" + g.MAC.String() + ")"
	}
	title += ": a factory reset, then phoneboot boots it (the seed page's de-bricking; docs/cisco-79xx.md §7)."
	b.WriteString(wrap(title, "", ""))
	b.WriteString("\n")
	b.WriteString(wrap("1. First, what phoneboot must have ready, checked now against "+g.ConfigFile+", the firmware catalog and the phones phoneboot has seen:", "", "   "))
	for _, c := range g.Checks {
		b.WriteString(checkText(c))
	}
	for i, s := range g.Steps {
		b.WriteString("\n")
		text := s.Text
		if s.Source != "" {
			text += " [" + s.Source + "]"
		}
		b.WriteString(wrap(fmt.Sprintf("%d. %s", i+2, text), "", "   "))
	}
	b.WriteString("\n")
	if n := len(g.Missing()); n > 0 {
		b.WriteString(wrap(fmt.Sprintf("Not ready: %d %s MISSING in step 1. Fix %s before the reset, then run this again to check.", n, plural(n, "thing", "things"), plural(n, "it", "them")), "", ""))
	} else {
		b.WriteString(wrap("Ready: phoneboot has everything the reset needs.", "", ""))
	}
	return b.String()
}

// checkText is one check: its status in a column, what was found, and
// for what is missing why it matters and what to do.
func checkText(c Check) string {
	const indent = "            " // 3 + the status column
	var b strings.Builder
	b.WriteString(wrap(c.Item+": "+c.Found, fmt.Sprintf("   %-9s", c.Status), indent))
	if c.Status == Missing && c.Why != "" {
		why := c.Why
		if c.Source != "" {
			why += " [" + c.Source + "]"
		}
		b.WriteString(wrap("why: "+why, indent, indent+"     "))
	}
	for i, d := range c.Do {
		switch {
		case strings.HasPrefix(d, "  "):
			b.WriteString(verbatim(strings.TrimSpace(d), indent+"      "))
		case i == 0:
			b.WriteString(wrap("do: "+d, indent, indent+"    "))
		default:
			b.WriteString(wrap(d, indent+"    ", indent+"    "))
		}
	}
	return b.String()
}

// wrap breaks text into lines of at most Width columns, the first
// beginning with first and the others with rest. A word longer than a
// line stays whole.
func wrap(text, first, rest string) string {
	var b strings.Builder
	line, n := first, utf8.RuneCountInString(first)
	empty := true
	for _, w := range strings.Fields(printable.String(text)) {
		wn := utf8.RuneCountInString(w)
		if !empty && n+1+wn > Width {
			b.WriteString(line + "\n")
			line, n, empty = rest, utf8.RuneCountInString(rest), true
		}
		if !empty {
			line, n = line+" ", n+1
		}
		line, n, empty = line+w, n+wn, false
	}
	b.WriteString(line + "\n")
	return b.String()
}

// verbatim is a command or a line of phoneboot.toml to paste: not
// wrapped as prose, but a command too long for one line is continued
// with a backslash, as a shell takes it.
func verbatim(text, indent string) string {
	var b strings.Builder
	text = printable.String(text)
	cont := indent + "    "
	for range 8 { // bounded: commands are short
		if utf8.RuneCountInString(indent+text) <= Width {
			break
		}
		room := Width - utf8.RuneCountInString(indent) - 2
		cut := strings.LastIndex(text[:min(len(text), room)], " ")
		if cut <= 0 {
			break
		}
		b.WriteString(indent + text[:cut] + " \\\n")
		text, indent = strings.TrimSpace(text[cut:]), cont
	}
	b.WriteString(indent + text + "\n")
	return b.String()
}
