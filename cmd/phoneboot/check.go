package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"phoneboot/internal/config"
)

// check validates the configuration and says what it holds.
func check(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	data := fs.String("data", "phoneboot-data", "data `directory`")
	cfgPath := fs.String("config", "", "config `file` (default DATA/phoneboot.toml)")
	if err := parseFlags(fs, args, stdout, "Checks phoneboot.toml and explains every problem with its file and line."); err != nil {
		return err
	}
	c, path, err := loadConfig(*data, *cfgPath)
	if err != nil {
		return err
	}
	if c == nil {
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

// loadConfig reads the config named by --config, or DATA/phoneboot.toml.
// A missing default file is no error (nil config); a missing named one is.
func loadConfig(data, named string) (*config.Config, string, error) {
	path := named
	if path == "" {
		path = filepath.Join(data, "phoneboot.toml")
	}
	c, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) && named == "" {
		return nil, path, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, fmt.Errorf("config file %s does not exist", path)
	}
	return c, path, err
}
