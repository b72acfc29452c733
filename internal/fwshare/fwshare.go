// Package fwshare shares firmware between the nodes of a fleet (several
// phoneboots on one database, docs/fleet.md "Firmware across nodes").
//
// Each node publishes which loads its catalog holds, with every file's
// name, size and sha256, in the store's firmware_loads rows (Publish).
// A node that lacks a load another node holds fetches its files from
// that node's phone HTTP server (firmware.SharedPath), checks each one
// against the manifest, and only then imports them into its catalog
// through the normal, atomic import (Fetch). Provision names only loads
// of the local catalog, so a node never names a load it cannot serve.
package fwshare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"phoneboot/internal/firmware"
	"phoneboot/internal/store"
)

// Defaults of a Sharer's zero fields.
const (
	DefaultEvery         = 30 * time.Second
	DefaultLoadsPerRound = 4
	DefaultBytesPerRound = 2 << 30
	DefaultAttempts      = 4
)

// How long a load that failed to fetch from a node is left alone before
// the next try (doubling, up to the second), unless a notice says
// something changed.
const (
	firstBackoff = time.Minute
	maxBackoff   = 10 * time.Minute
)

// Sharer publishes this node's loads and fetches the others'. Its fields
// must not change once it runs; its methods are safe for concurrent use
// (one round at a time).
type Sharer struct {
	Store   *store.Store
	Catalog *firmware.Catalog
	Node    string // this node's name ([node] name); never ""
	Log     *slog.Logger
	// Client fetches the files; nil: one with connect and header
	// timeouts that follows no redirects.
	Client *http.Client
	// Imported, when set, is called after a fetch added a load to the
	// catalog: the node loads its provisioner again, so that configs may
	// name the load from then on.
	Imported func(ctx context.Context)

	Every         time.Duration // how often Run looks again without a notice; 0: DefaultEvery
	LoadsPerRound int           // loads one Fetch fetches at most; 0: DefaultLoadsPerRound
	BytesPerRound int64         // bytes one Fetch fetches at most; 0: DefaultBytesPerRound
	Attempts      int           // tries per file; 0: DefaultAttempts
	// RetryWait is the wait between tries of a file (doubling), unless
	// the node says how long (Retry-After); 0: one second.
	RetryWait time.Duration

	mu     sync.Mutex         // one Publish or Fetch at a time
	failed map[string]backoff // by failKey: loads not to try again yet
	once   sync.Once
}

type backoff struct {
	until time.Time
	wait  time.Duration
}

func (s *Sharer) init() {
	s.once.Do(func() {
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		if s.Client == nil {
			s.Client = newClient()
		}
		if s.Every <= 0 {
			s.Every = DefaultEvery
		}
		if s.LoadsPerRound <= 0 {
			s.LoadsPerRound = DefaultLoadsPerRound
		}
		if s.BytesPerRound <= 0 {
			s.BytesPerRound = DefaultBytesPerRound
		}
		if s.Attempts <= 0 {
			s.Attempts = DefaultAttempts
		}
		if s.RetryWait <= 0 {
			s.RetryWait = time.Second
		}
		s.failed = map[string]backoff{}
	})
}

// newClient connects within 10 s and waits at most 30 s for an answer's
// head; a download's own deadline bounds the body. It follows no
// redirect: files come from the node the fleet names, nowhere else.
func newClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ManifestOf is what the fleet is told of load l: every file of it.
func ManifestOf(l firmware.Load) store.Manifest {
	files := l.Files()
	m := store.Manifest{Files: make([]store.ManifestFile, len(files))}
	for i, f := range files {
		m.Files[i] = store.ManifestFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
	}
	return m
}

// Run publishes and fetches at once, then on every firmware notice of
// another node, every change of the local catalog and every Every, until
// ctx ends.
func (s *Sharer) Run(ctx context.Context) {
	s.init()
	notices := s.Store.Listen(ctx, store.ChannelFirmware)
	tick := time.NewTicker(s.Every)
	defer tick.Stop()
	// An import by another process (phoneboot firmware import) shows at
	// the catalog's next Refresh, a stat of its folder when nothing
	// changed: once a second, so that the fleet hears of it soon.
	look := time.NewTicker(time.Second)
	defer look.Stop()
	for {
		s.Round(ctx)
		if !s.next(ctx, notices, tick.C, look.C) {
			return
		}
	}
}

// next waits for a reason to run a round: false when ctx ended.
func (s *Sharer) next(ctx context.Context, notices <-chan struct{}, tick, look <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-notices:
			s.forgetFailures() // what failed may work now
			return true
		case <-s.Catalog.Changed():
			return true
		case <-tick:
			return true
		case <-look:
			s.Catalog.Refresh() // a change is a value on Changed
		}
	}
}

