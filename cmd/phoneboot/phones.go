package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonetext"
	"phoneboot/internal/printable"
	"phoneboot/internal/recovery"
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
	phonetext.Table(stdout, rows, time.Now())
	return nil
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
		phonetext.Table(stdout, rows, time.Now())
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
	if *asJSON {
		return printJSON(stdout, struct {
			Phone  fleet.Row     `json:"phone"`
			Events []event.Event `json:"events"`
		}{v.Row, v.Events})
	}
	return phonetext.Show(stdout, v.Row, v.Events, time.Now())
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
	path := config.InventoryFile(config.FileIn(*data, *cfgPath))
	np := config.NewPhone{MAC: mac, Model: *model, Protocol: *proto, Label: *label, Lines: lines}
	if err := config.AddPhone(path, *cfgPath != "" && path == *cfgPath, np); err != nil {
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
	path := config.InventoryFile(config.FileIn(*data, *cfgPath))
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
