package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/printable"
	"phoneboot/internal/recovery"
	"phoneboot/internal/store"
	"phoneboot/internal/track"
)

const phonesUsage = `Usage:
  phoneboot phones [--json]                 list the inventory and every phone seen
  phoneboot phones show MAC [--limit N]     one phone: state, findings, timeline
  phoneboot phones watch [--every 1s]       live table with download progress
  phoneboot phones add MAC --model M [--protocol P] [--label L] [--line EXT:PASSWORD[:NAME]]…
                                            add a phone to phoneboot.toml
  phoneboot phones adopt MAC [flags of add] add a phone that booted auto-provisioned, with its model
  phoneboot phones rm MAC                   remove a phone from phoneboot.toml

Every form takes --data DIR, --config FILE and --db URL (the store, as serve's
--db). A running "phoneboot serve" picks changes to phoneboot.toml up within
seconds (or at once on SIGHUP).
`

func phones(ctx context.Context, args []string, stdout io.Writer) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "", "list":
		return phonesList(ctx, args, stdout)
	case "show":
		return phonesShow(ctx, args, stdout)
	case "watch":
		return phonesWatch(ctx, args, stdout)
	case "add", "adopt":
		return phonesAdd(ctx, sub, args, stdout)
	case "rm", "remove":
		return phonesRemove(args, stdout)
	case "help":
		fmt.Fprint(stdout, phonesUsage)
		return nil
	}
	return fmt.Errorf("phones: unknown subcommand %q (see phoneboot phones help)", sub)
}

// commonFlags are --data, --config and --db, as every subcommand has
// them. loadConfig puts --db into the config it reads.
func commonFlags(name string) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	data := fs.String("data", "phoneboot-data", "data `directory`")
	cfg := fs.String("config", "", "config `file` (default DATA/phoneboot.toml)")
	dbURL = fs.String("db", "", "the store's postgres:// `URL` (default: [store] url, else DATA/phoneboot.db)")
	return fs, data, cfg
}

// dbURL is the --db of the command that runs.
var dbURL = new(string)

// takeMAC parses the MAC argument that comes before the flags.
func takeMAC(name string, args []string) (phone.MAC, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return phone.MAC{}, nil, fmt.Errorf("%s: which phone? give its MAC address first (see phoneboot phones help)", name)
	}
	mac, err := phone.ParseMAC(args[0])
	if err != nil {
		return phone.MAC{}, nil, fmt.Errorf("%s: %v", name, err)
	}
	return mac, args[1:], nil
}

func phonesList(ctx context.Context, args []string, stdout io.Writer) error {
	fs, data, cfgPath := commonFlags("phones")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if _, err := parseFlags(fs, args, stdout, "Lists the inventory and every phone seen.", 0); err != nil {
		return err
	}
	rows, err := readPhones(ctx, *data, *cfgPath)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "no phones yet: none in phoneboot.toml and none has booted from phoneboot")
		return nil
	}
	printTable(stdout, rows)
	return nil
}

// printTable prints the phones, one line each.
func printTable(w io.Writer, rows []fleet.Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MAC\tMODEL\tIP\tLOAD → TARGET\tSTATE\tFINDING\tLAST SEEN\tSOURCE\tLABEL")
	for _, r := range rows {
		source := r.Source
		if source == store.SourceAuto {
			source = "unknown, auto-provisioned"
		}
		state := r.State
		if r.Download != nil {
			state += " " + progressBar(r.Download)
		} else if r.Detail != "" && r.State != "up to date" {
			state += ": " + r.Detail
		}
		finding := "-"
		if len(r.Findings) > 0 {
			finding = r.Findings[0].Symptom
		}
		printable.Fprintf(tw, "%s\t%s\t%s\t%s → %s\t%s\t%s\t%s\t%s\t%s\n", r.MAC, dash(r.Model), dash(r.IP),
			dash(r.Load), dash(r.Target), state, finding, fleet.Ago(time.Now(), r.LastSeen), source, r.Label)
	}
	tw.Flush()
}

