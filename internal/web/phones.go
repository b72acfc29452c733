package web

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/fleet"
	"phoneboot/internal/phonetext"
	"phoneboot/internal/printable"
	"phoneboot/internal/track"
)

// PageSize is how many phones the table shows at once; the rest are
// pages of their own (10,000 rows would be a slow page to draw).
const PageSize = 100

// sortKeys are the table's columns that sort, by query value.
var sortKeys = map[string]func(a, b *fleet.Row) int{
	"mac":     func(a, b *fleet.Row) int { return slices.Compare(a.MAC[:], b.MAC[:]) },
	"label":   func(a, b *fleet.Row) int { return cmp.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)) },
	"model":   func(a, b *fleet.Row) int { return cmp.Compare(a.Model, b.Model) },
	"ip":      func(a, b *fleet.Row) int { return compareIP(a.IP, b.IP) },
	"load":    func(a, b *fleet.Row) int { return cmp.Compare(a.Load, b.Load) },
	"target":  func(a, b *fleet.Row) int { return cmp.Compare(a.Target, b.Target) },
	"state":   func(a, b *fleet.Row) int { return cmp.Compare(a.State, b.State) },
	"finding": func(a, b *fleet.Row) int { return cmp.Compare(findingRank(a), findingRank(b)) },
	"seen":    func(a, b *fleet.Row) int { return a.LastSeen.Compare(b.LastSeen) },
}

func compareIP(a, b string) int {
	x, errx := netip.ParseAddr(a)
	y, erry := netip.ParseAddr(b)
	if errx != nil || erry != nil {
		return cmp.Compare(a, b)
	}
	return x.Compare(y)
}

// findingRank sorts the worst findings first: errors, warnings, info, none.
func findingRank(r *fleet.Row) int {
	if len(r.Findings) == 0 {
		return 3
	}
	switch r.Findings[0].Severity {
	case track.SevError:
		return 0
	case track.SevWarning:
		return 1
	}
	return 2
}

// phoneQuery is the table's search, filter, order and page, from the URL.
type phoneQuery struct {
	Q, State, Sort string
	Desc           bool
	Page           int
}

func parsePhoneQuery(v url.Values) phoneQuery {
	q := phoneQuery{Q: strings.TrimSpace(v.Get("q")), State: v.Get("state"), Sort: v.Get("sort"), Desc: v.Get("dir") == "desc"}
	if _, ok := sortKeys[q.Sort]; !ok {
		q.Sort = ""
	}
	q.Page, _ = strconv.Atoi(v.Get("page"))
	q.Page = max(q.Page, 1)
	return q
}

// values is q as a query string, with changes.
func (q phoneQuery) values() url.Values {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
		if q.Desc {
			v.Set("dir", "desc")
		}
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v
}

// URL is the table's address for q.
func (q phoneQuery) URL() string {
	if e := q.values().Encode(); e != "" {
		return "/phones?" + e
	}
	return "/phones"
}

// SortURL is the address that sorts by key: the same key again flips
// the order.
func (q phoneQuery) SortURL(key string) string {
	n := q
	n.Page = 1
	if q.Sort == key {
		n.Desc = !q.Desc
	} else {
		n.Sort, n.Desc = key, false
	}
	return n.URL()
}

// Arrow marks the column the table is sorted by.
func (q phoneQuery) Arrow(key string) string {
	switch {
	case q.Sort != key:
		return ""
	case q.Desc:
		return " ▼"
	}
	return " ▲"
}

// PageURL is the address of page n.
func (q phoneQuery) PageURL(n int) string {
	q.Page = n
	return q.URL()
}

// matches reports whether r matches the search: every word of it is in
// one of the row's columns (the MAC in any usual spelling).
func (q phoneQuery) matches(r *fleet.Row) bool {
	if q.State != "" {
		switch q.State {
		case "attention":
			if findingRank(r) > 1 {
				return false
			}
		default:
			if r.State != q.State {
				return false
			}
		}
	}
	if q.Q == "" {
		return true
	}
	finding := ""
	if len(r.Findings) > 0 {
		finding = r.Findings[0].Symptom + " " + r.Findings[0].Rule
	}
	hay := strings.ToLower(strings.Join([]string{r.MAC.String(), r.MAC.Hex(), r.MAC.DeviceName(), r.Label, r.Model,
		r.IP, r.Load, r.Target, r.State, r.Detail, finding, r.Source}, " "))
	// A word matches as typed, or as a MAC without its separators
	// (00-13-7f…, 0013.7f38…).
	bare := strings.ReplaceAll(hay, ":", "")
	for _, w := range strings.Fields(strings.ToLower(q.Q)) {
		if !strings.Contains(hay, w) && !strings.Contains(bare, strings.NewReplacer("-", "", ".", "", ":", "").Replace(w)) {
			return false
		}
	}
	return true
}

