package api

import (
	"net/http"
	"time"
)

// nodeAnswer is one node of the fleet (docs/fleet.md).
type nodeAnswer struct {
	Name        string    `json:"name"`
	Networks    []string  `json:"networks"`
	FirmwareURL string    `json:"firmware_url,omitempty"`
	Started     time.Time `json:"started"`
	Seen        time.Time `json:"seen"`
	This        bool      `json:"this,omitempty"` // the node answering
}

// nodes lists the nodes sharing this node's database: none when it is
// alone.
func (a *api) nodes(w http.ResponseWriter, r *http.Request) {
	ns, err := a.live.Store.Nodes(r.Context())
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "the store cannot be read: "+err.Error())
		return
	}
	this := a.live.Config().Node.Name
	out := []nodeAnswer{}
	for _, n := range ns {
		nets := []string{}
		for _, p := range n.Networks {
			nets = append(nets, p.String())
		}
		out = append(out, nodeAnswer{Name: n.Name, Networks: nets, FirmwareURL: n.FirmwareURL,
			Started: n.Started, Seen: n.Seen, This: n.Name == this})
	}
	reply(w, http.StatusOK, struct {
		Nodes []nodeAnswer `json:"nodes"`
	}{out})
}
