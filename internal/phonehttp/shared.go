package phonehttp

import (
	"fmt"
	"io"
	"net/http"

	"phoneboot/internal/firmware"
)

// LoadFiles opens any file of a load in the catalog by the load's ID and
// the file's name (firmware.Catalog.OpenLoadFile).
type LoadFiles interface {
	OpenLoadFile(id, name string) (firmware.File, bool, error)
}

// serveShared answers another node of the fleet fetching a load's file
// (internal/fwshare): GET or HEAD of firmware.SharedPath(load, file),
// straight from the catalog. By load and file rather than by the name a
// phone asks for, so that what a node gets is exactly the file of that
// load (term files too, which phones get only for their targeted load)
// and never an admin's file of the same name in the TFTP root; and
// without provision: a node is no phone, its requests bind no address
// and teach nothing. The per-address rate limit and the cap on
// downloads apply as to phones: a node retries after Retry-After.
func (s *Service) serveShared(w *countingWriter, r *http.Request, x *exchange) {
	if s.limit != nil {
		if ok, _ := s.limit.Allow(x.remote.Addr(), x.start); !ok {
			w.Header().Set("Retry-After", "1")
			http.Error(w, fmt.Sprintf("too many requests from %s: the limit is %g per second; try again in a second", x.remote.Addr(), s.RatePerSource), http.StatusTooManyRequests)
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, r.Method+" is not served here (Allow: GET, HEAD)", http.StatusMethodNotAllowed)
		return
	}
	if s.Shared == nil {
		http.Error(w, "this phoneboot shares no firmware with other nodes", http.StatusNotFound)
		return
	}
	id, name, ok := firmware.ParseSharedPath(r.URL.Path)
	if !ok || r.URL.RawQuery != "" {
		http.Error(w, "not a file of a load: ask for "+firmware.SharedPrefix+"LOAD/FILE", http.StatusNotFound)
		return
	}
	if n := s.active.Add(1); n > int64(s.MaxActive) {
		s.active.Add(-1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, fmt.Sprintf("server busy: %d downloads running; try again in a second", n-1), http.StatusServiceUnavailable)
		return
	}
	defer s.active.Add(-1)
	f, ok, err := s.Shared.OpenLoadFile(id, name)
	if err != nil {
		s.Logger.Error("phone http: cannot open a file of a load for another node", "load", id, "file", name, "client", x.remote.String(), "err", err)
		http.Error(w, "phoneboot could not open this file; see its log", http.StatusInternalServerError)
		return
	}
	if !ok {
		http.Error(w, fmt.Sprintf("the catalog has no load %s with a file %s", id, name), http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", modTime(f), io.NewSectionReader(f, 0, f.Size()))
	if w.err == nil && r.Method == http.MethodGet {
		w.rc.Flush()
	}
	s.Logger.Info("firmware sent to a node", "client", x.remote.String(), "load", id, "file", name,
		"bytes", w.n, "status", w.status)
}
