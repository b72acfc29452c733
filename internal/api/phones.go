package api

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/store"
	"phoneboot/internal/track"
)

// maxPage bounds a page of phones; without ?limit every phone is listed.
const maxPage = 100_000

// GET /phones: every phone as `phoneboot phones --json` lists it, filtered,
// sorted and paged.
func (a *api) phones(w http.ResponseWriter, r *http.Request) {
	q := newQuery(w, r, "state", "model", "source", "q", "sort", "limit", "offset")
	states := list(q.str("state"))
	models := list(q.str("model"))
	sources := list(q.str("source"))
	text := q.str("q")
	order := q.str("sort")
	limit := q.int("limit", 0, 1, maxPage)
	offset := q.int("offset", 0, 0, 1<<31)
	if q.failed {
		return
	}
	for i, m := range models {
		if pm, ok := phone.ModelByName(m); ok {
			models[i] = pm.Name
		}
	}
	for _, s := range sources {
		if s != store.SourceInventory && s != store.SourceAuto {
			fail(w, http.StatusBadRequest, fmt.Sprintf("source=%q: want %s or %s", s, store.SourceInventory, store.SourceAuto))
			return
		}
	}
	less, err := sorter(order)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	rows, err := a.live.Fleet().Phones(r.Context())
	if err != nil {
		a.internal(w, r, "cannot read the phones", err)
		return
	}
	match := matcher(strings.ToLower(strings.TrimSpace(text)))
	kept := rows[:0]
	for _, row := range rows {
		if (len(states) == 0 || slices.Contains(states, strings.ToLower(row.State))) &&
			(len(models) == 0 || slices.ContainsFunc(models, func(m string) bool { return strings.EqualFold(m, row.Model) })) &&
			(len(sources) == 0 || slices.Contains(sources, row.Source)) && match(&row) {
			kept = append(kept, row)
		}
	}
	if less != nil {
		slices.SortStableFunc(kept, less)
	}
	total := len(kept)
	page := kept[min(int(offset), total):]
	if limit > 0 && int64(len(page)) > limit {
		page = page[:limit]
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	s := newStream(w, http.StatusOK, fmt.Sprintf("{\n  \"total\": %d,\n  \"offset\": %d,\n  \"count\": %d,\n  \"phones\": [", total, offset, len(page)))
	for i := range page {
		s.item(utcRow(&page[i]))
	}
	if err := s.end("]\n}\n"); err != nil {
		a.live.Log.Debug("api: phones answer cut", "err", err)
	}
}

// list is a comma-separated parameter's values, lower case.
func list(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// matcher is ?q=: text found in the MAC (in any spelling), label, model,
// IP, running or target load, state or first finding.
func matcher(text string) func(*fleet.Row) bool {
	if text == "" {
		return func(*fleet.Row) bool { return true }
	}
	hex := strings.NewReplacer(":", "", ".", "", "-", "").Replace(text)
	return func(r *fleet.Row) bool {
		if hex != "" && strings.Contains(strings.ToLower(r.MAC.Hex()), hex) {
			return true
		}
		for _, f := range []string{r.Label, r.Model, r.IP, r.Load, r.Target, r.State} {
			if strings.Contains(strings.ToLower(f), text) {
				return true
			}
		}
		return len(r.Findings) > 0 && strings.Contains(strings.ToLower(r.Findings[0].Symptom), text)
	}
}

// sortKeys are what ?sort= takes ("-" before one: descending).
var sortKeys = map[string]func(a, b *fleet.Row) int{
	"mac":       func(a, b *fleet.Row) int { return slices.Compare(a.MAC[:], b.MAC[:]) },
	"label":     func(a, b *fleet.Row) int { return cmp.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)) },
	"model":     func(a, b *fleet.Row) int { return cmp.Compare(a.Model, b.Model) },
	"ip":        func(a, b *fleet.Row) int { return addr(a.IP).Compare(addr(b.IP)) },
	"load":      func(a, b *fleet.Row) int { return cmp.Compare(a.Load, b.Load) },
	"target":    func(a, b *fleet.Row) int { return cmp.Compare(a.Target, b.Target) },
	"state":     func(a, b *fleet.Row) int { return cmp.Compare(a.State, b.State) },
	"source":    func(a, b *fleet.Row) int { return cmp.Compare(a.Source, b.Source) },
	"last_seen": func(a, b *fleet.Row) int { return a.LastSeen.Compare(b.LastSeen) },
}

func addr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

// sorter is ?sort=KEY[,KEY…]; nil keeps the fleet's order (inventory
// first, in file order, then the others by MAC).
func sorter(spec string) (func(a, b fleet.Row) int, error) {
	if spec == "" {
		return nil, nil
	}
	var keys []func(a, b *fleet.Row) int
	for k := range strings.SplitSeq(spec, ",") {
		k = strings.TrimSpace(k)
		desc := strings.HasPrefix(k, "-")
		f, ok := sortKeys[strings.TrimPrefix(k, "-")]
		if !ok {
			return nil, fmt.Errorf("sort=%q: %q is not a key; sort by %s (\"-\" first for descending)", spec, k, strings.Join(slices.Sorted(maps.Keys(sortKeys)), ", "))
		}
		if desc {
			asc := f
			f = func(a, b *fleet.Row) int { return asc(b, a) }
		}
		keys = append(keys, f)
	}
	return func(a, b fleet.Row) int {
		for _, k := range keys {
			if c := k(&a, &b); c != 0 {
				return c
			}
		}
		return 0
	}, nil
}

