package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"phoneboot/internal/config"
	"phoneboot/internal/firmware"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phonetext"
	"phoneboot/internal/printable"
)

const firmwareUsage = `Usage:
  phoneboot firmware import PATH…     add the loads of firmware packages: Cisco .zip
                                      (cmterm-7960-sip.8-12-00.zip), .cop, .cop.sgn, .tar,
                                      .tar.gz, a directory, or loose files (a .loads and
                                      its components); all or nothing
  phoneboot firmware list [--json]    list the loads in the catalog
  phoneboot firmware rm ID            remove a load (refused while phoneboot.toml targets it)

Every form takes --data DIR; list and rm also --config FILE and --db URL (the
store, as serve's --db). The catalog is DATA/firmware; a running "phoneboot
serve" picks changes up by itself.
`

// firmwareCmd is "phoneboot firmware …".
func firmwareCmd(ctx context.Context, args []string, stdout io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "import", "add":
		return firmwareImport(args, stdout)
	case "list", "ls":
		return firmwareList(ctx, args, stdout)
	case "rm", "remove":
		return firmwareRemove(args, stdout)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, firmwareUsage)
		return nil
	case "":
		fmt.Fprint(stdout, firmwareUsage)
		return errors.New("firmware: which subcommand? (see phoneboot firmware help)")
	}
	return fmt.Errorf("firmware: unknown subcommand %q (see phoneboot firmware help)", sub)
}

func openCatalog(data string) (*firmware.Catalog, error) {
	return firmware.OpenCatalog(filepath.Join(data, "firmware"))
}

func firmwareImport(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("firmware import", flag.ContinueOnError)
	data := fs.String("data", "phoneboot-data", "data `directory`")
	paths, err := parseFlags(fs, args, stdout, "Adds the loads of firmware packages (PATH…: .zip, .cop, .cop.sgn, .tar, .tar.gz, directories, loose .loads and component files) to the catalog in DATA/firmware. All or nothing.", -1)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return errors.New("firmware import: which packages? give one or more files or directories (see phoneboot firmware help)")
	}
	c, err := openCatalog(*data)
	if err != nil {
		return err
	}
	r, err := c.Import(paths...)
	if err != nil {
		return fmt.Errorf("firmware import: %v; nothing imported", err)
	}
	for _, l := range r.Added {
		printable.Fprintf(stdout, "added   %s: %s, %s, %d %s, %s%s\n", l.ID, dash(l.Protocol), modelList(l.Models), len(l.Components),
			plural(len(l.Components), "component"), phonetext.Size(l.Size()), termNote(l))
	}
	for _, id := range r.Skipped {
		l, _ := c.Load(id)
		printable.Fprintf(stdout, "skipped %s: already in the catalog, identical (%d %s, %s)\n", id, len(l.Components),
			plural(len(l.Components), "component"), phonetext.Size(l.Size()))
	}
	for _, n := range r.Notes {
		printable.Fprintln(stdout, "note:", n)
	}
	return nil
}

func modelList(models []string) string {
	if len(models) == 0 {
		return "no known model"
	}
	return "for " + strings.Join(models, ", ")
}

func termNote(l firmware.Load) string {
	if len(l.TermFiles) == 0 {
		return ""
	}
	return ", with " + termList(l)
}

// termList is "term41, term61".
func termList(l firmware.Load) string {
	var out []string
	for _, t := range l.TermFiles {
		out = append(out, strings.TrimSuffix(strings.ToLower(t.Name), ".default.loads"))
	}
	return strings.Join(out, ", ")
}

// firmwareRow is one load of "phoneboot firmware list".
type firmwareRow struct {
	firmware.Load
	Size int64 `json:"size"` // .loads file and components
	fleet.LoadUse
}

func firmwareList(ctx context.Context, args []string, stdout io.Writer) error {
	fs, data, cfgPath := commonFlags("firmware list")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if _, err := parseFlags(fs, args, stdout, "Lists the loads in the firmware catalog (DATA/firmware).", 0); err != nil {
		return err
	}
	c, err := openCatalog(*data)
	if err != nil {
		return err
	}
	fl, err := openFleet(ctx, *data, *cfgPath)
	if err != nil {
		return err
	}
	defer fl.Close()
	phones, err := fl.Loads(ctx)
	if err != nil {
		return err
	}
	rows := []firmwareRow{}
	for _, l := range c.Loads() {
		rows = append(rows, firmwareRow{Load: l, Size: l.Size(), LoadUse: fleet.UseOf(phones, l.ID)})
	}
	if *asJSON {
		return printJSON(stdout, rows)
	}
	for _, p := range c.Problems() {
		printable.Fprintln(stdout, "problem:", p)
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "no firmware yet: add a package with phoneboot firmware import FILE")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROTOCOL\tMODELS\tCOMPONENTS\tSIZE\tTERM FILES\tPHONES RUNNING\tTARGETED\tIMPORTED FROM")
	for _, r := range rows {
		printable.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\n", r.ID, dash(r.Protocol), dash(strings.Join(r.Models, ",")),
			len(r.Components), phonetext.Size(r.Size), dash(termList(r.Load)), len(r.Running), len(r.Targeted), filepath.Base(r.Source))
	}
	return tw.Flush()
}

func firmwareRemove(args []string, stdout io.Writer) error {
	fs, data, cfgPath := commonFlags("firmware rm")
	ids, err := parseFlags(fs, args, stdout, "Removes a load from the firmware catalog; refused while phoneboot.toml targets it.", -1)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return errors.New("firmware rm: give one load ID (see phoneboot firmware list)")
	}
	c, err := openCatalog(*data)
	if err != nil {
		return err
	}
	l, ok := c.Load(ids[0])
	if !ok {
		return fmt.Errorf("firmware rm: no load %s in the catalog (see phoneboot firmware list)", ids[0])
	}
	cfg, path, err := loadConfig(*data, *cfgPath)
	var ces config.Errors
	if errors.As(err, &ces) {
		return fmt.Errorf("firmware rm: %s has %d %s (phoneboot check explains); cannot tell whether it targets %s, not removed", path, len(ces), plural(len(ces), "problem"), l.ID)
	}
	if err != nil {
		return fmt.Errorf("firmware rm: %v", err)
	}
	if refs := cfg.Targeting(l.ID); len(refs) > 0 {
		return fmt.Errorf("firmware rm: %s is the target of %s; change that first, not removed", l.ID, strings.Join(refs, " and "))
	}
	if err := c.Remove(l.ID); err != nil {
		return fmt.Errorf("firmware rm: %v", err)
	}
	fmt.Fprintf(stdout, "removed %s (%d %s, %s)\n", l.ID, len(l.Components), plural(len(l.Components), "component"), phonetext.Size(l.Size()))
	return nil
}
