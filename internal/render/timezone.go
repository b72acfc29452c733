package render

import "strings"

// TimeZone is Site.TimeZone in the spellings the two config dialects need.
// When the name is not in the table below, Cisco and SIP are the name as
// the admin wrote it and Known is false: phoneboot does not guess.
type TimeZone struct {
	Raw string // as the admin wrote it
	// Cisco is the <timeZone> name of the XML configs (cisco-79xx.md §2.1),
	// e.g. "W. Europe Standard/Daylight Time".
	Cisco string
	// SIP is the time_zone value of the 7940/7960 SIP text configs
	// (§3.2), e.g. "CET".
	SIP string
	// DateTemplate is <dateTemplate>: "M/D/YA" (12-hour clock) in the
	// Americas and for unknown zones (the phones' own default), "D/M/Y"
	// elsewhere.
	DateTemplate string
	Known        bool
	// DST is the daylight-saving rule for the SIP dst_* keys; zero
	// (Offset "") when the zone has none. The XML <timeZone> name carries
	// its own rule, so XML templates do not need it.
	DST DST
}

// DST is a relative daylight-saving rule in the terms of the 7940/7960 SIP
// dst_* keys (Cisco SIP IP Phone 7960 Administrator Guide, "Setting the
// Date, Time, and Daylight Savings Time"): week of month 1-6, or 8 for
// the last week; times are local hour/minute.
type DST struct {
	Offset                                                  string // dst_offset, hours
	StartMonth, StartWeekOfMonth, StartDayOfWeek, StartTime string
	StopMonth, StopWeekOfMonth, StopDayOfWeek, StopTime     string
}

var (
	// US and Canada since 2007: second Sunday of March to first Sunday of
	// November, 02:00 local.
	dstUS = DST{"1", "Mar", "2", "Sun", "02/00", "Nov", "1", "Sun", "02/00"}
	// EU: last Sunday of March to last Sunday of October, both at 01:00
	// UTC, written here in local time for each offset.
	dstEU0 = DST{"1", "Mar", "8", "Sun", "01/00", "Oct", "8", "Sun", "02/00"}
	dstEU1 = DST{"1", "Mar", "8", "Sun", "02/00", "Oct", "8", "Sun", "03/00"}
	dstEU2 = DST{"1", "Mar", "8", "Sun", "03/00", "Oct", "8", "Sun", "04/00"}
)

type zone struct {
	cisco, sip string
	us         bool // M/D/YA dates
	dst        DST
}

// Zones phoneboot can translate. The Cisco names are the CallManager
// (Windows-style) names seen in working configs (§2.1, §2.3, Wazo's
// cisco-sccp plugin [S1]); several IANA zones share one Cisco name with the
// same offset and rules (all CET zones use "W. Europe Standard/Daylight
// Time", the name §2.3 shows working). The SIP abbreviations are
// **(uncertain)**: the 7940/7960 SIP guide's list of accepted values was
// not found; these are the classic abbreviations its examples use ("EST").
// An admin who needs another value writes it in sipdefault.cnf.tmpl.
var zones = map[string]zone{}

func init() {
	add := func(z zone, names ...string) {
		for _, n := range names {
			zones[n] = z
		}
	}
	add(zone{"Eastern Standard/Daylight Time", "EST", true, dstUS},
		"America/New_York", "America/Detroit", "America/Toronto", "America/Indiana/Indianapolis", "US/Eastern")
	add(zone{"Central Standard/Daylight Time", "CST", true, dstUS},
		"America/Chicago", "America/Winnipeg", "US/Central")
	add(zone{"Mountain Standard/Daylight Time", "MST", true, dstUS},
		"America/Denver", "America/Edmonton", "America/Boise", "US/Mountain")
	add(zone{"US Mountain Standard Time", "MST", true, DST{}},
		"America/Phoenix", "US/Arizona")
	add(zone{"Pacific Standard/Daylight Time", "PST", true, dstUS},
		"America/Los_Angeles", "America/Vancouver", "US/Pacific")
	add(zone{"Atlantic Standard/Daylight Time", "AST", true, dstUS},
		"America/Halifax", "Canada/Atlantic")
	add(zone{"Hawaiian Standard Time", "HST", true, DST{}},
		"Pacific/Honolulu", "US/Hawaii")
	add(zone{"Greenwich Standard Time", "GMT", false, DST{}},
		"UTC", "Etc/UTC", "GMT", "Etc/GMT")
	add(zone{"GMT Standard/Daylight Time", "GMT", false, dstEU0},
		"Europe/London", "Europe/Dublin", "Europe/Lisbon")
	add(zone{"W. Europe Standard/Daylight Time", "CET", false, dstEU1},
		"Europe/Vienna", "Europe/Berlin", "Europe/Amsterdam", "Europe/Zurich", "Europe/Rome",
		"Europe/Stockholm", "Europe/Oslo", "Europe/Copenhagen", "Europe/Brussels", "Europe/Paris",
		"Europe/Madrid", "Europe/Luxembourg", "Europe/Prague", "Europe/Bratislava", "Europe/Budapest",
		"Europe/Warsaw", "Europe/Ljubljana", "Europe/Zagreb", "Europe/Belgrade", "Europe/Sarajevo",
		"Europe/Skopje", "Europe/Malta", "Europe/Monaco", "Europe/Vaduz", "Europe/Andorra")
	add(zone{"E. Europe Standard/Daylight Time", "EET", false, dstEU2},
		"Europe/Athens", "Europe/Bucharest", "Europe/Helsinki", "Europe/Kyiv", "Europe/Kiev",
		"Europe/Riga", "Europe/Sofia", "Europe/Tallinn", "Europe/Vilnius")
	add(zone{"Tokyo Standard Time", "JST", false, DST{}},
		"Asia/Tokyo")
}

// lookupZone translates an IANA name or a Cisco name from the table.
func lookupZone(raw string) TimeZone {
	tz := TimeZone{Raw: raw, Cisco: raw, SIP: raw, DateTemplate: "M/D/YA"}
	z, ok := zones[raw]
	if !ok {
		// The admin may have written the Cisco name itself.
		for _, c := range zones {
			if strings.EqualFold(c.cisco, raw) {
				z, ok = c, true
				break
			}
		}
	}
	if !ok {
		return tz
	}
	tz.Cisco, tz.SIP, tz.DST, tz.Known = z.cisco, z.sip, z.dst, true
	if !z.us {
		tz.DateTemplate = "D/M/Y"
	}
	return tz
}