// utcRow is r with its times in UTC (RFC 3339 with Z), as every time of
// the API is, and its findings a list even when there are none.
func utcRow(r *fleet.Row) *fleet.Row {
	r.LastSeen = utc(r.LastSeen)
	if r.Dropped != nil {
		d := *r.Dropped
		d.Since, d.Last = utc(d.Since), utc(d.Last)
		r.Dropped = &d
	}
	if r.Findings == nil {
		r.Findings = []track.Finding{} // a list, always
	}
	for i := range r.Findings {
		r.Findings[i].At = utc(r.Findings[i].At)
	}
	return r
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// maxEvents bounds a page of events.
const maxEvents = 1000

// GET /phones/{mac}: the phone's row with its findings, and its timeline
// newest first, a page at a time.
func (a *api) phone(w http.ResponseWriter, r *http.Request) {
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	q := newQuery(w, r, "limit", "before")
	limit := q.int("limit", 100, 1, maxEvents)
	before := q.int("before", 0, 1, 1<<62)
	if q.failed {
		return
	}
	v, err := a.live.Fleet().Phone(r.Context(), mac, 1)
	if errors.Is(err, fleet.ErrUnknown) {
		fail(w, http.StatusNotFound, fmt.Sprintf("phone %s is not in the inventory and has not been seen", mac))
		return
	}
	if err != nil {
		a.internal(w, r, "cannot read the phone", err)
		return
	}
	events, err := a.live.Store.EventsPage(r.Context(), store.EventPage{MAC: mac, Before: before, Limit: int(limit)})
	if err != nil {
		a.internal(w, r, "cannot read the phone's events", err)
		return
	}
	reply(w, http.StatusOK, struct {
		Phone *fleet.Row `json:"phone"`
		eventPage
	}{utcRow(&v.Row), page(events, int(limit))})
}

// eventPage is a page of events, newest first, and the cursor of the
// next (older) page: 0 when this is the last.
type eventPage struct {
	Events     []event.Event `json:"events"`
	NextBefore int64         `json:"next_before,omitempty"`
}

func page(events []event.Event, limit int) eventPage {
	for i := range events {
		events[i].Time = utc(events[i].Time)
	}
	p := eventPage{Events: events}
	if len(events) == limit {
		p.NextBefore = events[len(events)-1].ID
	}
	return p
}

// GET /events: every phone's events, newest first.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	q := newQuery(w, r, "limit", "before", "mac", "kind")
	limit := q.int("limit", 100, 1, maxEvents)
	before := q.int("before", 0, 1, 1<<62)
	macText := q.str("mac")
	kind := q.str("kind")
	if q.failed {
		return
	}
	var mac phone.MAC
	if macText != "" {
		var err error
		if mac, err = phone.ParseMAC(macText); err != nil || mac == (phone.MAC{}) {
			fail(w, http.StatusBadRequest, fmt.Sprintf("mac=%q is not a MAC address; write it as 00:13:7f:38:b3:de", macText))
			return
		}
	}
	if len(kind) > 64 {
		fail(w, http.StatusBadRequest, "kind= is longer than any kind of event")
		return
	}
	events, err := a.live.Store.EventsPage(r.Context(), store.EventPage{MAC: mac, Kind: event.Kind(kind), Before: before, Limit: int(limit)})
	if err != nil {
		a.internal(w, r, "cannot read the events", err)
		return
	}
	reply(w, http.StatusOK, page(events, int(limit)))
}

// GET /phones/{mac}/files: the files phoneboot generates for the phone
// now, passwords masked unless ?reveal=1.
func (a *api) files(w http.ResponseWriter, r *http.Request) {
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	q := newQuery(w, r, "reveal")
	reveal := q.bool("reveal")
	if q.failed {
		return
	}
	if !a.known(w, r, mac) {
		return
	}
	gen, err := a.live.Prov.Preview(mac, netip.Addr{}, reveal)
	if err != nil {
		a.internal(w, r, "cannot generate the phone's files", err)
		return
	}
	if reveal {
		// Who saw the passwords, for the log.
		a.live.Log.Info("api: SIP passwords revealed", "mac", mac.String(), "client", r.RemoteAddr)
	}
	type file struct {
		Name    string `json:"name"`
		Size    int    `json:"size"`
		Content string `json:"content"`
	}
	out := struct {
		MAC      phone.MAC `json:"mac"`
		Revealed bool      `json:"revealed"`
		Files    []file    `json:"files"`
	}{mac, reveal, []file{}}
	for _, g := range gen {
		out.Files = append(out.Files, file{g.Name, len(g.Body), string(g.Body)})
	}
	reply(w, http.StatusOK, out)
}

// known answers 404 (and false) for a phone neither in the inventory nor
// seen.
func (a *api) known(w http.ResponseWriter, r *http.Request, mac phone.MAC) bool {
	for _, p := range a.live.Config().Phones {
		if p.MAC == mac {
			return true
		}
	}
	_, seen, err := a.live.Store.Phone(r.Context(), mac)
	if err != nil {
		a.internal(w, r, "cannot read the phone", err)
		return false
	}
	if !seen {
		fail(w, http.StatusNotFound, fmt.Sprintf("phone %s is not in the inventory and has not been seen", mac))
	}
	return seen
}

// internal answers 500 for a failure of phoneboot's own (the store, the
// disk) and logs it.
func (a *api) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.live.Log.Error("api: "+what, "path", r.URL.Path, "err", err)
	fail(w, http.StatusInternalServerError, what+": "+err.Error())
}
