// Package admin is phoneboot's admin web server: the dashboard pages,
// the JSON API under /api/v1 and /metrics, behind one set of rules
// (loopback only unless a token is set, CSRF on writes, size limits,
// security headers). (Skeleton: issue 13 fills it in.)
package admin

import (
	"net/http"

	"phoneboot/internal/api"
	"phoneboot/internal/node"
)

// Options are the admin server's own settings.
type Options struct {
	Addr  string // where it listens (to refuse a public address without Token)
	Token string // "": loopback only
}

// New returns the admin server's handler.
func New(live node.Live, o Options) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", api.New(live)))
	if live.Metrics != nil {
		mux.Handle("GET /metrics", live.Metrics)
	}
	return mux, nil
}
