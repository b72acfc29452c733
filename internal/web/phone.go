package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"phoneboot/internal/config"
	"phoneboot/internal/event"
	"phoneboot/internal/fleet"
	"phoneboot/internal/phone"
	"phoneboot/internal/provision"
	"phoneboot/internal/recovery"
)

// timelineEvents is how many of a phone's newest events its page shows.
const timelineEvents = 300

// phoneView is the Phone page.
type phoneView struct {
	fleet.View
	Timeline timeline
	Events   []event.Event // newest first, for the table
	Files    []provision.Generated
	FilesErr string
	Revealed bool // Files show the SIP passwords
	CanShow  bool // the "show passwords" button
	Entry    entryView
	Guide    *recovery.Guide
	GuideErr string
	Saved    bool
	Now      time.Time
}

// entryView is the inventory editor.
type entryView struct {
	Text   string
	Line   int  // the file line it starts on (0: new)
	Listed bool // the phone is in the inventory
	File   string
	Errors []entryError
	Note   string // one error that is not about a line
}

type entryError struct {
	Line int // of the entry, 0 outside it
	Msg  string
	Text string // that line of the entry
}

func (s *Server) macOf(w http.ResponseWriter, r *http.Request) (phone.MAC, bool) {
	text := r.PathValue("mac")
	if len(text) == 15 && strings.EqualFold(text[:3], "SEP") {
		text = text[3:] // the device name
	}
	mac, err := phone.ParseMAC(text)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("%q is not a MAC address (for example 00:13:7F:38:B3:DE).", r.PathValue("mac")))
		return mac, false
	}
	return mac, true
}

func (s *Server) phonePage(w http.ResponseWriter, r *http.Request) {
	mac, ok := s.macOf(w, r)
	if !ok {
		return
	}
	if r.Header.Get("HX-Request") != "" && r.URL.Query().Get("part") == "live" {
		v, err := s.phoneView(r, mac, false)
		if err != nil {
			s.phoneErr(w, r, mac, err)
			return
		}
		s.renderPart(w, r, "phone", "live", v)
		return
	}
	s.showPhone(w, r, http.StatusOK, mac, false, nil)
}

// showPhone draws the whole page; entry is the editor's text and
// problems after a failed save (nil: the file's entry).
func (s *Server) showPhone(w http.ResponseWriter, r *http.Request, status int, mac phone.MAC, reveal bool, entry *entryView) {
	v, err := s.phoneView(r, mac, reveal)
	if err != nil {
		s.phoneErr(w, r, mac, err)
		return
	}
	if entry != nil {
		v.Entry = *entry
	} else {
		v.Entry = s.entry(mac, &v.Row)
		if !reveal {
			v.Entry.Text = maskEntry(v.Entry.Text)
		}
	}
	v.Saved = r.URL.Query().Get("saved") == "1"
	v.Guide, v.GuideErr = s.guide(r, mac, v.Model)
	s.render(w, r, status, "phone", page{Title: mac.String(), Nav: "phones", Live: "/live?mac=" + mac.String(), Data: v})
}

func (s *Server) phoneErr(w http.ResponseWriter, r *http.Request, mac phone.MAC, err error) {
	if errors.Is(err, fleet.ErrUnknown) {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("phoneboot knows no phone %s: it is not in the inventory and has not been seen.", mac))
		return
	}
	s.failErr(w, r, err)
}

// phoneView reads one phone: its row, timeline and files.
func (s *Server) phoneView(r *http.Request, mac phone.MAC, reveal bool) (phoneView, error) {
	v, err := s.live.Fleet().Phone(r.Context(), mac, timelineEvents)
	if err != nil {
		return phoneView{}, err
	}
	pv := phoneView{View: v, CanShow: s.opts.Auth, Revealed: reveal, Now: time.Now()}
	pv.Timeline = drawTimeline(v.Events)
	for i := len(v.Events) - 1; i >= 0; i-- {
		pv.Events = append(pv.Events, v.Events[i])
	}
	files, err := s.live.Prov.Preview(mac, netip.Addr{}, reveal)
	if err != nil {
		pv.FilesErr = err.Error()
	}
	pv.Files = files
	return pv, nil
}

