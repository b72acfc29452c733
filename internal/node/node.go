// Package node runs one phoneboot: the store, the firmware catalog, the
// provisioner and the services that phones talk to (TFTP, DHCP, syslog,
// HTTP on 6970) and the admin web server,
// wired together and stopped in order. `phoneboot serve` is flags around
// Run.
package node

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/feed"
	"phoneboot/internal/files"
	"phoneboot/internal/firmware"
	"phoneboot/internal/fleet"
	"phoneboot/internal/fleetfile"
	"phoneboot/internal/metrics"
	"phoneboot/internal/phone"
	"phoneboot/internal/phonestate"
	"phoneboot/internal/phonetftp"
	"phoneboot/internal/provision"
	"phoneboot/internal/stale"
	"phoneboot/internal/store"
	"phoneboot/internal/syslog"
	"phoneboot/internal/tftp"
	"phoneboot/internal/udpnet"
)

// Options configure a node.
type Options struct {
	Data       string // data directory: tftp/, firmware/, templates/, phoneboot.db
	ConfigFile string // "" means Data/phoneboot.toml, which may be missing
	DB         string // the store: a postgres:// URL; "": [store] url, else Data/phoneboot.db

	// TFTP is the TFTP server with its limits set; Run sets its Resolver,
	// OnEvent, Receiver and Logger.
	TFTP       *tftp.Server
	TFTPAddr   string
	CacheBytes int64  // memory for shared file contents
	UploadDir  string // "": uploads refused; never inside what is served (see openUploads)
	// UploadMaxTotal caps the bytes in UploadDir, its files and the
	// uploads in progress (0: no cap).
	UploadMaxTotal int64

	// HTTPAddr is the phones' HTTP file service (port 6970; "": off);
	// AdminAddr the admin web server's, whose handler Admin makes
	// (AdminToken: the token it asks of non-loopback clients).
	HTTPAddr, AdminAddr, AdminToken string
	Admin                           func(Live) (http.Handler, error)

	DHCPIface, DHCPRange string // override [dhcp]; DHCP is off without an interface
	SyslogAddr           string // "": off
	// DiscoverIface: listen for CDP/LLDP there ("": off); AnnounceIface
	// and AnnounceVLAN: the voice-VLAN announcer's ("": off).
	DiscoverIface, AnnounceIface string
	AnnounceVLAN                 int
	Stale                        StaleOptions

	RecordTransfers bool            // every attributed transfer in the phone's timeline
	Keep            store.Retention // what the store keeps of events and unknown phones
	EventRate       float64         // events stored per second per phone (0: no limit)
	ReloadEvery     time.Duration   // look for changed files this often (0: only on SIGHUP)
	Grace           time.Duration   // how long running transfers may finish at shutdown

	Logger *slog.Logger
	// Listening, when set, is told each address a service listens on
	// ("tftp", "syslog", "phone HTTP", "admin web"): how tests find the
	// ports of services given port 0.
	Listening func(service string, addr net.Addr)
}

// ListenError is a service address that could not be opened; its message
// says why and what to do.
type ListenError struct {
	Addr string
	Err  error // explained by udpnet.Explain
}

