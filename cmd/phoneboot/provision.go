package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/firmware"
	"phoneboot/internal/phone"
	"phoneboot/internal/provision"
	"phoneboot/internal/store"
	"phoneboot/internal/syslog"
	"phoneboot/internal/tftp"
)

// provisioning ties the config file, the provisioner and the store
// together for serve, and reloads them when a file changes.
type provisioning struct {
	data, cfgPath string         // as given on the command line
	cfgFile       string         // the file actually read
	cfg           *config.Config // as last loaded (config.Default: no file)
	root          string
	templates     string
	prov          *provision.Provisioner
	db            *store.Store
	catalog       *firmware.Catalog
	events        *store.Writer
	log           *slog.Logger
	// recordTransfers puts every attributed transfer in the store.
	recordTransfers bool
}

func startProvisioning(ctx context.Context, data, cfgPath, root string, files tftp.Resolver, log *slog.Logger) (*provisioning, error) {
	p := &provisioning{data: data, cfgPath: cfgPath, root: root, templates: filepath.Join(data, "templates"), log: log}
	db, err := store.Open(ctx, filepath.Join(data, "phoneboot.db"))
	if err != nil {
		return nil, err
	}
	p.db = db
	p.events = store.NewWriter(db, 65536, 250*time.Millisecond, log)
	p.catalog, err = firmware.OpenCatalog(filepath.Join(data, "firmware"))
	if err != nil {
		p.close()
		return nil, fmt.Errorf("serve: firmware catalog: %w", err)
	}
	running, err := runningLoads(ctx, db)
	if err != nil {
		p.close()
		return nil, err
	}
	p.prov, err = provision.New(provision.Options{
		Root: root, Files: files, Templates: p.templates, Logger: log,
		Firmware: p.catalog, Running: running,
		OnEvent: func(ev provision.Event) {
			p.events.Add(store.Event{Time: ev.Time, MAC: ev.MAC, IP: ev.IP, Source: "provision", Kind: ev.Kind, File: ev.File, Detail: ev.Detail})
		},
	})
	if err != nil {
		p.close()
		return nil, fmt.Errorf("serve: %w", err)
	}
	if err := p.reload(ctx); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// reload reads the config and templates again and switches to them. A
// broken config leaves the running one in place (the error is returned).
func (p *provisioning) reload(ctx context.Context) error {
	cfg, file, err := loadConfig(p.data, p.cfgPath)
	if err != nil {
		return err
	}
	p.cfgFile, p.cfg = file, cfg
	if err := p.catalog.Refresh(); err != nil {
		return fmt.Errorf("firmware catalog: %w", err)
	}
	problems, err := p.prov.Update(cfg)
	if err != nil {
		return err
	}
	var inv []store.Phone
	for _, ph := range cfg.Phones {
		inv = append(inv, store.Phone{MAC: ph.MAC, Model: ph.Model.Name, Protocol: ph.Protocol, Label: ph.Label})
	}
	if err := p.db.SyncInventory(ctx, inv); err != nil {
		p.log.Error("cannot store the inventory", "err", err)
	}
	p.log.Info("config loaded", "file", file, "phones", len(cfg.Phones), "exists", cfg.Exists)
	for _, pr := range problems {
		if pr.Note {
			p.log.Info("note: " + pr.String())
		} else {
			p.log.Warn(pr.String())
		}
	}
	return nil
}

// watch reloads on SIGHUP and when the config file, the templates or the
// top of the TFTP root change (checked every interval; 0: SIGHUP only).
func (p *provisioning) watch(ctx context.Context, interval time.Duration) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	last := p.fingerprint()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			p.log.Info("SIGHUP: reloading")
		case <-tick:
			fp := p.fingerprint()
			if fp == last {
				continue
			}
			p.log.Info("files changed: reloading")
		}
		last = p.fingerprint()
		if err := p.reload(ctx); err != nil {
			p.log.Error("reload failed; phones keep getting what they got before", "err", err)
		}
	}
}

