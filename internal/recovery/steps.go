package recovery

import (
	"fmt"

	"phoneboot/internal/phone"
)

// Sources of the steps.
const (
	src7      = "docs/cisco-79xx.md §7"
	srcSeed   = "seed page (De-bricking)"
	src7Seed  = src7 + "; " + srcSeed
	srcBoot   = "docs/cisco-79xx.md §1.2, §4.4"
	srcJBoot  = "docs/cisco-79xx.md §1.3, §4.4"
	srcReload = "docs/cisco-79xx.md §1.3, §7"
)

// steps are what to do on the phone, after phoneboot is ready: the
// model's factory-reset sequence (the model catalog and §7), what to
// answer, and what the phone does then.
func steps(m phone.Model, target string, mac phone.MAC) []Step {
	unplug := Step{Text: "Unplug the phone: its power supply, or the network cable if the switch powers it (PoE).", Source: src7}
	if m.Name == "7970" {
		unplug.Text = "Unplug the phone, and plug it back in through its external power supply, not PoE: on inline power without CDP power information a 7970 cannot TFTP its TERM70 load (console: \"CDP: power TLV's not detected\")."
		unplug.Source = src7 + " [S51]"
	}
	follow := "phoneboot recover " + m.Name
	if mac != (phone.MAC{}) {
		follow += " --mac " + mac.String()
	}
	follow += " --watch"
	then := "its config"
	if target != "" {
		then += ", then, one safe step at a time, " + target
	} else {
		then += " (no target load: it keeps the load it runs)"
	}
	if m.Family == phone.FamilyClassic {
		return []Step{
			unplug,
			{Text: "Hold # and plug it back in. Keep holding until the Headset, Mute and Speaker buttons flash in turn (the screen says \"reset key detected\"), then let go.", Source: src7Seed},
			{Text: "Within 60 seconds dial 123456789*0#. A key pressed twice is fine; a wrong key ends the reset: start again at the unplugging.", Source: src7},
			{Text: "It asks \"Keep network cfg? 1 = yes 2 = no\" (\"save network config?\"): press 2, no. Kept, the settings that stranded it stay: a TFTP server or address set by hand, used instead of DHCP's. Erased, the phone asks DHCP for an address and option 150, which leads it to phoneboot.", Source: "docs/cisco-79xx.md §7, §5; seed page (\"I selected no\")"},
			{Text: fmt.Sprintf("It restarts and boots from phoneboot: OS79XX.TXT or its trust list, then %s. Follow it: %s", then, follow), Source: srcBoot},
		}
	}
	hold := Step{Text: "Hold # and plug it back in. Keep holding (on a 7941/7961 it can take minutes) until the line buttons flash amber in turn, then let go.", Source: src7 + " [S24][S27]"}
	if m.Name == "7911" {
		hold.Text = "Hold # and plug it back in, before the Applications button flashes. Keep holding until the message light on the handset flashes red, then let go."
		hold.Source = src7 + " [S24]"
	}
	return []Step{
		unplug,
		hold,
		{Text: "Dial 123456789*0#: the soft factory reset. It deletes the phone's settings, a TFTP server set by hand with them, and restarts. (Not 3491672850*#, which formats the flash, nor *7412369#085, which keeps the network settings.)", Source: src7 + " [S24][S22][S23]"},
		{Text: "Nothing to answer: §7 lists no question for these phones. The seed's \"save network config? no\" is built in: the reset takes its TFTP server from DHCP option 150 only (\"this will not work with 'manually set tftp server'\").", Source: src7 + " [S25]"},
		{Text: fmt.Sprintf("It says \"Upgrading\", gets an address and option 150 from DHCP, fetches %s and the files it lists from phoneboot, flashes them and restarts; do not unplug it meanwhile.", m.TermFile), Source: srcReload},
		{Text: fmt.Sprintf("Then it asks phoneboot for %s. Follow it: %s", then, follow), Source: srcJBoot},
	}
}
