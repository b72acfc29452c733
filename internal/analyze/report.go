package analyze

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonetext"
	"phoneboot/internal/printable"
)

// PrintOptions say what Print shows.
type PrintOptions struct {
	JSON bool
	// Phone, when set, shows only that phone's state and timeline.
	Phone phone.MAC
	// Timelines is how many phones get their timeline printed after the
	// table (the rest: the table only, and a hint).
	Timelines int
}

// Print writes the result for people (the phones table, then each
// phone as `phones show` shows it) or as JSON.
func Print(w io.Writer, res *Result, o PrintOptions) error {
	if o.Phone != (phone.MAC{}) {
		v, ok := res.phone(o.Phone)
		if !ok {
			return fmt.Errorf("%s is not in this capture (%d phones; phoneboot analyze FILE lists them)", o.Phone, len(res.Phones))
		}
		if o.JSON {
			return printJSON(w, v)
		}
		return phonetext.Show(w, v.Row, v.Events, res.Last)
	}
	if o.JSON {
		return printJSON(w, res)
	}
	printable.Fprintf(w, "%s: %s, %d packets", res.File, res.Format, res.Packets)
	if !res.First.IsZero() {
		fmt.Fprintf(w, ", %s to %s (%s)", res.First.Local().Format("2006-01-02 15:04:05"), res.Last.Local().Format("15:04:05"), res.Last.Sub(res.First).Round(time.Second))
	}
	fmt.Fprintln(w, "; ages are counted back from the capture's last packet")
	for _, s := range res.Servers {
		fmt.Fprintf(w, "%s server %v port %d: %d requests from %d addresses\n", strings.ToUpper(s.Protocol), s.Addr, s.Port, s.Requests, s.Phones)
	}
	for _, line := range res.notes() {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	if len(res.Phones) == 0 {
		fmt.Fprintln(w, "no phone in this capture: no DHCP, TFTP, HTTP :6970, syslog, CDP/LLDP or ARP of a phone (see docs/analyze.md for a capture filter)")
		return nil
	}
	rows := make([]fleet.Row, len(res.Phones))
	for i, v := range res.Phones {
		rows[i] = v.Row
	}
	phonetext.Table(w, rows, res.Last)
	if len(res.Phones) > o.Timelines {
		fmt.Fprintf(w, "\n%d phones: show one with phoneboot analyze FILE --phone MAC\n", len(res.Phones))
		return nil
	}
	for _, v := range res.Phones {
		fmt.Fprintln(w, "\n"+strings.Repeat("─", 78))
		if err := phonetext.Show(w, v.Row, v.Events, res.Last); err != nil {
			return err
		}
	}
	return nil
}

// notes are what was left out or broken, one line each.
func (res *Result) notes() []string {
	var out []string
	if res.Unattributed > 0 {
		out = append(out, fmt.Sprintf("%d events from addresses no MAC was found for (no DHCP, no SEP<MAC> file, no Ethernet source in the capture)", res.Unattributed))
	}
	if d := res.Dropped; d.Transfers+d.Phones+d.Events > 0 {
		out = append(out, fmt.Sprintf("limits: %d transfers not followed (too many at once), %d events of phones past the phone limit, %d events trimmed (a phone's oldest, or past the limit on all events)", d.Transfers, d.Phones, d.Events))
	}
	if res.Malformed > 0 {
		out = append(out, fmt.Sprintf("%d malformed packets:", res.Malformed))
		for _, p := range res.Problems {
			out = append(out, "  "+printable.String(p))
		}
	}
	if res.Damage != nil {
		out = append(out, res.Damage.String())
	}
	return out
}

func (res *Result) phone(mac phone.MAC) (fleet.View, bool) {
	for _, v := range res.Phones {
		if v.MAC == mac {
			return v, true
		}
	}
	return fleet.View{}, false
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(printable.JSON(w))
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ParsePorts reads a list of ports: "69" or "69,6969".
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a port (1-65535)", f)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}
