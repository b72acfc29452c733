// Package phonehttp serves provision's files over HTTP, on the port
// (6970) where 79x1, 79x2, 79x5 and 797x firmware looks before TFTP: the
// same resolver, attribution, identity policy and events as phonetftp.
// (Skeleton: issue 13 fills it in.)
package phonehttp

import (
	"net/http"

	"phoneboot/internal/event"
	"phoneboot/internal/provision"
)

// Service is an http.Handler over a Provisioner.
type Service struct {
	Prov *provision.Provisioner
	// Record receives each request as an event of the phone it is
	// attributed to; nil records none. It must not block.
	Record func(event.Event)
}

// ServeHTTP answers GET and HEAD for a file.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
