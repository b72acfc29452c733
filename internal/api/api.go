// Package api is phoneboot's JSON API, /api/v1 of the admin server: the
// phones, one phone with its timeline and findings, its generated files,
// events with cursor paging, the firmware catalog and inventory edits
// (docs/api.md). Every answer is JSON, every error one shape (Error).
//
// The admin server in front of it checks who may ask (token or
// loopback) and cross-origin writes; this package bounds what it reads
// itself and trusts no size a client states.
package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"phoneboot/internal/node"
	"phoneboot/internal/phone"
	"phoneboot/internal/printable"
)

// MaxJSONBody is the largest JSON (or TOML) request body read.
const MaxJSONBody = 256 << 10

// uploadOverhead is what a multipart upload may carry beyond the
// catalog's import limit: part headers and boundaries.
const uploadOverhead = 1 << 20

// api serves one node's API.
type api struct {
	live node.Live
	mux  *http.ServeMux
}

// New returns the API's handler for paths below /api/v1 (the prefix
// stripped).
func New(live node.Live) http.Handler {
	a := &api{live: live, mux: http.NewServeMux()}
	routes := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /{$}", a.index},
		{"GET /phones", a.phones},
		{"GET /phones/{mac}", a.phone},
		{"GET /phones/{mac}/files", a.files},
		{"GET /events", a.events},
		{"GET /firmware", a.firmwareList},
		{"POST /firmware", a.firmwareImport},
		{"DELETE /firmware/{id}", a.firmwareRemove},
		{"POST /inventory", a.inventoryAdd},
		{"GET /inventory/{mac}", a.inventoryGet},
		{"PUT /inventory/{mac}", a.inventoryPut},
		{"DELETE /inventory/{mac}", a.inventoryDelete},
		{"GET /nodes", a.nodes},
	}
	for _, rt := range routes {
		a.mux.HandleFunc(rt.pattern, rt.h)
	}
	return a
}

// ServeHTTP answers what the mux does not know (404) or not for the
// method (405, with Allow) in the API's error shape; the rest goes to
// the routes.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h, pattern := a.mux.Handler(r)
	if pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	// The mux's own 404 or 405 handler, caught: its status and Allow
	// header, our body.
	c := &caught{header: http.Header{}}
	h.ServeHTTP(c, r)
	switch c.status {
	case http.StatusMethodNotAllowed:
		allow := c.header.Get("Allow")
		w.Header().Set("Allow", allow)
		fail(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
	case http.StatusNotFound, 0:
		fail(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s (see docs/api.md; GET /api/v1/ lists them)", r.URL.Path))
	default:
		fail(w, c.status, http.StatusText(c.status))
	}
}

// caught records what a handler answers, without its body.
type caught struct {
	header http.Header
	status int
}

func (c *caught) Header() http.Header         { return c.header }
func (c *caught) Write(p []byte) (int, error) { return len(p), nil }
func (c *caught) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// endpoints is what GET /api/v1/ lists.
var endpoints = []string{
	"GET /api/v1/phones",
	"GET /api/v1/phones/{mac}",
	"GET /api/v1/phones/{mac}/files",
	"GET /api/v1/events",
	"GET /api/v1/firmware",
	"POST /api/v1/firmware",
	"DELETE /api/v1/firmware/{id}",
	"POST /api/v1/inventory",
	"GET /api/v1/inventory/{mac}",
	"PUT /api/v1/inventory/{mac}",
	"DELETE /api/v1/inventory/{mac}",
	"GET /api/v1/nodes",
}

func (a *api) index(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, struct {
		Endpoints []string `json:"endpoints"`
		Docs      string   `json:"docs"`
	}{endpoints, "docs/api.md"})
}

// Error is the body of every error answer: {"error": {...}}.
type Error struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	// Problems are the config problems of an inventory edit, each at its
	// place.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one thing wrong with an inventory edit, as phoneboot check
// finds it.
type Problem struct {
	// Field is the key the problem is at, when it can be told:
	// "phone.model", "phone.line[0].password" (PUT), "lines[0].password"
	// (POST).
	Field string `json:"field,omitempty"`
	// Line is the line of the config file (with the edit) it is at; 0 for
	// the whole file.
	Line int `json:"line,omitempty"`
	// EntryLine is the line of the entry sent, 0 when the problem is
	// elsewhere in the file.
	EntryLine int    `json:"entry_line,omitempty"`
	Reason    string `json:"reason"`
}

// WriteError answers an error in the API's shape, for what stands in
// front of the API (the admin server's auth, CSRF and size checks), so
// that a script sees one shape for every refusal under /api/v1.
func WriteError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	fail(w, status, message)
}

// fail answers an error.
func fail(w http.ResponseWriter, status int, msg string, problems ...Problem) {
	reply(w, status, struct {
		Error Error `json:"error"`
	}{Error{Status: status, Message: msg, Problems: problems}})
}