// entry is the phone's inventory entry as the file has it, or a start of
// one for a phone outside the inventory.
func (s *Server) entry(mac phone.MAC, row *fleet.Row) entryView {
	text, line, err := config.PhoneEntry(s.live.InventoryFile, mac)
	e := entryView{Text: text, Line: line, Listed: err == nil, File: s.live.InventoryFile}
	switch {
	case errors.Is(err, config.ErrNoSuchPhone):
		model := fmt.Sprintf("model = %q", row.Model)
		if row.Model == "" {
			model = `# model = "7960"   (phoneboot has not seen its model: name it)`
		}
		e.Text = fmt.Sprintf("[[phone]]\nmac = %q\n%s\nlabel = \"\"\n", mac.String(), model)
	case err != nil:
		e.Note = err.Error()
	}
	return e
}

// guide is the recovery guide of the phone, or why there is none.
func (s *Server) guide(r *http.Request, mac phone.MAC, model string) (*recovery.Guide, string) {
	if model == "" {
		return nil, "phoneboot does not know this phone's model yet: run phoneboot recover MODEL --mac " + mac.String() + " with it."
	}
	g, err := recovery.Build(r.Context(), recovery.Options{Data: s.live.Data, ConfigFile: s.live.ConfigFile, Model: model, MAC: mac.String()})
	if err != nil {
		return nil, err.Error()
	}
	return g, ""
}

// saveEntry writes the edited inventory entry, checked like phoneboot
// check; on a problem nothing is written and the page shows it with the
// line of the entry.
func (s *Server) saveEntry(w http.ResponseWriter, r *http.Request) {
	mac, ok := s.macOf(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.failErr(w, r, err)
		return
	}
	text := r.PostFormValue("entry")
	old, _, _ := config.PhoneEntry(s.live.InventoryFile, mac)
	full, err := unmaskEntry(text, old)
	if err == nil {
		err = config.SetPhone(s.live.InventoryFile, s.live.InventoryGiven, mac, full)
	}
	if err == nil {
		s.rows.invalidate()
		if rerr := s.live.Reload(r.Context()); rerr != nil {
			// Written, but serve did not take it: say so on the page.
			s.showPhone(w, r, http.StatusOK, mac, false, &entryView{Text: text, Listed: true, File: s.live.InventoryFile,
				Note: "Saved, but phoneboot could not load the config again: " + rerr.Error()})
			return
		}
		http.Redirect(w, r, "/phones/"+mac.String()+"?saved=1#entry", http.StatusSeeOther)
		return
	}
	e := entryView{Text: text, File: s.live.InventoryFile}
	_, _, lerr := config.PhoneEntry(s.live.InventoryFile, mac)
	e.Listed = lerr == nil
	var ee *config.EntryError
	if errors.As(err, &ee) {
		lines := strings.Split(strings.ReplaceAll(strings.Trim(text, "\r\n"), "\r\n", "\n"), "\n")
		for _, pe := range ee.Errs {
			er := entryError{Line: ee.EntryLine(pe.Line), Msg: entryMsg(pe, ee)}
			if er.Line > 0 && er.Line <= len(lines) {
				er.Text = lines[er.Line-1]
			}
			e.Errors = append(e.Errors, er)
		}
	} else {
		e.Note = err.Error()
	}
	s.showPhone(w, r, http.StatusUnprocessableEntity, mac, false, &e)
}

// entryMsg is a problem of the edited file: a line outside the entry
// keeps its file line.
func entryMsg(pe *config.Error, ee *config.EntryError) string {
	if pe.Line > 0 && ee.EntryLine(pe.Line) == 0 {
		return fmt.Sprintf("%s line %d: %s", ee.File, pe.Line, pe.Msg)
	}
	return pe.Msg
}

// revealFiles draws the page with the SIP passwords in the generated
// files: a POST (a link cannot do it; CSRF-checked) by a logged-in user.
func (s *Server) revealFiles(w http.ResponseWriter, r *http.Request) {
	mac, ok := s.macOf(w, r)
	if !ok {
		return
	}
	if !s.opts.Auth {
		s.fail(w, r, http.StatusForbidden, "Passwords are shown only to a user logged in with the admin token: start serve with --admin-token (docs/dashboard.md).")
		return
	}
	s.showPhone(w, r, http.StatusOK, mac, true, nil)
}

// masked reports whether a generated file hides passwords (for the note).
func masked(g provision.Generated) bool { return strings.Contains(string(g.Body), provision.Masked) }
