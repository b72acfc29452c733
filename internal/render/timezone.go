package render

import (
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/suggest"
)

// TimeZone is Site.TimeZone in the spellings the two config dialects need.
type TimeZone struct {
	Raw string // as the admin wrote it
	// Cisco is the <timeZone> name of the XML configs (cisco-79xx.md §2.1),
	// e.g. "W. Europe Standard/Daylight Time"; "" when no zone is set.
	Cisco string
	// SIP is the time_zone value of the 7940/7960 SIP text configs
	// (§3.2), e.g. "CET"; "" = no time_zone line (the table knows none
	// for the zone and site.sip_time_zone does not say).
	SIP string
	// Offset is the zone's standard offset from UTC in minutes.
	Offset int
	// DateTemplate is <dateTemplate>: "M/D/YA" (12-hour clock) in the
	// US and Canada and when no zone is set (the phones' own default),
	// "D/M/Y" elsewhere.
	DateTemplate string
	// Known is false only when no zone is set.
	Known bool
	// DST is the daylight-saving rule for the SIP dst_* keys; zero
	// (Offset "") when the zone has none, or one phoneboot does not model
	// (HasDST then says so). The XML <timeZone> name carries its own rule,
	// so XML templates do not need it.
	DST    DST
	HasDST bool
}

// DST is a relative daylight-saving rule in the terms of the 7940/7960 SIP
// dst_* keys (Cisco SIP IP Phone 7960 Administrator Guide, "Setting the
// Date, Time, and Daylight Savings Time"): week of month 1-6, or 8 for
// the last week; times are local hour/minute, the stop time in daylight
// time.
type DST struct {
	Offset                                                  string // dst_offset, hours
	StartMonth, StartWeekOfMonth, StartDayOfWeek, StartTime string
	StopMonth, StopWeekOfMonth, StopDayOfWeek, StopTime     string
}

// zone is one row of timezones.tsv.
type zone struct {
	cisco  string
	offset int    // minutes east of UTC, standard time
	dst    string // us, eu, au, nz, none, other
	sip    string // "" = none known
	us     bool   // M/D/YA dates
	iana   []string
}

//go:embed timezones.tsv
var zonesTSV string

// zones is the table; byName finds a row by IANA or Cisco name, lower case.
var zones, byName = parseZones(zonesTSV)

func parseZones(text string) ([]zone, map[string]int) {
	var out []zone
	idx := map[string]int{}
	for n, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			panic(fmt.Sprintf("timezones.tsv:%d: %d columns, want 6", n+1, len(f)))
		}
		off, err := strconv.Atoi(f[1])
		if err != nil {
			panic(fmt.Sprintf("timezones.tsv:%d: offset %q", n+1, f[1]))
		}
		if !slices.Contains([]string{"us", "eu", "au", "nz", "none", "other"}, f[2]) || (f[4] != "us" && f[4] != "intl") {
			panic(fmt.Sprintf("timezones.tsv:%d: dst %q, date %q", n+1, f[2], f[4]))
		}
		z := zone{cisco: f[0], offset: off, dst: f[2], us: f[4] == "us"}
		if f[3] != "-" {
			z.sip = f[3]
		}
		if f[5] != "-" {
			z.iana = strings.Split(f[5], ",")
		}
		for _, name := range append([]string{z.cisco}, z.iana...) {
			k := strings.ToLower(name)
			if _, dup := idx[k]; dup {
				panic(fmt.Sprintf("timezones.tsv:%d: %s is in two rows", n+1, name))
			}
			idx[k] = len(out)
		}
		out = append(out, z)
	}
	return out, idx
}

// LookupTimeZone translates a time zone as an admin writes it, an IANA
// name ("Europe/Vienna") or a Cisco name ("W. Europe Standard/Daylight
// Time"), in any case, with the table in timezones.tsv. "" is no zone. A
// name the table does not have is an error that suggests names it has.
func LookupTimeZone(name string) (TimeZone, error) {
	tz := TimeZone{Raw: name, DateTemplate: "M/D/YA"}
	if strings.TrimSpace(name) == "" {
		return tz, nil
	}
	i, ok := byName[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return tz, fmt.Errorf("unknown time zone %q%s", name, suggestZones(name))
	}
	z := zones[i]
	tz.Cisco, tz.SIP, tz.Offset, tz.Known = z.cisco, z.sip, z.offset, true
	if !z.us {
		tz.DateTemplate = "D/M/Y"
	}
	tz.DST, tz.HasDST = dstRule(z), z.dst != "none"
	return tz, nil
}

