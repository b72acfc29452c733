// Package web is phoneboot's dashboard: server-rendered pages (Fleet,
// Phones, Phone, Firmware) over the running node, updated live over
// server-sent events. Pages are html/template (every name, MAC, file
// name and syslog line a network sender controls is escaped by it; no
// template.HTML of such text), assets are embedded, and the only script
// is static files (htmx, vendored, and app.js): the CSP forbids inline
// script. The rules on who may ask (tokens, CSRF, Host, size limits,
// headers) are internal/admin's, around this handler.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"phoneboot/internal/fleet"
	"phoneboot/internal/node"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ImportPath is where the firmware page posts uploads (admin gives it a
// larger body limit).
const ImportPath = "/firmware/import"

// Options are the pages' settings.
type Options struct {
	// Auth: a token is configured and every page is behind the login, so
	// the user is authenticated: only then may SIP passwords be shown.
	Auth bool
}

// Server is the dashboard's handler.
type Server struct {
	live  node.Live
	opts  Options
	mux   *http.ServeMux
	pages map[string]*template.Template
	rows  rowCache
	roll  rolloutCache
	files map[string]staticFile
}

// New returns the dashboard over live.
func New(live node.Live, o Options) *Server {
	s := &Server{live: live, opts: o, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	s.rows.ttl = time.Second
	for _, p := range []string{"fleet", "phones", "phone", "firmware", "login", "error"} {
		s.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	s.files = loadStatic()
	s.mux.HandleFunc("GET /{$}", s.fleetPage)
	s.mux.HandleFunc("GET /phones", s.phonesPage)
	s.mux.HandleFunc("GET /phones/{mac}", s.phonePage)
	s.mux.HandleFunc("POST /phones/{mac}/entry", s.saveEntry)
	s.mux.HandleFunc("POST /phones/{mac}/reveal", s.revealFiles)
	s.mux.HandleFunc("GET /firmware", s.firmwarePage)
	s.mux.HandleFunc("POST "+ImportPath, s.importFirmware)
	s.mux.HandleFunc("POST /firmware/{id}/remove", s.removeFirmware)
	s.mux.HandleFunc("GET /live", s.liveEvents)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// page is what every page template gets.
type page struct {
	Title string
	Nav   string // which tab is current
	Auth  bool   // a token guards the server: show "log out"
	Live  string // the SSE address app.js follows, "" none
	Data  any
}

// render writes page name with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Auth = s.opts.Auth
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.live.Log.Error("admin page", "page", name, "err", err)
		http.Error(w, "the page could not be drawn: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", page{Title: http.StatusText(status), Data: msg})
}

// failErr shows err: a body past its limit is 413, the rest 500.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		s.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request is larger than the %d bytes this form takes.", mb.Limit))
		return
	}
	s.fail(w, r, http.StatusInternalServerError, err.Error())
}

// Login draws the login form (admin checks the token).
func (s *Server) Login(w http.ResponseWriter, r *http.Request, status int, msg, next string) {
	s.render(w, r, status, "login", page{Title: "Log in", Data: struct{ Error, Next string }{msg, next}})
}

// rowCache holds the phones table for ttl: a page of 10,000 phones reads
// every timeline, and a boot storm watched by several browsers would
// otherwise read them for each refresh. Rows are shared: read only.
type rowCache struct {
	ttl  time.Duration
	mu   sync.Mutex
	at   time.Time
	rows []fleet.Row
}

func (c *rowCache) get(ctx context.Context, read func(context.Context) ([]fleet.Row, error)) ([]fleet.Row, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows != nil && time.Since(c.at) < c.ttl {
		return c.rows, nil
	}
	rows, err := read(ctx)
	if err != nil {
		return nil, err
	}
	if rows == nil {
		rows = []fleet.Row{}
	}
	c.rows, c.at = rows, time.Now()
	return rows, nil
}

// invalidate drops the rows: after a write the next page shows it.
func (c *rowCache) invalidate() {
	c.mu.Lock()
	c.rows = nil
	c.mu.Unlock()
}

// phones is every phone's row, at most ttl old.
func (s *Server) phones(ctx context.Context) ([]fleet.Row, error) {
	return s.rows.get(ctx, func(ctx context.Context) ([]fleet.Row, error) { return s.live.Fleet().Phones(ctx) })
}

// staticFile is an embedded asset with its validator.
type staticFile struct {
	body []byte
	etag string
	typ  string
}

func loadStatic() map[string]staticFile {
	out := map[string]staticFile{}
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := staticFS.ReadFile(p)
		sum := sha256.Sum256(b)
		typ := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
			".svg": "image/svg+xml"}[path.Ext(p)]
		if typ == "" {
			typ = "text/plain; charset=utf-8"
		}
		out["/"+p] = staticFile{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, typ: typ}
		return nil
	})
	return out
}

// Static serves the embedded assets by exact name (no listing).
func (s *Server) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := s.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.typ)
		w.Header().Set("ETag", f.etag)
		w.Header().Set("Cache-Control", "no-cache")
		if strings.Contains(r.Header.Get("If-None-Match"), f.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(f.body)
	})
}
