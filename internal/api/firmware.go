package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"phoneboot/internal/config"
	"phoneboot/internal/firmware"
	"phoneboot/internal/fleet"
)

// maxUploadFiles bounds the files of one multipart upload.
const maxUploadFiles = 100

// loadRow is one load as `phoneboot firmware list --json` shows it.
type loadRow struct {
	firmware.Load
	Size int64 `json:"size"` // .loads file and components
	fleet.LoadUse
}

// GET /firmware: the catalog, with the phones running and targeting each
// load.
func (a *api) firmwareList(w http.ResponseWriter, r *http.Request) {
	if q := newQuery(w, r); q.failed {
		return
	}
	// Loads another process imported show at once.
	if err := a.live.Catalog.Refresh(); err != nil {
		a.internal(w, r, "cannot read the firmware catalog", err)
		return
	}
	phones, err := a.live.Fleet().Loads(r.Context())
	if err != nil {
		a.internal(w, r, "cannot read the phones", err)
		return
	}
	rows := []loadRow{}
	for _, l := range a.live.Catalog.Loads() {
		l.Imported = utc(l.Imported)
		rows = append(rows, loadRow{Load: l, Size: l.Size(), LoadUse: fleet.UseOf(phones, l.ID)})
	}
	problems := a.live.Catalog.Problems()
	if problems == nil {
		problems = []string{}
	}
	reply(w, http.StatusOK, struct {
		Loads           []loadRow `json:"loads"`
		CatalogProblems []string  `json:"catalog_problems"`
	}{rows, problems})
}

// importLimit is the most bytes one import may hold.
func (a *api) importLimit() int64 {
	if n := a.live.Catalog.MaxImportSize; n > 0 {
		return n
	}
	return firmware.DefaultMaxImportSize
}

// POST /firmware: import packages, as `phoneboot firmware import` does
// (all or nothing): multipart/form-data with one or more files, or one
// file as the raw body with ?name=FILE (its name tells its kind).
func (a *api) firmwareImport(w http.ResponseWriter, r *http.Request) {
	q := newQuery(w, r, "name")
	name := q.str("name")
	if q.failed {
		return
	}
	limit := a.importLimit()
	multipart := mediaType(r) == "multipart/form-data"
	if multipart {
		limit += uploadOverhead
	}
	// A stated length past the limit is refused before reading; a body
	// that lies about it is cut by MaxBytesReader.
	if r.ContentLength > limit {
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is larger than the %s an import may hold", size(a.importLimit())))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	var (
		report firmware.ImportReport
		err    error
	)
	switch {
	case multipart && name != "":
		fail(w, http.StatusBadRequest, "?name= is for a raw body; a multipart upload names its files itself")
		return
	case multipart:
		var ok bool
		if report, ok = a.importParts(w, r); !ok {
			return
		}
	case name != "":
		// Streamed straight into the catalog's staging.
		report, err = a.live.Catalog.ImportUploads(firmware.Upload{Name: name, Body: r.Body})
		if err != nil {
			a.importFailed(w, err)
			return
		}
	default:
		unsupported(w, r, "multipart/form-data", "the file itself with ?name=FILE")
		return
	}
	status := http.StatusOK
	if len(report.Added) > 0 {
		status = http.StatusCreated
	}
	added := []firmware.Load{}
	for _, l := range report.Added {
		l.Imported = utc(l.Imported)
		added = append(added, l)
	}
	reply(w, status, struct {
		Added   []firmware.Load `json:"added"`
		Skipped []string        `json:"skipped"`
		Notes   []string        `json:"notes"`
	}{added, orEmpty(report.Skipped), orEmpty(report.Notes)})
	a.live.Log.Info("api: firmware imported", "added", len(report.Added), "skipped", len(report.Skipped), "client", r.RemoteAddr)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// importParts stages the file parts of a multipart upload on disk (in
// the catalog's folder: never all in memory), then imports them
// together. Parts without a file name (form fields) are skipped.
func (a *api) importParts(w http.ResponseWriter, r *http.Request) (firmware.ImportReport, bool) {
	mr, err := r.MultipartReader()
	if err != nil {
		fail(w, http.StatusBadRequest, "cannot read the multipart upload: "+err.Error())
		return firmware.ImportReport{}, false
	}
	// ".import-" so that a crash's leftovers are cleaned like an import's.
	dir, err := os.MkdirTemp(a.live.Catalog.Dir(), ".import-api-")
	if err != nil {
		a.internal(w, r, "cannot stage the upload", err)
		return firmware.ImportReport{}, false
	}
	defer os.RemoveAll(dir)
	left := a.importLimit()
	var ups []firmware.Upload
	defer func() {
		for _, u := range ups {
			u.Body.(*os.File).Close()
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			bodyFailed(w, err)
			return firmware.ImportReport{}, false
		}
		if part.FileName() == "" {
			part.Close()
			continue
		}
		if len(ups) == maxUploadFiles {
			fail(w, http.StatusBadRequest, fmt.Sprintf("more than %d files in one upload", maxUploadFiles))
			return firmware.ImportReport{}, false
		}
		// Staged by number: the name is checked by ImportUploads.
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(len(ups))))
		if err != nil {
			a.internal(w, r, "cannot stage the upload", err)
			return firmware.ImportReport{}, false
		}
		ups = append(ups, firmware.Upload{Name: part.FileName(), Body: f})
		n, err := io.Copy(f, io.LimitReader(part, left+1))
		if err != nil {
			bodyFailed(w, err)
			return firmware.ImportReport{}, false
		}
		if left -= n; left < 0 {
			fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is larger than the %s an import may hold", size(a.importLimit())))
			return firmware.ImportReport{}, false
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			a.internal(w, r, "cannot stage the upload", err)
			return firmware.ImportReport{}, false
		}
	}
	if len(ups) == 0 {
		fail(w, http.StatusBadRequest, "nothing to import: the upload holds no file (send each as a form field with a filename)")
		return firmware.ImportReport{}, false
	}
	report, err := a.live.Catalog.ImportUploads(ups...)
	if err != nil {
		a.importFailed(w, err)
		return firmware.ImportReport{}, false
	}
	return report, true
}

