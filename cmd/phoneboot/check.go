package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"phoneboot/internal/config"
	"phoneboot/internal/firmware"
	"phoneboot/internal/phone"
	"phoneboot/internal/provision"
	"phoneboot/internal/store"
)

// check validates the configuration, the templates and the loads the
// config names, and explains every problem with its file and line.
func check(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	data := fs.String("data", "phoneboot-data", "data `directory`")
	cfgPath := fs.String("config", "", "config `file` (default DATA/phoneboot.toml)")
	if err := parseFlags(fs, args, stdout, "Checks phoneboot.toml, the templates and the firmware it names; explains every problem with its file and line."); err != nil {
		return err
	}
	c, path, err := loadConfig(*data, *cfgPath)
	var ces config.Errors
	if errors.As(err, &ces) {
		for _, e := range ces {
			fmt.Fprintln(stdout, e)
		}
		return fmt.Errorf("%s: %d %s", path, len(ces), plural(len(ces), "problem"))
	}
	if err != nil {
		return err
	}
	catalog, err := firmware.OpenCatalog(filepath.Join(*data, "firmware"))
	if err != nil {
		return err
	}
	// Where each phone's upgrade stands, from what serve saw.
	running := map[phone.MAC]string{}
	if _, err := os.Stat(filepath.Join(*data, "phoneboot.db")); err == nil {
		db, err := store.Open(context.Background(), filepath.Join(*data, "phoneboot.db"))
		if err != nil {
			return err
		}
		phones, err := db.Phones(context.Background())
		db.Close()
		if err != nil {
			return err
		}
		for _, p := range phones {
			if p.Load != "" {
				running[p.MAC] = p.Load
			}
		}
	}
	problems, err := provision.Check(c, filepath.Join(*data, "tftp"), filepath.Join(*data, "templates"), catalog, running)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return fmt.Errorf("1 problem")
	}
	bad := 0
	for _, p := range problems {
		if p.Note {
			fmt.Fprintln(stdout, "note:", p)
			continue
		}
		bad++
		fmt.Fprintln(stdout, p)
	}
	if bad > 0 {
		return fmt.Errorf("%d %s", bad, plural(bad, "problem"))
	}
	if !c.Exists {
		fmt.Fprintf(stdout, "%s: not there; phones get the defaults for their model\n", path)
		return nil
	}
	proto := c.Site.Protocol
	if proto == "" {
		proto = "not set"
	}
	fmt.Fprintf(stdout, "%s: ok: site protocol %s, %d phones, target loads for %d models\n", path, proto, len(c.Phones), len(c.Site.Loads))
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// loadConfig reads the config named by --config, or DATA/phoneboot.toml.
// A missing default file is no error (config.Default); a missing named one is.
func loadConfig(data, named string) (*config.Config, string, error) {
	path := config.FileIn(data, named)
	c, err := config.Read(path, named != "")
	return c, path, err
}
