package sim

import "fmt"

// The upgrade rules a simulated phone enforces on itself. Where the
// sources are unsure the phone is the harshest one they allow, so that a
// server that passes against it does not rely on a lucky phone. Each rule
// names its source in cisco-79xx.md.

// refusal is why a phone of model m running from will not install to,
// "" when it will. A refused load is not fetched: the phone keeps its load
// and goes on booting, no reboot. fromOK is false when the running load
// is not one the phone could read.
//
//   - A load of another family or phone type: a 7940/7960 takes P0…3
//     loads and the P003-… loader only, a Java phone only SCCPnn./SIPnn.
//     loads of its own nn and TERMnn. of its own nn or term number (§4.1,
//     §4.3). Harsh reading of §8's "Load ID incorrect" and "Load rejected
//     HC": refused on the name.
//   - §4.4 [S10]: "signed loads start at SIP 5.x, cannot downgrade to
//     unsigned afterwards". Harsh reading: a 7940/7960 on a signed SIP
//     load (5.x or later, or the loader of a SIP package) told to run a
//     SIP 4.x or older image refuses it on sight. No source says what the
//     screen shows.
func refusal(m simModel, from loadName, fromOK bool, to loadName) string {
	switch {
	case m.family == classic && to.kind != classicApp && to.kind != ualLoader,
		m.family == java && (to.kind != javaLoad || !m.fits(to)):
		return fmt.Sprintf("refused %s: not a load for a %s (cisco-79xx.md §4.1, §4.3; §8 Load ID incorrect)", to.name, m.name)
	case m.family == classic && fromOK && from.signed() && to.unsignedSIP():
		return fmt.Sprintf("refused %s: unsigned SIP %d.%d image on signed %s (cisco-79xx.md §4.4 [S10]: no downgrade to unsigned loads)",
			to.name, to.v.major, to.v.minor, from.name)
	}
	return ""
}

// sipWaypoints is the 7940/7960 SIP chain of §4.4 [S10], "[234].x → 4.4 →
// 5.3 → 6.x → 7.x", "You cannot go directly from version [234].x to
// version 7.x", each step as the versions that count as having taken it.
// Harsh reading: every step of the chain is needed, not only the one the
// quote names, and 7.x counts as a step on the way to 8.x (firmware.md:
// "7.x → 8.x is direct"; no source says 6.x may go straight to 8.x).
var sipWaypoints = []struct {
	name   string
	lo, hi version // [lo, hi)
}{
	{"4.4", at(4, 4, 0), at(5, 0, 0)},
	{"5.3", at(5, 3, 0), at(6, 0, 0)},
	{"6.x", at(6, 0, 0), at(7, 0, 0)},
	{"7.x", at(7, 0, 0), at(8, 0, 0)},
}

// brick is why a phone that ran from and has just flashed to does not
// come back, "" when it does. A real phone would need a factory reset.
//
//   - 7940/7960 SIP (the loader of a SIP package counts with its
//     version): an upgrade that passes over a step of sipWaypoints, e.g.
//     2.x/3.x straight to 5.x or later, 5.x straight to 7.x; a downgrade
//     from 8.x to below 7.x that does not stop at 7.x (§4.4 [S10]: "to
//     downgrade, first go to 7.x"; harsh reading: skipping it bricks).
//   - 79x1/79x2/79x5/797x (harsh reading: every Java model, 7911, 7906 and
//     7931 included): from below 8.3(3) straight to above 8.5(2), "reboot
//     in loop" (§4.4 [S1]); "AUTH FAIL" for a 7970 going from its factory
//     load to ≥ 8.5(2)SR1 (§4.4 [S30]), so 8.5(2)SR1 is above 8.5(2).
//     Protocol does not matter: [S30] walks SIP70 → SCCP70 → SIP70.
//
// Changes between SCCP and SIP on a 7940/7960 are not checked: the
// sources give two conflicting ways (§4.4 [S10][S15]).
func brick(fam family, from, to loadName) string {
	switch {
	case fam == classic && from.sipChain() && to.sipChain():
		a, b := from.v, to.v
		if a.less(b) {
			for _, w := range sipWaypoints {
				if a.less(w.lo) && !b.less(w.hi) {
					return fmt.Sprintf("bricked: %s to %s skips SIP %s (cisco-79xx.md §4.4 [S10]: [234].x → 4.4 → 5.3 → 6.x → 7.x)", from.name, to.name, w.name)
				}
			}
		}
		if !a.less(at(8, 0, 0)) && b.less(at(7, 0, 0)) {
			return fmt.Sprintf("bricked: %s to %s does not stop at SIP 7.x (cisco-79xx.md §4.4 [S10]: to downgrade, first go to 7.x)", from.name, to.name)
		}
	case fam == java && from.kind == javaLoad && to.kind == javaLoad:
		if from.v.less(at(8, 3, 3)) && at(8, 5, 2).less(to.v) {
			return fmt.Sprintf("bricked: %s to %s skips 8.5(2): reboot in loop (cisco-79xx.md §4.4 [S1][S30])", from.name, to.name)
		}
	}
	return ""
}
