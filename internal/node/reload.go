package node

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/store"
)

// reload reads the config and templates again and switches to them. A
// broken config leaves the running one in place (the error is returned).
func (n *node) reload(ctx context.Context) error {
	n.reloading.Lock()
	defer n.reloading.Unlock()
	file := n.cfgFile
	n.syncFleet(ctx)
	cfg, err := config.Read(file, n.opts.ConfigFile != "")
	if err != nil {
		return err
	}
	n.cfg.Store(cfg)
	if err := n.catalog.Refresh(); err != nil {
		return fmt.Errorf("firmware catalog: %w", err)
	}
	problems, err := n.prov.Update(cfg)
	if err != nil {
		return err
	}
	var inv []store.Phone
	for _, ph := range cfg.Phones {
		inv = append(inv, store.Phone{MAC: ph.MAC, Model: ph.Model.Name, Protocol: ph.Protocol, Label: ph.Label})
	}
	if err := n.db.SyncInventory(ctx, inv); err != nil {
		n.log.Error("cannot store the inventory", "err", err)
	}
	if cfg.NodeFile != "" {
		n.log.Info("config loaded", "file", file, "fleet file", cfg.File, "phones", len(inv))
	} else {
		n.log.Info("config loaded", "file", file, "phones", len(inv), "exists", cfg.Exists)
	}
	for _, pr := range problems {
		if pr.Note {
			n.log.Info("note: " + pr.String())
		} else {
			n.log.Warn(pr.String())
		}
	}
	return nil
}

// watch reloads on SIGHUP and when the config file, the templates or the
// top of the TFTP root change (checked every ReloadEvery; 0: SIGHUP only).
func (n *node) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	// Another node's edit of the fleet's file (nil channel when alone).
	var notices <-chan struct{}
	if n.fleetSync != nil {
		notices = n.db.Listen(ctx, store.ChannelInventory)
	}
	if n.opts.ReloadEvery > 0 {
		t := time.NewTicker(n.opts.ReloadEvery)
		defer t.Stop()
		tick = t.C
	}
	// A change is read once it has held still for one interval: an editor
	// that saves in place truncates the file first, and an empty
	// phoneboot.toml is a valid config without phones.
	last, pending := n.fingerprint(), ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			n.log.Info("SIGHUP: reloading")
		case <-notices:
			n.log.Info("the fleet's file changed on another node: reloading")
		case <-tick:
			fp := n.fingerprint()
			if fp == last || fp != pending {
				pending = fp
				continue
			}
			n.log.Info("files changed: reloading")
		}
		pending = ""
		last = n.fingerprint()
		if err := n.reload(ctx); err != nil {
			n.log.Error("reload failed; phones keep getting what they got before", "err", err)
		}
	}
}

// fingerprint sums up the size and time of everything a reload reads.
func (n *node) fingerprint() string {
	var b strings.Builder
	stat := func(path string) {
		if st, err := os.Stat(path); err == nil {
			fmt.Fprintf(&b, "%s %d %d;", path, st.Size(), st.ModTime().UnixNano())
		}
	}
	stat(n.cfgFile)
	if n.fleetSync != nil {
		stat(n.fleetSync.File)
	}
	stat(n.root) // a file added or removed at the top changes its time
	stat(n.templates())
	stat(n.firmwareDir()) // an import or rm renames a load's folder
	if entries, err := os.ReadDir(n.templates()); err == nil {
		for _, e := range entries {
			stat(filepath.Join(n.templates(), e.Name()))
		}
	}
	return b.String()
}

// syncFleet brings the node's fleet.toml in step with the fleet's copy
// before a reload reads it. What goes wrong is said, and the reload goes
// on with the file as it is: the database may be down for a while.
func (n *node) syncFleet(ctx context.Context) {
	if n.fleetSync == nil {
		return
	}
	res, err := n.fleetSync.Once(ctx)
	switch {
	case err != nil:
		n.log.Error("fleet file: "+store.Reason(err).Error(), "file", n.fleetSync.File)
	case res.Conflict != "":
		n.log.Error("fleet file: edited here while another node stored a newer revision: the fleet's is kept, this node's edit is saved aside",
			"revision", res.Revision, "saved", res.Conflict)
	case res.Shared:
		n.log.Info("fleet file: edit shared with the other nodes", "revision", res.Revision)
	case res.Written:
		n.log.Info("fleet file: another node's edit taken", "revision", res.Revision)
	}
}
