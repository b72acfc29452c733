package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"phoneboot/internal/phone"
)

// Candidates are load IDs standing for every load a phone of model m may
// run when its boot showed b and its requests protocol proto ("SIP",
// "SCCP" or "" when they did not show it): the ends of each class the
// upgrade rules tell apart. For a Java phone, proto is the target's.
func Candidates(m phone.Model, b phone.Boot, proto string) []string {
	sip := func(vs ...string) []string {
		var out []string
		for _, v := range vs {
			out = append(out, "P0S3-"+v)
		}
		return out
	}
	sccp := func(vs ...string) []string {
		var out []string
		for _, v := range vs {
			out = append(out, "P003"+v)
		}
		return out
	}
	pick := func(s, c []string) []string {
		switch proto {
		case "SIP":
			return s
		case "SCCP":
			return c
		}
		return append(s, c...)
	}
	if b == phone.BootUnseen {
		if m.Family == phone.FamilyJava {
			b = phone.BootJava
		} else {
			return append(Candidates(m, phone.BootOS79XX, proto), Candidates(m, phone.BootUAL, proto)...)
		}
	}
	switch b {
	case phone.Boot79XX:
		return sip("02-0-00", "03-0-00", "04-0-00")
	case phone.BootOS79XX:
		return pick(sip("04-4-00", "05-0-00", "05-3-00", "06-0-00", "06-9-00"), sccp("03000000", "05000000", "05090000"))
	case phone.BootUAL:
		return pick(sip("07-0-00", "08-0-00", "8-99-00"), sccp("06000000", "07000000", "08000000", "08990000"))
	case phone.BootJava:
		if m.Family != phone.FamilyJava {
			return nil
		}
		p := proto
		if p == "" {
			p = "SIP"
		}
		var out []string
		for _, v := range []string{"7-0-0", "8-0-0", "8-3-3", "8-5-2", "9-0-0", "9-9-9"} {
			out = append(out, p+m.LoadPrefix+"."+v+"S")
		}
		return out
	}
	return nil
}

// NextSafe plans for a phone that may run any of could (Candidates): the
// step is one every candidate may take at once (or already runs), on the
// way from the lowest candidate to target, as far along as the rules
// allow, so that the fewest reboots are spent. With one candidate it is
// Next. Plan.Unsure says why no step is safe when none is.
func NextSafe(m phone.Model, could []string, target string, available []string) Plan {
	if len(could) == 1 {
		return Next(m, could[0], target, available)
	}
	lowest := Next(m, "", target, available) // the planner's own lowest start
	var loIDs []phone.LoadID
	for _, c := range could {
		if l, ok := phone.ParseLoadID(c); ok && fits(m, l) {
			loIDs = append(loIDs, l)
		}
	}
	if len(loIDs) > 0 {
		lo := slices.MinFunc(loIDs, func(a, b phone.LoadID) int {
			if a.Less(b) {
				return -1
			}
			if b.Less(a) {
				return 1
			}
			return 0
		})
		lowest = Next(m, lo.Raw, target, available)
	}
	if lowest.Refused != "" || len(lowest.Path) == 0 {
		return lowest
	}
	for i := len(lowest.Path) - 1; i >= 0; i-- {
		step := lowest.Path[i]
		if !slices.ContainsFunc(could, func(c string) bool { return !direct(m, c, step, available) }) {
			p := Next(m, step, target, available)
			p.Path = append([]string{step}, p.Path...)
			p.Next, p.Done = step, false
			for _, r := range lowest.Rules {
				if !slices.ContainsFunc(p.Rules, func(u Rule) bool { return u.Name == r.Name }) {
					p.Rules = append(p.Rules, r)
				}
			}
			return p
		}
	}
	p := Plan{Target: target, Rules: lowest.Rules}
	p.Unsure = fmt.Sprintf("no step towards %s is safe from every load it may run (%s … %s): phoneboot names none until it knows which",
		target, could[0], could[len(could)-1])
	return p
}

// direct reports whether a phone on from may go to to in one step: the
// same load, or a hop no rule refuses or interrupts.
func direct(m phone.Model, from, to string, available []string) bool {
	if strings.EqualFold(from, to) {
		return true
	}
	p := Next(m, from, to, available)
	return p.Refused == "" && p.Missing == "" && len(p.Path) == 1 && strings.EqualFold(p.Path[0], to)
}