// progressBar draws a firmware download: [######....] 3/5 files.
func progressBar(p *track.Progress) string {
	const width = 10
	done, total := float64(p.FilesDone), float64(p.Files)
	if p.Bytes > 0 {
		done, total = float64(p.BytesDone), float64(p.Bytes)
	}
	n := 0
	if total > 0 {
		n = min(width, int(width*done/total))
	}
	return fmt.Sprintf("[%s%s] %d/%d files %s", strings.Repeat("#", n), strings.Repeat(".", width-n), p.FilesDone, p.Files, p.Load)
}

// phonesWatch redraws the table every interval until interrupted.
func phonesWatch(ctx context.Context, args []string, stdout io.Writer) error {
	fs, data, cfgPath := commonFlags("phones watch")
	every := fs.Duration("every", time.Second, "refresh interval")
	count := fs.Int("count", 0, "stop after this many refreshes (0: until Ctrl-C)")
	if _, err := parseFlags(fs, args, stdout, "Shows the phones live: state, findings, download progress.", 0); err != nil {
		return err
	}
	for i := 0; *count == 0 || i < *count; i++ {
		rows, err := readPhones(ctx, *data, *cfgPath)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, "\033[H\033[2J") // clear the terminal
		fmt.Fprintf(stdout, "phoneboot phones — %s (refresh every %v, Ctrl-C to stop)\n\n", time.Now().Format("15:04:05"), *every)
		printTable(stdout, rows)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*every):
		}
	}
	return nil
}

// openFleet reads the config and opens the store; Close it.
func openFleet(ctx context.Context, data, cfgPath string) (fleet.Fleet, error) {
	cfg, _, err := loadConfig(data, cfgPath)
	if err != nil {
		return fleet.Fleet{}, err
	}
	return fleet.Open(ctx, data, cfg)
}

// readPhones reads the config and the store afresh: a running serve and
// the config file change between calls.
func readPhones(ctx context.Context, data, cfgPath string) ([]fleet.Row, error) {
	fl, err := openFleet(ctx, data, cfgPath)
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	return fl.Phones(ctx)
}

func phonesShow(ctx context.Context, args []string, stdout io.Writer) error {
	mac, args, err := takeMAC("phones show", args)
	if err != nil {
		return err
	}
	fs, data, cfgPath := commonFlags("phones show")
	limit := fs.Int("limit", 100, "newest events to show")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if _, err := parseFlags(fs, args, stdout, "Shows one phone and its timeline.", 0); err != nil {
		return err
	}
	fl, err := openFleet(ctx, *data, *cfgPath)
	if err != nil {
		return err
	}
	defer fl.Close()
	v, err := fl.Phone(ctx, mac, *limit)
	if err != nil {
		return fmt.Errorf("phones show: %w", err)
	}
	row, events := &v.Row, v.Events
	if *asJSON {
		return printJSON(stdout, struct {
			Phone  fleet.Row     `json:"phone"`
			Events []event.Event `json:"events"`
		}{v.Row, v.Events})
	}
	printable.Fprintf(stdout, "%s  %s  model %s  protocol %s  ip %s\n", mac.DeviceName(), row.Source, dash(row.Model), dash(row.Protocol), dash(row.IP))
	printable.Fprintf(stdout, "load %s → target %s   last seen %s\n", dash(row.Load), dash(row.Target), fleet.Ago(time.Now(), row.LastSeen))
	if row.Dropped != nil {
		fmt.Fprintln(stdout, row.Dropped)
	}
	printable.Fprintf(stdout, "state: %s", row.State)
	if row.Detail != "" {
		printable.Fprintf(stdout, " (%s)", row.Detail)
	}
	if row.Download != nil {
		printable.Fprintf(stdout, " %s", progressBar(row.Download))
	}
	fmt.Fprintln(stdout)
	for _, f := range row.Findings {
		printable.Fprintf(stdout, "\n%s: %s\n  cause: %s\n", strings.ToUpper(f.Severity), f.Symptom, f.Cause)
		if f.Did != "" {
			printable.Fprintf(stdout, "  phoneboot did: %s\n", f.Did)
		}
		if f.Do != "" {
			printable.Fprintf(stdout, "  do: %s\n", f.Do)
			fmt.Fprint(stdout, recovery.SeeAlso(f, row.Model, mac))
		}
		printable.Fprintf(stdout, "  source: %s\n", f.Source)
	}
	fmt.Fprintln(stdout)
	if len(events) == 0 {
		fmt.Fprintln(stdout, "no events yet")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, ev := range events {
		what := string(ev.Outcome)
		if !ev.IsRequest() {
			what = string(ev.Kind)
		}
		// Every event's client address: a foreign one shows who asked.
		printable.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.Local().Format("2006-01-02 15:04:05.000"), ev.Source, what, dash(ev.IP), ev.File, ev.Detail)
	}
	return tw.Flush()
}