// Round is one Publish and one Fetch; their problems are logged.
func (s *Sharer) Round(ctx context.Context) {
	s.init()
	if _, err := s.Publish(ctx); err != nil && ctx.Err() == nil {
		s.Log.Warn("firmware: cannot tell the fleet which loads this node holds (tried again soon)", "err", err)
	}
	if _, err := s.Fetch(ctx); err != nil && ctx.Err() == nil {
		s.Log.Warn("firmware: cannot see which loads the other nodes hold (tried again soon)", "err", err)
	}
}

// Publish makes this node's firmware_loads rows match its catalog: a row
// for each load (its manifest), none for a load it no longer has. When
// anything changed it tells the other nodes (store.ChannelFirmware).
// Run at start it also repairs what a crash between an import and its
// publication left.
func (s *Sharer) Publish(ctx context.Context) (changed bool, err error) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publish(ctx)
}

func (s *Sharer) publish(ctx context.Context) (bool, error) {
	if err := s.Catalog.Refresh(); err != nil {
		return false, err
	}
	rows, err := s.Store.HeldLoads(ctx)
	if err != nil {
		return false, err
	}
	mine := map[string]store.HeldLoad{}
	for _, r := range rows {
		if r.Node == s.Node {
			mine[strings.ToLower(r.ID)] = r
		}
	}
	changed := false
	local := s.Catalog.Loads()
	for _, l := range local {
		m := ManifestOf(l)
		r, ok := mine[strings.ToLower(l.ID)]
		if ok && r.ID == l.ID && !r.Unreadable && !r.Removed && r.From == l.FetchedFrom &&
			r.Imported.Equal(l.Imported) && slices.Equal(r.Manifest.Files, m.Files) {
			continue // as it should be
		}
		if ok && r.ID != l.ID {
			// The same load spelled otherwise (removed, imported again):
			// one row per load.
			if err := s.Store.DeleteHeldLoad(ctx, s.Node, r.ID); err != nil {
				return changed, err
			}
		}
		if err := s.Store.PutHeldLoad(ctx, store.HeldLoad{ID: l.ID, Node: s.Node, Manifest: m, Imported: l.Imported, From: l.FetchedFrom}); err != nil {
			return changed, err
		}
		changed = true
	}
	// A load the node held and no longer does was removed here: its row
	// says so from now on, so that the node does not fetch it back.
	for key, r := range mine {
		if _, ok := s.Catalog.Load(key); ok || r.Removed {
			continue
		}
		r.Removed, r.Unreadable, r.Imported = true, false, time.Now()
		if err := s.Store.PutHeldLoad(ctx, r); err != nil {
			return changed, err
		}
		changed = true
	}
	if changed {
		s.Log.Info("firmware: the fleet knows this node's loads", "loads", len(local))
		if err := s.Store.Notify(ctx, store.ChannelFirmware); err != nil {
			return changed, fmt.Errorf("telling the other nodes: %w", err)
		}
	}
	return changed, nil
}

// FetchReport says what one Fetch did.
type FetchReport struct {
	Added  []string // the loads fetched and imported
	Failed []string // the loads that failed (each logged with why)
	Left   int      // loads that wait for a later round (the round's caps, a backoff)
}

// Fetch fetches, one at a time, the loads other nodes hold that this node
// lacks, from a node that holds it and says where it shares its firmware
// (nodes.firmware_url): at most LoadsPerRound loads and BytesPerRound
// bytes in one call. A load whose files do not all match its manifest is
// not imported, and the log says which node, load and file.
func (s *Sharer) Fetch(ctx context.Context) (FetchReport, error) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	var rep FetchReport
	if err := s.Catalog.Refresh(); err != nil {
		return rep, err
	}
	wanted, err := s.wanted(ctx)
	if err != nil {
		return rep, err
	}
	s.pruneFailures(wanted)
	var bytes int64
	now := time.Now()
	fetched := 0
	for _, w := range wanted {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		h, ok := s.holder(w, now)
		if !ok {
			rep.Left++
			continue
		}
		size := h.size()
		if fetched >= s.LoadsPerRound || (fetched > 0 && bytes+size > s.BytesPerRound) {
			rep.Left++
			continue
		}
		fetched++
		bytes += size
		start := time.Now()
		if err := s.fetchLoad(ctx, h); err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			s.fail(h, err)
			rep.Failed = append(rep.Failed, h.load.ID)
			continue
		}
		s.Log.Info("firmware: fetched a load from another node", "load", h.load.ID, "node", h.load.Node,
			"files", len(h.load.Manifest.Files), "bytes", size, "duration", time.Since(start).Round(time.Millisecond))
		rep.Added = append(rep.Added, h.load.ID)
	}
	if len(rep.Added) > 0 {
		if s.Imported != nil {
			s.Imported(ctx) // first: this node's phones may get the load at once
		}
		if _, err := s.publish(ctx); err != nil {
			s.Log.Warn("firmware: cannot tell the fleet which loads this node holds (tried again soon)", "err", err)
		}
	}
	return rep, nil
}

