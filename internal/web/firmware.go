package web

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"

	"phoneboot/internal/config"
	"phoneboot/internal/firmware"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
)

// maxUploadParts bounds the fields of one upload form.
const maxUploadParts = 16

type firmwareView struct {
	Loads    []loadRow
	Problems []string
	Result   *importResult
	Error    string // of an import or a removal, in words
	Removed  string
}

type loadRow struct {
	firmware.Load
	Size     int64
	Running  []phone.MAC
	Targeted []phone.MAC
	Refs     []string // the config lines that target it
	Terms    []string
}

type importResult struct {
	Added   []firmware.Load
	Skipped []string
	Notes   []string
}

func (s *Server) firmwareView(r *http.Request) (firmwareView, error) {
	c := s.live.Catalog
	v := firmwareView{Problems: c.Problems()}
	rows, err := s.live.Fleet().Loads(r.Context())
	if err != nil {
		return v, err
	}
	cfg := s.live.Config()
	for _, l := range c.Loads() {
		lr := loadRow{Load: l, Size: l.Size()}
		for _, ref := range cfg.Targeting(l.ID) {
			// "phoneboot.toml:5 (site.loads 7960)": the file is the data's.
			lr.Refs = append(lr.Refs, strings.TrimPrefix(ref, filepath.Dir(cfg.File)+string(filepath.Separator)))
		}
		u := fleet.UseOf(rows, l.ID)
		lr.Running, lr.Targeted = u.Running, u.Targeted
		for _, t := range l.TermFiles {
			lr.Terms = append(lr.Terms, t.Name)
		}
		v.Loads = append(v.Loads, lr)
	}
	return v, nil
}

func (s *Server) firmwarePage(w http.ResponseWriter, r *http.Request) {
	s.showFirmware(w, r, http.StatusOK, func(v *firmwareView) {
		v.Removed = r.URL.Query().Get("removed")
	})
}

func (s *Server) showFirmware(w http.ResponseWriter, r *http.Request, status int, fill func(*firmwareView)) {
	v, err := s.firmwareView(r)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if fill != nil {
		fill(&v)
	}
	s.render(w, r, status, "firmware", page{Title: "Firmware", Nav: "firmware", Data: v})
}

// importFirmware streams the form's package into the catalog: the part
// goes to disk as it arrives (a package may be hundreds of MB), and the
// catalog imports it with the checks of phoneboot firmware import. One
// package per upload: a multipart stream is read in order, and the
// catalog wants each file's name before its bytes.
func (s *Server) importFirmware(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		s.showFirmware(w, r, http.StatusBadRequest, func(v *firmwareView) {
			v.Error = "The upload is not a file form (multipart/form-data): use the form on this page."
		})
		return
	}
	var part *multipart.Part
	for i := 0; i < maxUploadParts; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.importFailed(w, r, err)
			return
		}
		if p.FormName() == "package" && p.FileName() != "" {
			part = p
			break
		}
	}
	if part == nil {
		s.showFirmware(w, r, http.StatusBadRequest, func(v *firmwareView) {
			v.Error = "No file was chosen: pick a firmware package (.zip, .cop, .cop.sgn, .tar, .tar.gz)."
		})
		return
	}
	rep, err := s.live.Catalog.ImportUploads(firmware.Upload{Name: part.FileName(), Body: part})
	if err != nil {
		s.importFailed(w, r, err)
		return
	}
	more := 0
	for i := 0; i < maxUploadParts; i++ {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if p.FileName() != "" {
			more++
		}
	}
	s.rows.invalidate()
	s.showFirmware(w, r, http.StatusOK, func(v *firmwareView) {
		v.Result = &importResult{Added: rep.Added, Skipped: rep.Skipped, Notes: rep.Notes}
		if more > 0 {
			v.Result.Notes = append(v.Result.Notes, fmt.Sprintf("%d more files came with the form and were not imported: upload one package at a time.", more))
		}
	})
}

func (s *Server) importFailed(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusUnprocessableEntity
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		status = http.StatusRequestEntityTooLarge
	}
	s.showFirmware(w, r, status, func(v *firmwareView) {
		v.Error = "Nothing imported: " + err.Error()
	})
}

// removeFirmware removes a load, refused while the config targets it.
func (s *Server) removeFirmware(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	l, ok := s.live.Catalog.Load(id)
	if !ok {
		s.showFirmware(w, r, http.StatusNotFound, func(v *firmwareView) {
			v.Error = fmt.Sprintf("There is no load %q in the catalog.", id)
		})
		return
	}
	// The file as it is now, not as serve last loaded it: an edit made
	// since may target the load.
	cfg, err := config.Read(s.live.ConfigFile, s.live.ConfigGiven)
	if err != nil {
		s.showFirmware(w, r, http.StatusConflict, func(v *firmwareView) {
			v.Error = fmt.Sprintf("Not removed: %s has problems (phoneboot check explains them), so phoneboot cannot tell whether it targets %s.", s.live.ConfigFile, l.ID)
		})
		return
	}
	if refs := cfg.Targeting(l.ID); len(refs) > 0 {
		s.showFirmware(w, r, http.StatusConflict, func(v *firmwareView) {
			v.Error = fmt.Sprintf("Not removed: %s is the target of %s. Change that first.", l.ID, strings.Join(refs, " and "))
		})
		return
	}
	if err := s.live.Catalog.Remove(l.ID); err != nil {
		s.showFirmware(w, r, http.StatusInternalServerError, func(v *firmwareView) { v.Error = "Not removed: " + err.Error() })
		return
	}
	s.rows.invalidate()
	http.Redirect(w, r, "/firmware?removed="+l.ID, http.StatusSeeOther)
}
