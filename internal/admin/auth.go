package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"phoneboot/internal/web"
)

// Session cookies are stateless: the expiry and an HMAC of it under a
// key derived from the token. Changing the token ends every session.
const (
	cookieName = "phoneboot_session"
	sessionFor = 12 * time.Hour
)

// auth checks tokens and sessions; with no token everything passes (the
// loopback rules guard the server then).
type auth struct {
	token string
	key   []byte
	pages *web.Server
	now   func() time.Time
}

func sessionKey(token string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("phoneboot admin session key v1"))
	return m.Sum(nil)
}

func (a *auth) time() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

// tokenOK compares in constant time (of the hashes: the lengths differ).
func (a *auth) tokenOK(got string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(a.token))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func (a *auth) bearerOK(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && a.tokenOK(strings.TrimSpace(tok))
}

func (a *auth) sign(exp int64) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte("session:" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (a *auth) sessionOK(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	expText, sig, ok := strings.Cut(c.Value, ".")
	exp, err := strconv.ParseInt(expText, 10, 64)
	if !ok || err != nil || a.time().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(a.sign(exp)))
}

// bearer guards the API: a token in the Authorization header.
func (a *auth) bearer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.token == "" || a.bearerOK(r) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="phoneboot"`)
		refuse(w, r, http.StatusUnauthorized, "this phoneboot asks for its admin token: send the header Authorization: Bearer TOKEN")
	})
}

// bearerOrSession guards /metrics: a scraper's token, or the pages' session.
func (a *auth) bearerOrSession(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.token == "" || a.bearerOK(r) || a.sessionOK(r) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="phoneboot"`)
		http.Error(w, "this phoneboot asks for its admin token: send the header Authorization: Bearer TOKEN", http.StatusUnauthorized)
	})
}

// session guards the pages: without a session a page goes to the login
// form (and back after it); a write is refused.
func (a *auth) session(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.token == "" || a.sessionOK(r) {
			h.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if r.Header.Get("HX-Request") != "" || r.Header.Get("Accept") == "text/event-stream" {
				// A live update after the session ended: the page reloads into the login form.
				w.Header().Set("HX-Redirect", "/login")
				http.Error(w, "log in again", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+localPath(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		http.Error(w, "log in first: this phoneboot asks for its admin token (GET /login)", http.StatusUnauthorized)
	})
}

// localPath keeps a "next" address on this server: a path, not //host.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) {
		return "/"
	}
	return p
}

func (a *auth) loginPage(w http.ResponseWriter, r *http.Request) {
	if a.token == "" || a.sessionOK(r) {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	a.pages.Login(w, r, http.StatusOK, "", localPath(r.URL.Query().Get("next")))
}

func (a *auth) login(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.PostFormValue("next"))
	if a.token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if !a.tokenOK(r.PostFormValue("token")) {
		// A wrong guess costs the guesser a second.
		time.Sleep(time.Second)
		a.pages.Login(w, r, http.StatusUnauthorized, "That is not this phoneboot's admin token.", next)
		return
	}
	exp := a.time().Add(sessionFor).Unix()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: strconv.FormatInt(exp, 10) + "." + a.sign(exp),
		Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Expires: time.Unix(exp, 0),
		Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *auth) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