// want is a load this node lacks, with the nodes it can come from.
type want struct {
	id      string
	holders []holder // by node name
}

// holder is one node's row of a load, with where that node shares it.
type holder struct {
	load store.HeldLoad
	url  string // the node's firmware URL, ending in "/"
}

func (h holder) size() int64 {
	var n int64
	for _, f := range h.load.Manifest.Files {
		n += f.Size
	}
	return n
}

// wanted lists the loads other nodes with a firmware URL hold that the
// catalog lacks, by ID; but not a load this node removed, unless it was
// imported again (not fetched: imported by an admin) on a node since.
func (s *Sharer) wanted(ctx context.Context) ([]want, error) {
	nodes, err := s.Store.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	for _, n := range nodes {
		if n.Name != s.Node && n.FirmwareURL != "" {
			urls[n.Name] = strings.TrimSuffix(n.FirmwareURL, "/") + "/"
		}
	}
	rows, err := s.Store.HeldLoads(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*want{}
	var out []*want
	removed := map[string]time.Time{}  // by lower-case ID: when this node removed it
	imported := map[string]time.Time{} // by lower-case ID: its latest import by an admin
	for _, r := range rows {
		key := strings.ToLower(r.ID)
		switch {
		case r.Node == s.Node:
			if r.Removed {
				removed[key] = r.Imported
			}
			continue
		case r.Removed:
			continue
		case r.From == "" && r.Imported.After(imported[key]):
			imported[key] = r.Imported
		}
		url, ok := urls[r.Node]
		if !ok {
			continue
		}
		if _, have := s.Catalog.Load(r.ID); have {
			continue
		}
		w := byID[key]
		if w == nil {
			w = &want{id: r.ID}
			byID[key] = w
			out = append(out, w)
		}
		w.holders = append(w.holders, holder{load: r, url: url})
	}
	var list []want
	for _, w := range out {
		key := strings.ToLower(w.id)
		if at, ok := removed[key]; ok && !imported[key].After(at) {
			continue
		}
		list = append(list, *w)
	}
	return list, nil // rows come by ID, then node
}

// holder is the first node of w to fetch from now: one whose manifest is
// sound and that did not fail lately.
func (s *Sharer) holder(w want, now time.Time) (holder, bool) {
	for _, h := range w.holders {
		if b, ok := s.failed[failKey(h)]; ok && now.Before(b.until) {
			continue
		}
		if err := s.checkManifest(h.load); err != nil {
			s.fail(h, err)
			continue
		}
		return h, true
	}
	return holder{}, false
}

// failKey names a node's row of a load as it is now: a new manifest is a
// new try.
func failKey(h holder) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s", h.load.Node, strings.ToLower(h.load.ID))
	for _, f := range h.load.Manifest.Files {
		fmt.Fprintf(&b, "\x00%s %d %s", f.Name, f.Size, f.SHA256)
	}
	return b.String()
}

// fail logs why h could not be fetched and leaves it alone for a while.
func (s *Sharer) fail(h holder, err error) {
	key := failKey(h)
	b := s.failed[key]
	b.wait = min(max(2*b.wait, firstBackoff), maxBackoff)
	b.until = time.Now().Add(b.wait)
	s.failed[key] = b
	attrs := []any{"node", h.load.Node, "load", h.load.ID}
	var fe *fileError
	if errors.As(err, &fe) {
		attrs = append(attrs, "file", fe.name)
	}
	attrs = append(attrs, "err", err.Error(), "next_try", b.wait.String())
	s.Log.Warn("firmware: fetching a load from another node failed; nothing imported", attrs...)
}

// pruneFailures forgets the failures of loads no longer wanted: the map
// holds at most one entry per node and wanted load.
func (s *Sharer) pruneFailures(wanted []want) {
	keep := map[string]bool{}
	for _, w := range wanted {
		for _, h := range w.holders {
			keep[failKey(h)] = true
		}
	}
	for k := range s.failed {
		if !keep[k] {
			delete(s.failed, k)
		}
	}
}

func (s *Sharer) forgetFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.failed)
}