func (e *ListenError) Error() string { return e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// node is one running phoneboot.
type node struct {
	opts    Options
	log     *slog.Logger
	root    string // the TFTP root
	db      *store.Store
	events  *store.Writer
	catalog *firmware.Catalog
	book    *phonestate.Book
	prov    *provision.Provisioner
	feed    *feed.Hub
	metrics *metrics.Metrics
	fleet   *fleet.Cache // the fleet view's, shared by the admin server and /metrics
	running running      // DHCP and syslog, once they run (for metrics)
	stale   atomic.Pointer[stale.Answerer]

	reloading sync.Mutex                    // one reload at a time (watch, the admin server)
	cfg       atomic.Pointer[config.Config] // as last loaded (config.Default without a file)
	cfgFile   string                        // the config file read, there or not
	// name is the node's [node] name at start ("": alone); fleetSync,
	// set when it has one, keeps its fleet.toml in step (docs/fleet.md).
	name      string
	fleetSync *fleetfile.Sync
}

// Run serves until ctx is done, then stops in order: listeners first,
// then running transfers (for up to Grace), then the event writer is
// flushed and the store closed. A problem that keeps phoneboot from
// serving (a broken config, an address it cannot listen on) is returned
// before anything is served.
func Run(ctx context.Context, o Options) error {
	n := &node{opts: o, log: o.Logger, root: filepath.Join(o.Data, "tftp"), feed: feed.New(maxWatchers),
		fleet: fleet.NewCache(), cfgFile: config.FileIn(o.Data, o.ConfigFile)}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.metrics = n.newMetrics()
	if msg, warn := ensureFileLimit(uint64(max(o.TFTP.MaxTransfers, 0))); warn {
		n.log.Warn(msg)
	} else if msg != "" {
		n.log.Info(msg)
	}
	defer n.close()
	dir, err := n.open(ctx)
	if err != nil {
		return err
	}
	defer dir.Close()

	srv := o.TFTP
	svc := &phonetftp.Service{Prov: n.prov}
	if o.RecordTransfers {
		svc.Record = n.record
	}
	srv.Resolver, srv.OnEvent, srv.Logger = svc, svc.Transferred, n.log
	if o.UploadDir != "" {
		up, err := n.openUploads()
		if err != nil {
			return err
		}
		defer up.Close()
		srv.Receiver = up
	}
	// The admin server's handler refuses an unsafe setup (a public
	// address without a token) before anything is served.
	var admin http.Handler
	if o.AdminAddr != "" && o.Admin != nil {
		if admin, err = o.Admin(n.live()); err != nil {
			return err
		}
	}
	conns, err := tftp.Listen(o.TFTPAddr)
	if err != nil {
		return &ListenError{Addr: o.TFTPAddr, Err: udpnet.Explain(o.TFTPAddr, "TFTP server", "--tftp-addr", ":6969", "tftpd-hpa, atftpd, dnsmasq, inetd", err)}
	}
	dhcpSrv, err := n.dhcp(ctx)
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return err
	}
	logSrv, logConns := n.syslog()

	g, gctx := errgroup.WithContext(ctx)
	for _, c := range conns {
		n.log.Info("tftp listening", "addr", c.LocalAddr().String(), "root", n.root)
		n.listening("tftp", c.LocalAddr())
		g.Go(func() error { return srv.Serve(gctx, c) })
	}
	for _, c := range logConns {
		n.log.Info("syslog listening", "addr", c.LocalAddr().String())
		n.listening("syslog", c.LocalAddr())
		g.Go(func() error { return logSrv.Serve(gctx, c) })
	}
	if dhcpSrv != nil {
		g.Go(func() error { return dhcpSrv.run(gctx) })
		g.Go(func() error { dhcpSrv.warn(gctx); return nil })
	}
	n.serveHTTP(gctx, g, admin)
	n.shareFirmware(gctx, g)
	n.discover(gctx, g)
	n.answerStale(gctx, g)
	g.Go(func() error { n.watch(gctx); return nil })
	g.Go(func() error { n.announce(gctx); return nil })
	g.Go(func() error {
		<-gctx.Done()
		n.stop(srv, logSrv)
		return nil
	})
	err = g.Wait()
	n.log.Info("stopped")
	return err
}

// stop stops the listeners, then waits for running transfers.
func (n *node) stop(srv *tftp.Server, logSrv *syslog.Server) {
	if logSrv != nil {
		st := logSrv.Stats()
		n.log.Info("syslog stopped", "received", st.Received, "dropped", st.Dropped)
	}
	n.log.Info("shutting down: waiting for running transfers", "running", srv.Active(), "timeout", n.opts.Grace.String())
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		n.log.Warn("shutdown timeout reached: remaining transfers were cut", "err", err)
	}
}

