package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"phoneboot/internal/admin"
	"phoneboot/internal/node"
	"phoneboot/internal/printable"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	data := fs.String("data", "phoneboot-data", "data `directory`; files are served from its tftp/ folder (created if missing)")
	cfgPath := fs.String("config", "", "config `file` (default DATA/phoneboot.toml); a broken one stops the start")
	services := node.Flags(fs)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log as JSON lines instead of text")
	if _, err := parseFlags(fs, args, stdout, "Serves phones over TFTP: configs generated from DATA/phoneboot.toml, and the files under DATA/tftp.", 0); err != nil {
		return err
	}
	opts, err := services()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if opts.Logger, err = newLogger(stderr, *logLevel, *logJSON); err != nil {
		return err
	}
	opts.Data, opts.ConfigFile = *data, *cfgPath
	opts.Admin = func(l node.Live) (http.Handler, error) {
		return admin.New(l, admin.Options{Addr: opts.AdminAddr, Token: opts.AdminToken})
	}
	err = node.Run(ctx, opts)
	var le *node.ListenError
	if err != nil && !errors.As(err, &le) {
		return fmt.Errorf("serve: %w", err)
	}
	return err
}

func newLogger(w io.Writer, level string, asJSON bool) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if asJSON {
		return slog.New(slog.NewJSONHandler(printable.JSON(w), opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
