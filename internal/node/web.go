package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"phoneboot/internal/config"
	"phoneboot/internal/feed"
	"phoneboot/internal/firmware"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phonehttp"
	"phoneboot/internal/provision"
	"phoneboot/internal/store"
	"phoneboot/internal/udpnet"
)

// maxWatchers bounds the live watchers (dashboard pages open at once).
const maxWatchers = 64

// Live is what the running node shares with its admin web server.
type Live struct {
	Data       string // the data directory
	ConfigFile string // the config file read (it may not exist)
	// ConfigGiven: the file was named by --config (a missing one is an
	// error then, not the defaults).
	ConfigGiven bool
	// InventoryFile is the file of the [[phone]] entries, where edits go:
	// ConfigFile, or on a node of a fleet its fleet.toml (docs/fleet.md);
	// InventoryGiven is ConfigGiven for it.
	InventoryFile  string
	InventoryGiven bool
	Store          *store.Store
	Catalog        *firmware.Catalog
	Prov           *provision.Provisioner
	Feed           *feed.Hub    // every event as it is recorded
	Metrics        http.Handler // /metrics
	Log            *slog.Logger
	// Config is the config as last loaded; Reload loads it again now (a
	// broken file is an error and changes nothing).
	Config func() *config.Config
	Reload func(context.Context) error
	// FleetCache is shared by every Fleet of this Live (and /metrics):
	// the phones page and the API re-read only the phones that changed.
	FleetCache *fleet.Cache
}

// Fleet is the fleet view of the running node.
func (l Live) Fleet() fleet.Fleet {
	return fleet.Fleet{Store: l.Store, Config: l.Config(), Cache: l.FleetCache}
}

func (n *node) live() Live {
	inv, given := n.cfgFile, n.opts.ConfigFile != ""
	if n.fleetSync != nil {
		inv, given = n.fleetSync.File, false
	}
	return Live{Data: n.opts.Data, ConfigFile: n.cfgFile, ConfigGiven: n.opts.ConfigFile != "",
		InventoryFile: inv, InventoryGiven: given,
		Store: n.db, Catalog: n.catalog, Prov: n.prov, Feed: n.feed, Metrics: n.metrics.Handler(), Log: n.log,
		Config: n.cfg.Load, Reload: n.reload, FleetCache: n.fleet}
}

// serveHTTP starts the phones' HTTP file service when its address is set
// and the admin server when it has a handler. Both are extras: when one cannot listen,
// serve says why and goes on (phones fall back to TFTP; the CLI shows
// what the pages do).
func (n *node) serveHTTP(ctx context.Context, g *errgroup.Group, admin http.Handler) {
	o := n.opts
	if o.HTTPAddr != "" {
		// The same per-address rate and the same cap as TFTP (--tftp-rate,
		// --tftp-burst, --tftp-max-transfers): a phone is one client.
		svc := &phonehttp.Service{Prov: n.prov, Logger: n.log,
			RatePerSource: o.TFTP.RatePerSource, RateBurst: o.TFTP.RateBurst, MaxActive: o.TFTP.MaxTransfers,
			Shared: n.catalog} // the other nodes of a fleet fetch its loads there
		if o.RecordTransfers {
			svc.Record = n.record
		}
		// A download running at shutdown may finish (within the grace).
		n.listenHTTP(ctx, g, "phone HTTP", o.HTTPAddr, "--http-addr", "127.0.0.1:6970", svc, context.Background())
	}
	if admin != nil {
		// Live pages end at shutdown.
		n.listenHTTP(ctx, g, "admin web", o.AdminAddr, "--admin-addr", "127.0.0.1:18069", admin, ctx)
	}
}

// listenHTTP serves h on addr until ctx is done; handlers' contexts come
// from base.
func (n *node) listenHTTP(ctx context.Context, g *errgroup.Group, what, addr, flag, other string, h http.Handler, base context.Context) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		err = udpnet.Explain(addr, what+" server", flag, other, "another phoneboot, a web server", err)
		n.log.Warn(fmt.Sprintf("%s not served (serving goes on; %s \"\" turns it off): %v", what, flag, err))
		return
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 16 << 10, ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return base }}
	n.log.Info(what+" listening", "addr", ln.Addr().String())
	n.listening(what, ln.Addr())
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("%s server stopped: %w", what, err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), n.opts.Grace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		return nil
	})
}