// importFailed answers an import's refusal: 413 past the body limit,
// else 422 with the catalog's reason (nothing was imported).
func (a *api) importFailed(w http.ResponseWriter, err error) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is larger than the %s an import may hold", size(a.importLimit())))
		return
	}
	fail(w, http.StatusUnprocessableEntity, fmt.Sprintf("%v; nothing imported", err))
}

// DELETE /firmware/{id}: remove a load, refused while the config targets
// it (as `phoneboot firmware rm` is).
func (a *api) firmwareRemove(w http.ResponseWriter, r *http.Request) {
	if q := newQuery(w, r); q.failed {
		return
	}
	id := r.PathValue("id")
	if err := a.live.Catalog.Refresh(); err != nil {
		a.internal(w, r, "cannot read the firmware catalog", err)
		return
	}
	l, ok := a.live.Catalog.Load(id)
	if !ok {
		fail(w, http.StatusNotFound, fmt.Sprintf("no load %q in the catalog (GET /api/v1/firmware lists them)", id))
		return
	}
	// The file as it is now, not as last loaded: an edit a moment ago
	// may target the load.
	cfg, err := config.Read(a.live.ConfigFile, a.live.ConfigGiven)
	var ces config.Errors
	if errors.As(err, &ces) {
		fail(w, http.StatusConflict, fmt.Sprintf("%s has %d %s (phoneboot check explains); cannot tell whether it targets %s, not removed", a.live.ConfigFile, len(ces), plural(len(ces), "problem"), l.ID),
			fileProblems(ces)...)
		return
	}
	if err != nil {
		a.internal(w, r, "cannot read the config", err)
		return
	}
	if refs := cfg.Targeting(l.ID); len(refs) > 0 {
		fail(w, http.StatusConflict, fmt.Sprintf("%s is the target of %s; change that first, not removed", l.ID, strings.Join(refs, " and ")))
		return
	}
	if err := a.live.Catalog.Remove(l.ID); err != nil {
		a.internal(w, r, "cannot remove the load", err)
		return
	}
	a.live.Log.Info("api: firmware removed", "load", l.ID, "client", r.RemoteAddr)
	l.Imported = utc(l.Imported)
	reply(w, http.StatusOK, struct {
		Removed firmware.Load `json:"removed"`
	}{l})
}