// reply answers v as JSON. Text from the network in it (syslog lines,
// file names) is made inert for terminals: curl prints to one.
func reply(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(printable.JSON(&b))
	enc.SetIndent("", "  ")
	// Generated XML reads as XML; the type and nosniff keep browsers
	// from taking it for a page.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		b.Reset()
		fmt.Fprintf(&b, "{\"error\": {\"status\": 500, \"message\": %q}}\n", "cannot encode the answer: "+err.Error())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// stream writes a JSON answer piece by piece through a buffer, so that
// a list of 10,000 phones is never one big allocation: head, each item
// of items encoded on its own, tail.
type stream struct {
	w     *bufio.Writer
	enc   *json.Encoder
	buf   bytes.Buffer
	n     int
	err   error
	inert io.Writer
}

func newStream(w http.ResponseWriter, status int, head string) *stream {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	s := &stream{w: bufio.NewWriterSize(w, 64<<10)}
	s.inert = printable.JSON(s.w)
	s.enc = json.NewEncoder(&s.buf)
	s.enc.SetEscapeHTML(false)
	s.w.WriteString(head)
	return s
}

// item writes one element of the list.
func (s *stream) item(v any) {
	if s.err != nil {
		return
	}
	s.buf.Reset()
	if s.n > 0 {
		s.buf.WriteString(",\n    ")
	} else {
		s.buf.WriteString("\n    ")
	}
	s.n++
	if s.err = s.enc.Encode(v); s.err != nil {
		return
	}
	b := bytes.TrimRight(s.buf.Bytes(), "\n")
	if ascii(b) {
		// What printable escapes is all at or above DEL: plain ASCII
		// passes as it is, without its rune-by-rune look.
		_, s.err = s.w.Write(b)
		return
	}
	_, s.err = s.inert.Write(b)
}

// ascii reports whether b is all below DEL.
func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x7f {
			return false
		}
	}
	return true
}

// end writes the tail and flushes.
func (s *stream) end(tail string) error {
	if s.err != nil {
		return s.err
	}
	if s.n > 0 {
		s.w.WriteString("\n  ")
	}
	s.w.WriteString(tail)
	return s.w.Flush()
}

// parseMAC is the path's {mac}, or false after answering 400.
func parseMAC(w http.ResponseWriter, r *http.Request) (phone.MAC, bool) {
	s := r.PathValue("mac")
	m, err := phone.ParseMAC(s)
	if err == nil && m == (phone.MAC{}) {
		err = errors.New("the all-zero MAC is no phone's")
	}
	if err != nil {
		fail(w, http.StatusBadRequest, fmt.Sprintf("%q is not a MAC address (%v); write it as 00:13:7f:38:b3:de, 0013.7f38.b3de or 00137F38B3DE", s, err))
		return phone.MAC{}, false
	}
	return m, true
}

// query reads the query string's parameters, answering 400 for one it
// cannot parse or does not know (a typo should not silently widen a
// filter).
type query struct {
	w      http.ResponseWriter
	values map[string][]string
	known  []string
	failed bool
}

func newQuery(w http.ResponseWriter, r *http.Request, known ...string) *query {
	q := &query{w: w, values: r.URL.Query(), known: known}
	for k := range q.values {
		if !contains(known, k) {
			takes := "none"
			if len(known) > 0 {
				takes = strings.Join(known, ", ")
			}
			q.bad(fmt.Sprintf("unknown query parameter %q (this endpoint takes: %s)", k, takes))
			break
		}
	}
	return q
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (q *query) bad(msg string) {
	if !q.failed {
		q.failed = true
		fail(q.w, http.StatusBadRequest, msg)
	}
}

// str is parameter k ("" when absent); given more than once, 400.
func (q *query) str(k string) string {
	v := q.values[k]
	if len(v) > 1 {
		q.bad(fmt.Sprintf("query parameter %s given %d times; give it once", k, len(v)))
		return ""
	}
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// int is integer parameter k within [lo, hi], def when absent.
func (q *query) int(k string, def, lo, hi int64) int64 {
	s := q.str(k)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		want := fmt.Sprintf("a whole number from %d to %d", lo, hi)
		if hi >= 1<<31 {
			want = fmt.Sprintf("a whole number, at least %d", lo)
		}
		if k == "before" {
			want = "an event id (the next_before of the page before)"
		}
		q.bad(fmt.Sprintf("query parameter %s=%q: want %s", k, s, want))
		return def
	}
	return n
}

// bool is flag parameter k: 1/true/yes or 0/false/no.
func (q *query) bool(k string) bool {
	switch s := strings.ToLower(q.str(k)); s {
	case "", "0", "false", "no":
		return false
	case "1", "true", "yes":
		return true
	default:
		q.bad(fmt.Sprintf("query parameter %s=%q: want 1 or 0", k, s))
		return false
	}
}

// mediaType is the request's content type without parameters ("" when
// absent or unreadable).
func mediaType(r *http.Request) string {
	t, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return t
}

// unsupported answers 415 for a body of a type the endpoint does not take.
func unsupported(w http.ResponseWriter, r *http.Request, want ...string) {
	got := r.Header.Get("Content-Type")
	if got == "" {
		got = "none"
	}
	fail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %s is not taken here; send %s", got, strings.Join(want, " or ")))
}

// readBody reads a request body of at most MaxJSONBody bytes, answering
// 413 beyond.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	if err != nil {
		bodyFailed(w, err)
		return nil, false
	}
	return b, true
}

// bodyFailed answers a body that could not be read: 413 past a limit.
func bodyFailed(w http.ResponseWriter, err error) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than the %s this endpoint takes", size(mb.Limit)))
		return
	}
	fail(w, http.StatusBadRequest, "cannot read the request body: "+err.Error())
}

// decodeJSON reads a JSON body into v: strict (unknown fields, trailing
// data and a wrong content type are refused).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mediaType(r) != "application/json" {
		unsupported(w, r, "application/json")
		return false
	}
	b, ok := readBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "the body is not the JSON this endpoint takes: "+jsonProblem(err))
		return false
	}
	if dec.More() {
		fail(w, http.StatusBadRequest, "the body holds more than one JSON value")
		return false
	}
	return true
}

// jsonProblem says what is wrong with a JSON body, without Go's type names.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "it is empty"
	case errors.As(err, &se):
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s must be a %s, not a %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	}
	return "number"
}

// size is a byte count for people: 256 KiB, 2 GiB.
func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
