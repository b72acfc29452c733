package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"phoneboot/internal/config"
	"phoneboot/internal/phone"
)

// entryAnswer is an inventory entry as the API shows it.
type entryAnswer struct {
	MAC   phone.MAC `json:"mac"`
	File  string    `json:"file"`
	Line  int       `json:"line"`  // the line of the file the entry starts on
	Entry string    `json:"entry"` // its TOML text, comments and layout kept
	// Reload is the outcome of loading the config again after a change
	// (absent on GET).
	Reload *reloadOutcome `json:"reload,omitempty"`
}

// reloadOutcome is what loading the config after an edit said: OK, or
// why not (the edit is written either way; serve goes on with the
// config it had).
type reloadOutcome struct {
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

// GET /inventory/{mac}: the phone's entry in phoneboot.toml.
func (a *api) inventoryGet(w http.ResponseWriter, r *http.Request) {
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	if q := newQuery(w, r); q.failed {
		return
	}
	text, line, err := config.PhoneEntry(a.live.InventoryFile, mac)
	if err != nil {
		a.editFailed(w, r, err, nil, 0)
		return
	}
	reply(w, http.StatusOK, entryAnswer{MAC: mac, File: a.live.InventoryFile, Line: line, Entry: text})
}

// PUT /inventory/{mac}: replace the phone's entry (or add it) with the
// TOML text sent, checked with the whole file as phoneboot check does.
func (a *api) inventoryPut(w http.ResponseWriter, r *http.Request) {
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	if q := newQuery(w, r); q.failed {
		return
	}
	var entry string
	switch mediaType(r) {
	case "application/json":
		var body struct {
			Entry *string `json:"entry"`
		}
		if !decodeJSON(w, r, &body) {
			return
		}
		if body.Entry == nil {
			fail(w, http.StatusBadRequest, `the body needs "entry": the phone's [[phone]] block as TOML text`)
			return
		}
		entry = *body.Entry
	case "text/plain", "application/toml":
		b, ok := readBody(w, r)
		if !ok {
			return
		}
		entry = string(b)
	default:
		unsupported(w, r, "application/json", "text/plain (the TOML itself)")
		return
	}
	_, _, err := config.PhoneEntry(a.live.InventoryFile, mac)
	created := errors.Is(err, config.ErrNoSuchPhone)
	if err := config.SetPhone(a.live.InventoryFile, a.live.InventoryGiven, mac, entry); err != nil {
		// SetPhone drops the blank lines before the entry; entry_line
		// counts the lines as they were sent.
		norm := strings.ReplaceAll(entry, "\r\n", "\n")
		a.editFailed(w, r, err, tomlField, len(norm)-len(strings.TrimLeft(norm, "\n")))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/inventory/"+mac.String())
	}
	a.edited(w, r, status, mac, "entry set")
}

// newPhone is the body of POST /inventory.
type newPhone struct {
	MAC      string `json:"mac"`
	Model    string `json:"model"`
	Protocol string `json:"protocol"`
	Label    string `json:"label"`
	Lines    []struct {
		Extension string `json:"extension"`
		Password  string `json:"password"`
		Name      string `json:"name"`
		AuthUser  string `json:"auth_user"`
	} `json:"lines"`
}

// POST /inventory: add a phone, as `phoneboot phones add` does.
func (a *api) inventoryAdd(w http.ResponseWriter, r *http.Request) {
	if q := newQuery(w, r); q.failed {
		return
	}
	var body newPhone
	if !decodeJSON(w, r, &body) {
		return
	}
	if body.MAC == "" {
		fail(w, http.StatusUnprocessableEntity, "a phone needs its MAC address", Problem{Field: "mac", Reason: "missing"})
		return
	}
	mac, err := phone.ParseMAC(body.MAC)
	if err == nil && mac == (phone.MAC{}) {
		err = errors.New("the all-zero MAC is no phone's")
	}
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, fmt.Sprintf("mac %q: %v", body.MAC, err), Problem{Field: "mac", Reason: err.Error()})
		return
	}
	np := config.NewPhone{MAC: mac, Model: body.Model, Protocol: body.Protocol, Label: body.Label}
	for _, l := range body.Lines {
		np.Lines = append(np.Lines, config.Line{Extension: l.Extension, Password: l.Password, Name: l.Name, AuthUser: l.AuthUser})
	}
	if err := config.AddPhone(a.live.InventoryFile, a.live.InventoryGiven, np); err != nil {
		a.editFailed(w, r, err, jsonField, 0)
		return
	}
	w.Header().Set("Location", "/api/v1/inventory/"+mac.String())
	a.edited(w, r, http.StatusCreated, mac, "phone added")
}

// DELETE /inventory/{mac}: remove the phone's entry, as `phoneboot
// phones rm` does.
func (a *api) inventoryDelete(w http.ResponseWriter, r *http.Request) {
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	if q := newQuery(w, r); q.failed {
		return
	}
	if err := config.RemovePhone(a.live.InventoryFile, mac); err != nil {
		a.editFailed(w, r, err, nil, 0)
		return
	}
	a.live.Log.Info("api: phone removed", "mac", mac.String(), "client", r.RemoteAddr)
	reply(w, http.StatusOK, struct {
		Removed phone.MAC     `json:"removed"`
		File    string        `json:"file"`
		Reload  reloadOutcome `json:"reload"`
	}{mac, a.live.InventoryFile, a.reload(r.Context())})
}

