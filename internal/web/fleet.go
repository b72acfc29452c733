package web

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"phoneboot/internal/fleet"
)

// attentionMax is how many phones that need attention the Fleet page lists.
const attentionMax = 20

type fleetView struct {
	Total     int
	States    []count
	Models    []count
	Loads     []count
	Attention []*fleet.Row
	MoreAttn  int // phones needing attention beyond the list
	Rollout   rollout
	Nodes     []nodeView // the nodes of the fleet (none when alone)
	Now       time.Time
}

// nodeView is one node of the fleet on the Fleet page.
type nodeView struct {
	Name     string
	This     bool // the node serving the page
	Networks string
	Phones   int // phones it saw last
	Seen     time.Time
}

type count struct {
	Name string
	N    int
	Pct  int // of Total, for the bar
	Link string
}

func counts(rows []fleet.Row, key func(*fleet.Row) string, link func(string) string) []count {
	m := map[string]int{}
	for i := range rows {
		m[key(&rows[i])]++
	}
	var out []count
	for k, n := range m {
		c := count{Name: k, N: n, Pct: n * 100 / max(1, len(rows))}
		if link != nil {
			c.Link = link(k)
		}
		if c.Name == "" {
			c.Name = "unknown"
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b count) int { return cmp.Or(b.N-a.N, cmp.Compare(a.Name, b.Name)) })
	return out
}

func (s *Server) fleetPage(w http.ResponseWriter, r *http.Request) {
	rows, err := s.phones(r.Context())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	search := func(k string) string { return phoneQuery{Q: k}.URL() }
	v := fleetView{Total: len(rows), Now: time.Now(),
		States: counts(rows, func(r *fleet.Row) string { return r.State }, func(k string) string { return phoneQuery{State: k}.URL() }),
		Models: counts(rows, func(r *fleet.Row) string { return r.Model }, search),
		Loads:  counts(rows, func(r *fleet.Row) string { return r.Load }, search),
	}
	for i := range rows {
		if findingRank(&rows[i]) <= 1 {
			v.Attention = append(v.Attention, &rows[i])
		}
	}
	slices.SortStableFunc(v.Attention, func(a, b *fleet.Row) int {
		return cmp.Or(findingRank(a)-findingRank(b), b.Findings[0].At.Compare(a.Findings[0].At))
	})
	if len(v.Attention) > attentionMax {
		v.MoreAttn = len(v.Attention) - attentionMax
		v.Attention = v.Attention[:attentionMax]
	}
	v.Rollout = s.rollout(r, rows, r.URL.Query().Get("range"))
	v.Nodes = s.nodes(r, rows)
	s.render(w, r, http.StatusOK, "fleet", page{Title: "Fleet", Nav: "fleet", Live: "/live", Data: v})
}

// nodes is the fleet's nodes with the phones each saw last; a store that
// cannot be read shows none (the phones above say what is known).
func (s *Server) nodes(r *http.Request, rows []fleet.Row) []nodeView {
	ns, err := s.live.Store.Nodes(r.Context())
	if err != nil {
		return nil
	}
	by := map[string]int{}
	for i := range rows {
		by[rows[i].Node]++
	}
	this := s.live.Config().Node.Name
	var out []nodeView
	for _, n := range ns {
		nets := make([]string, len(n.Networks))
		for i, p := range n.Networks {
			nets[i] = p.String()
		}
		out = append(out, nodeView{Name: n.Name, This: n.Name == this, Networks: strings.Join(nets, " "),
			Phones: by[n.Name], Seen: n.Seen})
	}
	return out
}