// recoverCmd is "phoneboot recover MODEL": see internal/recovery.
func recoverCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, data, cfg := commonFlags("recover")
	mac := fs.String("mac", "", "the phone's `MAC`: its entry, target and last state; --watch follows only it")
	watch := fs.Bool("watch", false, "then wait for the phone to boot and follow it until it is up to date")
	timeout := fs.Duration("timeout", recovery.DefaultTimeout, "how long --watch waits")
	pos, err := parseFlags(fs, args, stdout, recovery.About, 1)
	if err != nil {
		return err
	}
	o := recovery.Options{Data: *data, ConfigFile: *cfg, Model: strings.Join(pos, ""), MAC: *mac, Timeout: *timeout, DB: *dbURL}
	g, err := recovery.Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, g.Text())
	if *watch {
		return recovery.Follow(ctx, o, func(c recovery.Change) { fmt.Fprintln(stdout, c) })
	}
	return g.Err()
}

func phonesAdd(ctx context.Context, sub string, args []string, stdout io.Writer) error {
	mac, args, err := takeMAC("phones "+sub, args)
	if err != nil {
		return err
	}
	fs, data, cfgPath := commonFlags("phones " + sub)
	model := fs.String("model", "", "model, e.g. 7960 or CP-7961G (adopt: the model seen, if known)")
	proto := fs.String("protocol", "", "SIP or SCCP (default: the site's)")
	label := fs.String("label", "", "label shown on the phone")
	var lines lineFlags
	fs.Var(&lines, "line", "a line as `EXT:PASSWORD[:NAME]`; repeat for more lines")
	if _, err := parseFlags(fs, args, stdout, "Adds a phone to phoneboot.toml.", 0); err != nil {
		return err
	}
	if sub == "adopt" && *model == "" {
		fl, err := openFleet(ctx, *data, *cfgPath)
		if err != nil {
			return err
		}
		v, err := fl.Phone(ctx, mac, 1)
		fl.Close()
		if err != nil || v.LastSeen.IsZero() {
			return fmt.Errorf("phones adopt: %s has not been seen; use phoneboot phones add", mac)
		}
		*model = v.Model
	}
	path := config.FileIn(*data, *cfgPath)
	np := config.NewPhone{MAC: mac, Model: *model, Protocol: *proto, Label: *label, Lines: lines}
	if err := config.AddPhone(path, *cfgPath != "", np); err != nil {
		return fmt.Errorf("phones %s: %w", sub, err)
	}
	fmt.Fprintf(stdout, "%s: added %s\n", path, mac)
	return nil
}

func phonesRemove(args []string, stdout io.Writer) error {
	mac, args, err := takeMAC("phones rm", args)
	if err != nil {
		return err
	}
	fs, data, cfgPath := commonFlags("phones rm")
	if _, err := parseFlags(fs, args, stdout, "Removes a phone from phoneboot.toml.", 0); err != nil {
		return err
	}
	path := config.FileIn(*data, *cfgPath)
	if err := config.RemovePhone(path, mac); err != nil {
		return fmt.Errorf("phones rm: %w", err)
	}
	fmt.Fprintf(stdout, "%s: removed %s\n", path, mac)
	return nil
}

// lineFlags collects --line EXT:PASSWORD[:NAME].
type lineFlags []config.Line

func (l *lineFlags) String() string { return "" }

func (l *lineFlags) Set(s string) error {
	line, err := config.ParseLine(s)
	*l = append(*l, line)
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(printable.JSON(w)) // inert on a terminal, same values
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// dash is v as printed, "-" for the zero value ("", no address).
func dash[T comparable](v T) string {
	var zero T
	if v == zero {
		return "-"
	}
	return fmt.Sprint(v)
}
