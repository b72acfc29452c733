// Package api is phoneboot's JSON API, /api/v1 of the admin server: the
// phones, one phone with its timeline and findings, events, firmware and
// inventory edits (docs/api.md). (Skeleton: issue 13 fills it in.)
package api

import (
	"net/http"

	"phoneboot/internal/node"
)

// New returns the API's handler for paths below /api/v1 (the prefix
// stripped).
func New(live node.Live) http.Handler {
	return http.NotFoundHandler()
}