// TimeZoneNames lists the Cisco names of the table, in its order.
func TimeZoneNames() []string {
	out := make([]string, len(zones))
	for i, z := range zones {
		out[i] = z.cisco
	}
	return out
}

// dstRule is the zone's rule in dst_* terms (see timezones.tsv for the
// rules). The EU changes at 01:00 UTC everywhere: local times follow
// from the offset. The stop time is given in daylight time.
func dstRule(z zone) DST {
	hhmm := func(minutes int) string {
		minutes = (minutes%(24*60) + 24*60) % (24 * 60)
		return fmt.Sprintf("%02d/%02d", minutes/60, minutes%60)
	}
	switch z.dst {
	case "us":
		return DST{"1", "Mar", "2", "Sun", "02/00", "Nov", "1", "Sun", "02/00"}
	case "eu":
		return DST{"1", "Mar", "8", "Sun", hhmm(60 + z.offset), "Oct", "8", "Sun", hhmm(60 + z.offset + 60)}
	case "au":
		return DST{"1", "Oct", "1", "Sun", "02/00", "Apr", "1", "Sun", "03/00"}
	case "nz":
		return DST{"1", "Sep", "8", "Sun", "02/00", "Apr", "1", "Sun", "03/00"}
	}
	return DST{}
}

// suggestZones says which names of the table come close to name: by
// spelling, and, when the Go time zone database knows name, by offset and
// daylight saving.
func suggestZones(name string) string {
	var near []string
	type cand struct {
		name string
		d    int
	}
	var cands []cand
	lower := strings.ToLower(name)
	for k, i := range byName {
		// Whole names, and the start of long ones (a name cut short).
		d := min(suggest.Distance(lower, k), suggest.Distance(lower, k[:min(len(k), len(lower))])+1)
		if d <= max(2, len(lower)/4) {
			spelled := zones[i].cisco
			for _, n := range zones[i].iana {
				if strings.ToLower(n) == k {
					spelled = n
				}
			}
			cands = append(cands, cand{spelled, d})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	for _, c := range cands {
		// The best ones only: a name one letter off is what was meant,
		// not the one three letters off.
		if len(near) == 3 || c.d > cands[0].d+1 {
			break
		}
		near = append(near, strconv.Quote(c.name))
	}
	msg := ""
	if len(near) > 0 {
		msg = " (did you mean " + strings.Join(near, ", ") + "?)"
	}
	if loc, err := time.LoadLocation(name); err == nil {
		std, dst := offsets(loc)
		var same []string
		for _, z := range zones {
			if z.offset == std && (z.dst != "none") == dst {
				same = append(same, strconv.Quote(z.cisco))
			}
		}
		what := "no daylight saving"
		if dst {
			what = "daylight saving"
		}
		msg += fmt.Sprintf("; %s is UTC%s with %s, and phoneboot's table does not translate it", name, formatOffset(std), what)
		if len(same) > 0 {
			msg += ": write the Cisco name of the same offset and rules, " + strings.Join(same, " or ")
		}
	} else if len(near) == 0 {
		msg = " (write an IANA name such as \"Europe/Vienna\" or a Cisco name such as \"W. Europe Standard/Daylight Time\"; docs/config.md lists them)"
	}
	return msg
}

// offsets is loc's standard offset in minutes and whether it has
// daylight saving this year: the smaller of its January and July offsets
// (Europe/Dublin's "negative" daylight saving included).
func offsets(loc *time.Location) (int, bool) {
	y := time.Now().Year()
	_, jan := time.Date(y, 1, 15, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(y, 7, 15, 12, 0, 0, 0, loc).Zone()
	return min(jan, jul) / 60, jan != jul
}

func formatOffset(minutes int) string {
	sign := "+"
	if minutes < 0 {
		sign, minutes = "-", -minutes
	}
	return fmt.Sprintf("%s%02d:%02d", sign, minutes/60, minutes%60)
}