// edited answers a written entry: as it is in the file now, and the
// reload's outcome.
func (a *api) edited(w http.ResponseWriter, r *http.Request, status int, mac phone.MAC, what string) {
	a.live.Log.Info("api: "+what, "mac", mac.String(), "client", r.RemoteAddr)
	out := entryAnswer{MAC: mac, File: a.live.InventoryFile}
	ro := a.reload(r.Context())
	out.Reload = &ro
	var err error
	if out.Entry, out.Line, err = config.PhoneEntry(a.live.InventoryFile, mac); err != nil {
		// Another edit came between: say what was done all the same.
		out.Entry = ""
	}
	reply(w, status, out)
}

// reload loads the config again, so that an edit takes effect at once.
func (a *api) reload(ctx context.Context) reloadOutcome {
	if a.live.Reload == nil {
		return reloadOutcome{OK: false, Error: "this server does not reload"}
	}
	// The edit is written: the reload runs to its end even if the client
	// goes away meanwhile.
	err := a.live.Reload(context.WithoutCancel(ctx))
	if err == nil {
		return reloadOutcome{OK: true}
	}
	a.live.Log.Warn("api: config not reloaded after an edit", "err", err)
	out := reloadOutcome{Error: err.Error()}
	var ces config.Errors
	if errors.As(err, &ces) {
		out.Problems = fileProblems(ces)
	}
	return out
}

// editFailed answers an inventory edit's refusal: 422 with every problem
// the check found, 404 for a phone not in the inventory, 409 for one
// already there, 500 when the file system failed.
// skipped is how many lines before the entry SetPhone dropped.
func (a *api) editFailed(w http.ResponseWriter, r *http.Request, err error, field func(entry string, line int) string, skipped int) {
	var ee *config.EntryError
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &ee):
		var ps []Problem
		for _, e := range ee.Errs {
			p := Problem{Line: e.Line, EntryLine: ee.EntryLine(e.Line), Reason: e.Msg}
			if p.EntryLine > 0 {
				if field != nil {
					p.Field = field(ee.Entry, p.EntryLine)
				}
				p.EntryLine += skipped
			}
			ps = append(ps, p)
		}
		fail(w, http.StatusUnprocessableEntity, fmt.Sprintf("the change would make %s invalid (%d %s), nothing written", ee.File, len(ps), plural(len(ps), "problem")), ps...)
	case errors.Is(err, config.ErrNoSuchPhone):
		fail(w, http.StatusNotFound, err.Error())
	case errors.Is(err, config.ErrPhoneExists):
		fail(w, http.StatusConflict, err.Error()+"; PUT /api/v1/inventory/{mac} changes it")
	case errors.Is(err, fs.ErrNotExist):
		fail(w, http.StatusConflict, err.Error())
	case errors.As(err, &pe), errors.As(err, &le):
		a.internal(w, r, "cannot edit the config", err)
	default:
		// A refusal in words: not one entry for the phone, too long, …
		fail(w, http.StatusUnprocessableEntity, err.Error())
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// fileProblems are a config file's problems, at their lines.
func fileProblems(ces config.Errors) []Problem {
	var ps []Problem
	for _, e := range ces {
		ps = append(ps, Problem{Line: e.Line, Reason: e.Msg})
	}
	return ps
}

// tomlField is the key at line (1-based) of an entry as TOML names it:
// "phone" (the header), "phone.model", "phone.line[0]" (the first
// [[phone.line]] header), "phone.line[0].password"; "" for a comment or
// blank line.
func tomlField(entry string, line int) string {
	table, lines := "", -1
	for i, l := range strings.Split(entry, "\n") {
		if i >= line {
			break
		}
		t := strings.TrimSpace(l)
		key := ""
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
		case strings.HasPrefix(t, "["):
			name := strings.TrimSpace(strings.Trim(strings.SplitN(t, "#", 2)[0], "[] \t"))
			if name == "phone.line" {
				lines++
				name = fmt.Sprintf("phone.line[%d]", lines)
			}
			table = name
		default:
			k, _, ok := strings.Cut(t, "=")
			if ok {
				key = strings.Trim(strings.TrimSpace(k), `"'`)
			}
		}
		if i == line-1 {
			switch {
			case strings.HasPrefix(t, "["):
				return table
			case key != "" && table != "":
				return table + "." + key
			}
		}
	}
	return ""
}

// jsonField is the field of POST /inventory's body that the key at line
// of the entry AddPhone wrote came from: "model", "lines[0].password".
func jsonField(entry string, line int) string {
	f := tomlField(entry, line)
	switch {
	case f == "phone":
		return ""
	case strings.HasPrefix(f, "phone.line["):
		return "lines[" + strings.TrimPrefix(f, "phone.line[")
	}
	return strings.TrimPrefix(f, "phone.")
}