// open opens the store, the catalog and the TFTP root, and loads the
// config into a provisioner.
func (n *node) open(ctx context.Context) (*files.Dir, error) {
	if err := os.MkdirAll(n.root, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the TFTP folder: %w", err)
	}
	// The config is read again by reload, which reports its errors; the
	// store and the node's name are taken once, here.
	url := n.opts.DB
	if cfg, err := config.Read(n.cfgFile, n.opts.ConfigFile != ""); err == nil {
		url = cmp.Or(url, cfg.Store.URL)
		n.name = cfg.Node.Name
	} else if name, err := config.NodeName(n.cfgFile); err == nil {
		n.name = name // the fleet's file may be broken: the database has the fleet's
	}
	db, err := store.OpenURL(ctx, n.opts.Data, url)
	if err != nil {
		return nil, err
	}
	n.log.Info("store opened", "engine", db.Engine(), "at", store.Where(n.opts.Data, url))
	n.db = db
	if n.name != "" && db.Engine() == "sqlite" {
		n.log.Warn("this node has a name, but its store is the SQLite file in its data directory: no other node can share it; a fleet's nodes share one PostgreSQL database (docs/fleet.md)",
			"node", n.name)
	}
	if n.name != "" {
		file := filepath.Join(filepath.Dir(n.cfgFile), config.FleetFile)
		n.fleetSync = &fleetfile.Sync{Store: db, Node: n.name, File: file,
			Check: func(text []byte) error { return config.CheckFleet(file, text) }}
	}
	// The writer applies the retention: at start, hourly, and as soon as
	// a limit is passed.
	n.events = store.NewWriter(db, store.WriterOptions{Queue: 8192, FlushEvery: 250 * time.Millisecond,
		Log: n.log, Keep: n.opts.Keep, Rate: n.opts.EventRate})
	if n.catalog, err = firmware.OpenCatalog(n.firmwareDir()); err != nil {
		return nil, fmt.Errorf("firmware catalog: %w", err)
	}
	saved, err := savedPhones(ctx, db)
	if err != nil {
		return nil, err
	}
	n.book = phonestate.New(0)
	n.book.Restore(saved)
	dir, err := files.OpenDir(n.root, n.opts.CacheBytes)
	if err != nil {
		return nil, err
	}
	n.prov, err = provision.New(provision.Options{
		Root: n.root, Files: dir, Templates: n.templates(), Logger: n.log,
		Firmware: n.catalog, Book: n.book, OnEvent: n.record,
	})
	if err == nil {
		err = n.reload(ctx)
	}
	if err != nil {
		dir.Close()
		return nil, err
	}
	return dir, nil
}

// Check is what `phoneboot check` reports beyond the config file's own
// errors: what phones of cfg would get from the templates, the TFTP root and
// the firmware catalog of data, judged from where each phone's upgrade
// stands in the store (when there is one).
func Check(ctx context.Context, data string, cfg *config.Config) ([]provision.Problem, error) {
	o, err := OpenOffline(ctx, data, cfg)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return o.Problems, nil
}

// savedPhones is what the store kept of each phone: its running load and
// the model it showed.
func savedPhones(ctx context.Context, db *store.Store) ([]phonestate.Saved, error) {
	phones, err := db.Phones(ctx)
	if err != nil {
		return nil, err
	}
	var out []phonestate.Saved
	for _, p := range phones {
		m, _ := phone.ModelByName(p.SeenModel)
		if p.Load != "" || m.Name != "" {
			out = append(out, phonestate.Saved{MAC: p.MAC, Model: m, Running: p.Load})
		}
	}
	return out, nil
}

func (n *node) listening(service string, addr net.Addr) {
	if n.opts.Listening != nil {
		n.opts.Listening(service, addr)
	}
}

// record stores ev and hands it to whoever watches live and counts.
func (n *node) record(ev event.Event) {
	if ev.Node == "" {
		ev.Node = n.name
	}
	n.events.Add(ev)
	n.feed.Publish(ev)
	n.metrics.Observe(ev)
	n.sawStale(ev)
}

func (n *node) templates() string { return filepath.Join(n.opts.Data, "templates") }

func (n *node) firmwareDir() string { return filepath.Join(n.opts.Data, "firmware") }

// close flushes the events and closes the store; every service has
// stopped by then.
func (n *node) close() {
	if n.events != nil {
		if err := n.events.Close(); err != nil {
			n.log.Error("storing the last events", "err", err)
		}
		if d := n.events.Dropped(); d > 0 {
			n.log.Warn("events dropped because the store could not keep up", "dropped", d)
		}
		if d := n.events.Outage(); d > 0 {
			n.log.Warn("events dropped while the store could not be reached (buffer full)", "dropped", d)
		}
		if d := n.events.Limited(); d > 0 {
			n.log.Warn("events dropped by the per-phone rate limit (--events-rate)", "dropped", d)
		}
	}
	if n.db != nil {
		n.db.Close()
	}
}
