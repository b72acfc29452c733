package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"phoneboot/internal/config"
	"phoneboot/internal/node"
	"phoneboot/internal/printable"
)

// check validates the configuration, the templates and the loads the
// config names, and explains every problem with its file and line.
func check(args []string, stdout io.Writer) error {
	fs, data, cfgPath := commonFlags("check")
	if _, err := parseFlags(fs, args, stdout, "Checks phoneboot.toml, the templates and the firmware it names; explains every problem with its file and line.", 0); err != nil {
		return err
	}
	c, path, err := loadConfig(*data, *cfgPath)
	var ces config.Errors
	if errors.As(err, &ces) {
		for _, e := range ces {
			printable.Fprintln(stdout, e)
		}
		return fmt.Errorf("%s: %d %s", path, len(ces), plural(len(ces), "problem"))
	}
	if err != nil {
		return err
	}
	problems, err := node.Check(context.Background(), *data, c)
	if err != nil {
		printable.Fprintln(stdout, err)
		return fmt.Errorf("1 problem")
	}
	bad := 0
	for _, p := range problems {
		if p.Note {
			printable.Fprintln(stdout, "note:", p)
			continue
		}
		bad++
		printable.Fprintln(stdout, p)
	}
	if bad > 0 {
		return fmt.Errorf("%d %s", bad, plural(bad, "problem"))
	}
	if !c.Exists {
		fmt.Fprintf(stdout, "%s: not there; phones get the defaults for their model\n", path)
		return nil
	}
	if c.NodeFile != "" { // a node of a fleet: the fleet's file too
		path += " and " + c.File
	}
	fmt.Fprintf(stdout, "%s: ok: site protocol %s, %d phones, target loads for %d models\n", path, c.Site.Protocol, len(c.Phones), len(c.Site.Loads))
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
	if err == nil && *dbURL != "" {
		c.Store.URL = *dbURL
	}
	return c, path, err
}