// phoneTable is one page of the phones table.
type phoneTable struct {
	Query          phoneQuery
	Rows           []*fleet.Row
	Total, Matched int
	From, To       int // 1-based, of Matched
	Pages          int
	Prev, Next     string
	Now            time.Time
	States         []string
}

func (s *Server) phoneTable(r *http.Request) (phoneTable, error) {
	rows, err := s.phones(r.Context())
	if err != nil {
		return phoneTable{}, err
	}
	q := parsePhoneQuery(r.URL.Query())
	var matched []*fleet.Row
	for i := range rows {
		if q.matches(&rows[i]) {
			matched = append(matched, &rows[i])
		}
	}
	if by := sortKeys[q.Sort]; by != nil {
		slices.SortStableFunc(matched, func(a, b *fleet.Row) int {
			if q.Desc {
				return by(b, a)
			}
			return by(a, b)
		})
	}
	t := phoneTable{Query: q, Total: len(rows), Matched: len(matched), Now: time.Now(),
		States: []string{"attention", track.PhaseStuck, track.PhaseUpgrade, track.PhaseUpToDate, track.PhaseQuiet, fleet.NeverSeen}}
	t.Pages = max(1, (len(matched)+PageSize-1)/PageSize)
	q.Page = min(q.Page, t.Pages)
	t.Query = q
	lo := (q.Page - 1) * PageSize
	hi := min(lo+PageSize, len(matched))
	t.Rows = matched[lo:hi]
	if len(matched) > 0 {
		t.From, t.To = lo+1, hi
	}
	if q.Page > 1 {
		t.Prev = q.PageURL(q.Page - 1)
	}
	if q.Page < t.Pages {
		t.Next = q.PageURL(q.Page + 1)
	}
	return t, nil
}

func (s *Server) phonesPage(w http.ResponseWriter, r *http.Request) {
	t, err := s.phoneTable(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") == "phones-table" {
		// The table alone: a search as one types, or a live update (not
		// a history restore, which wants the page).
		s.renderPart(w, r, "phones", "table", t)
		return
	}
	s.render(w, r, http.StatusOK, "phones", page{Title: "Phones", Nav: "phones", Live: "/live", Data: t})
}

// renderPart writes one named template of a page.
func (s *Server) renderPart(w http.ResponseWriter, r *http.Request, pageName, part string, data any) {
	var b strings.Builder
	if err := s.pages[pageName].ExecuteTemplate(&b, part, data); err != nil {
		s.live.Log.Error("admin page", "page", pageName, "part", part, "err", err)
		http.Error(w, "the page could not be drawn: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "HX-Request")
	fmt.Fprint(w, b.String())
}

// funcs are the templates' helpers; none of them returns template.HTML
// of text a sender controls.
var funcs = template.FuncMap{
	"ago":  func(now, t time.Time) string { return fleet.Ago(now, t) },
	"dash": dash,
	"size": phonetext.Size,
	"percent": func(done, total int64) int {
		if total <= 0 {
			return 0
		}
		return int(min(100, done*100/total))
	},
	"upper": strings.ToUpper,
	"add":   func(a, b int) int { return a + b },
	"time":  func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05.000") },
	"sev":   severityClass,
	"first": func(fs []track.Finding) *track.Finding {
		if len(fs) == 0 {
			return nil
		}
		return &fs[0]
	},
	"join": strings.Join,
	// inert shows controls and bidi overrides a sender put in a name as
	// visible escapes (html/template escapes the markup; this keeps a
	// right-to-left override from showing a name other than it is).
	"inert": printable.String,
	// cmd is the command of a recovery step "$ …", "" for a sentence.
	"cmd": func(s string) string {
		c, _ := strings.CutPrefix(s, "$ ")
		return map[bool]string{true: c}[strings.HasPrefix(s, "$ ")]
	},
	"stcls":  func(state string) string { return strings.ReplaceAll(state, " ", "-") },
	"int64":  func(n int) int64 { return int64(n) },
	"masked": masked,
	"str":    func(b []byte) string { return string(b) },
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// severityClass is a CSS class for a severity (fixed words only).
func severityClass(sev string) string {
	switch sev {
	case track.SevError:
		return "sev-error"
	case track.SevWarning:
		return "sev-warning"
	}
	return "sev-info"
}