// prune applies the event retention at start and then hourly, so that a
// year of boots does not fill the disk.
func (p *provisioning) prune(ctx context.Context, maxAge time.Duration, maxCount int) {
	if maxAge <= 0 && maxCount <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := p.db.Prune(ctx, maxAge, maxCount)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Error("pruning old events", "err", err)
		case n > 0:
			p.log.Info("pruned old events", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fingerprint sums up the size and time of everything a reload reads.
func (p *provisioning) fingerprint() string {
	var b strings.Builder
	stat := func(path string) {
		if st, err := os.Stat(path); err == nil {
			fmt.Fprintf(&b, "%s %d %d;", path, st.Size(), st.ModTime().UnixNano())
		}
	}
	stat(p.cfgFile)
	stat(p.root) // a file added or removed at the top changes its time
	stat(p.templates)
	stat(filepath.Join(p.data, "firmware")) // an import or rm renames a load's folder
	if entries, err := os.ReadDir(p.templates); err == nil {
		for _, e := range entries {
			stat(filepath.Join(p.templates, e.Name()))
		}
	}
	return b.String()
}

// tftpEvent records a transfer in the phone's timeline.
func (p *provisioning) tftpEvent(ev tftp.Event) {
	if ev.Op != tftp.OpRRQ {
		return
	}
	p.prov.Transferred(ev)
	if !p.recordTransfers {
		return
	}
	mac, ok := p.prov.MACFor(cleanOr(ev.File), ev.Remote.Addr())
	if !ok {
		return
	}
	detail := ev.Error
	if ev.Retransmits > 0 {
		detail = strings.TrimSpace(fmt.Sprintf("%s %d retransmits", detail, ev.Retransmits))
	}
	p.events.Add(store.Event{Time: ev.Start, MAC: mac, IP: ev.Remote.Addr(), Source: "tftp", Kind: "request",
		File: ev.File, Outcome: string(ev.Outcome), Bytes: ev.Bytes, Duration: ev.Duration, Detail: detail})
}

// runningLoads is the load each phone was last seen running.
func runningLoads(ctx context.Context, db *store.Store) (map[phone.MAC]string, error) {
	phones, err := db.Phones(ctx)
	if err != nil {
		return nil, err
	}
	running := map[phone.MAC]string{}
	for _, p := range phones {
		if p.Load != "" {
			running[p.MAC] = p.Load
		}
	}
	return running, nil
}

// startSyslog receives syslog and puts each line in the timeline of the
// phone last seen at its source address. Syslog is an extra: when its
// port cannot be opened (another syslog daemon, no privileges) serve
// says so and goes on. The returned func stops it.
func (p *provisioning) startSyslog(addr string, wg *sync.WaitGroup) func() {
	if addr == "" {
		return func() {}
	}
	conns, err := syslog.Listen(addr)
	if err != nil {
		p.log.Warn("syslog not received: cannot listen (another syslog daemon on the port? choose one with --syslog-addr, or --syslog-addr \"\" to turn it off)", "addr", addr, "err", err)
		return func() {}
	}
	srv := &syslog.Server{Logger: p.log, RatePerSource: 50, RateBurst: 200, Handler: func(m syslog.Message) {
		mac, ok := p.prov.MACFor("", m.From.Addr())
		if !ok {
			return // not from a phone phoneboot knows
		}
		p.events.Add(store.Event{Time: m.Time, MAC: mac, IP: m.From.Addr(), Source: "syslog", Kind: "syslog", Detail: m.Raw})
	}}
	for _, c := range conns {
		p.log.Info("syslog listening", "addr", c.LocalAddr().String())
		wg.Go(func() {
			if err := srv.Serve(c); err != nil && !errors.Is(err, syslog.ErrServerClosed) {
				p.log.Error("syslog server stopped", "err", err)
			}
		})
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st := srv.Stats()
		p.log.Info("syslog stopped", "received", st.Received, "dropped", st.Dropped)
	}
}

func cleanOr(name string) string {
	if c, err := tftp.CleanName(name); err == nil {
		return c
	}
	return name
}

func (p *provisioning) close() {
	if p.events != nil {
		if err := p.events.Close(); err != nil {
			p.log.Error("storing the last events", "err", err)
		}
		if n := p.events.Dropped(); n > 0 {
			p.log.Warn("events dropped because the store could not keep up", "dropped", n)
		}
	}
	if p.db != nil {
		p.db.Close()
	}
}
