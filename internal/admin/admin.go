// Package admin is phoneboot's admin web server: the dashboard pages
// (internal/web), the JSON API under /api/v1 (internal/api) and /metrics,
// behind one set of rules for all three (docs/dashboard.md, "Security"):
//
//   - without a token it serves loopback only: New refuses any other
//     listen address, and a request whose Host is not a loopback name is
//     refused too (a DNS-rebinding page in the admin's browser would send
//     its own name);
//   - with a token, the API and /metrics want "Authorization: Bearer
//     TOKEN", the pages a session cookie that the login form sets;
//   - every write passes http.CrossOriginProtection (Sec-Fetch-Site,
//     Origin): a page of another site cannot post to this one;
//   - request bodies are capped, static files are served by exact name,
//     and every answer carries the security headers (a CSP without inline
//     script).
package admin

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"phoneboot/internal/api"
	"phoneboot/internal/firmware"
	"phoneboot/internal/node"
	"phoneboot/internal/web"
)

// Options are the admin server's own settings.
type Options struct {
	Addr  string // where it listens (to refuse a public address without Token)
	Token string // "": loopback only
}

// MinToken is the shortest token New takes: a token guards the inventory
// and the phones' SIP passwords from the whole LAN.
const MinToken = 16

// Body limits: what a form or an API write may send, and a firmware
// upload (the catalog's own cap on an import, plus the multipart framing).
const (
	maxBody   = 1 << 20
	maxUpload = firmware.DefaultMaxImportSize + 1<<20
)

// New returns the admin server's handler, or why it must not run.
func New(live node.Live, o Options) (http.Handler, error) {
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	pages := web.New(live, web.Options{Auth: o.Token != ""})
	a := &auth{token: o.Token, pages: pages}
	if o.Token != "" {
		a.key = sessionKey(o.Token)
	}

	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a.bearer(http.StripPrefix("/api/v1", api.New(live))))
	if live.Metrics != nil {
		mux.Handle("GET /metrics", a.bearerOrSession(live.Metrics))
	}
	mux.Handle("GET /static/", pages.Static()) // no secrets: the login page needs them
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.Handle("/", a.session(pages))

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse(w, r, http.StatusForbidden, "refused: this request came from another site's page (cross-origin). "+
			"Use the phoneboot pages themselves, or the API with a token.")
	}))
	var h http.Handler = csrf.Handler(limitBodies(mux))
	if o.Token == "" {
		h = loopbackHost(h)
	}
	return headers(h), nil
}

// checkOptions refuses a listen address other hosts reach when no token
// is set, and a token too short to guard it.
func checkOptions(o Options) error {
	if o.Token != "" {
		if len(o.Token) < MinToken {
			return fmt.Errorf("the admin token (--admin-token or PHONEBOOT_ADMIN_TOKEN) is %d characters;\n"+
				"  use at least %d, e.g. export PHONEBOOT_ADMIN_TOKEN=$(openssl rand -hex 16)", len(o.Token), MinToken)
		}
		return nil
	}
	if !loopbackAddr(o.Addr) {
		return fmt.Errorf("the admin web server on %s\n"+
			"would be open to the network without a token. Either:\n"+
			"  keep it on this machine:    --admin-addr 127.0.0.1:8069\n"+
			"  or set a token (16+ chars): --admin-token TOKEN or PHONEBOOT_ADMIN_TOKEN=TOKEN\n"+
			"    e.g. export PHONEBOOT_ADMIN_TOKEN=$(openssl rand -hex 16)\n"+
			"  or turn it off:             --admin-addr \"\"\n"+
			"See docs/dashboard.md, \"On a LAN, with a token\"", displayAddr(o.Addr))
	}
	return nil
}

// displayAddr says which addresses a listen address means.
func displayAddr(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		return addr + " (all addresses)"
	}
	return addr
}

// loopbackAddr: the listen address is reachable from this machine only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return loopbackHostName(host)
}

// loopbackHostName: host is "localhost" or a loopback address.
func loopbackHostName(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}

// loopbackHost refuses requests whose Host header names anything but
// this machine's loopback: without a token, another site's page whose
// name resolves to 127.0.0.1 (DNS rebinding) must not read the phones.
func loopbackHost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !loopbackHostName(host) {
			refuse(w, r, http.StatusMisdirectedRequest, "refused: without --admin-token the admin server answers only requests "+
				"addressed to 127.0.0.1 or localhost, not "+fmt.Sprintf("%q", r.Host)+".")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// limitBodies caps every request body; firmware uploads get the import's
// own cap.
func limitBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBody)
		if r.Method == http.MethodPost && (r.URL.Path == web.ImportPath || strings.HasPrefix(r.URL.Path, "/api/v1/firmware")) {
			limit = maxUpload
		}
		if r.ContentLength > limit {
			refuse(w, r, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("refused: the request body is %d bytes, more than the %d this address takes", r.ContentLength, limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

// refuse answers a refusal: in the API's error shape under /api/v1
// (docs/api.md: {"error": {"status": …, "message": …}}), as text elsewhere.
func refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if r.URL.Path != "/api/v1" && !strings.HasPrefix(r.URL.Path, "/api/v1/") {
		http.Error(w, msg, status)
		return
	}
	api.WriteError(w, status, msg)
}

// headers sets the security headers on every answer.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}
