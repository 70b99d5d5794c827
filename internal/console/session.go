package console

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
)

// session is what the console's session cookie carries, encrypted: who
// logged in, how, until when, and when it was last used. The cookie is the
// whole session; the server keeps only the ids of sessions that logged out
// (logouts).
type session struct {
	ID      string   `json:"sid"`
	Subject string   `json:"sub"`
	Name    string   `json:"name,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Issuer  string   `json:"iss"`
	Dev     bool     `json:"dev,omitempty"`
	Issued  int64    `json:"iat"`
	Expires int64    `json:"exp"`
	// Seen is when a page or form last used the session (unix seconds).
	Seen int64 `json:"seen"`
}

// deadline returns when the session ends unless it is used again: at its
// absolute expiry, or idle after its last use.
func (s *session) deadline(idle time.Duration) time.Time {
	seen := max(s.Seen, s.Issued)
	return time.Unix(min(s.Expires, seen+int64(idle/time.Second)), 0)
}

// identity is the session's person as the review flow and the roles see
// them.
func (s *session) identity() *sluice.Identity {
	return &sluice.Identity{Subject: s.Subject, Name: s.Name, Groups: slices.Clone(s.Groups),
		Method: sluice.AuthConsole, Issuer: s.Issuer, TokenID: "console:" + s.ID[:8],
		ExpiresAt: time.Unix(s.Expires, 0).UTC()}
}

// loginState is what the short-lived login cookie carries between the
// login page, the issuer and the callback.
type loginState struct {
	// CSRF binds the development login form to this browser.
	CSRF string `json:"csrf"`
	// State, Nonce and Verifier belong to an OIDC authorization request
	// in flight; empty when none is.
	State    string `json:"state,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	Verifier string `json:"verifier,omitempty"`
	// Next is the console page to return to after the login.
	Next    string `json:"next,omitempty"`
	Expires int64  `json:"exp"`
}

// Cookie names; over TLS they carry the __Secure- prefix, which browsers
// accept only with the Secure attribute.
const (
	sessionCookie = "sluice_console"
	loginCookie   = "sluice_console_login"
	cookiePath    = "/console/"
	// loginTTL bounds a login in progress.
	loginTTL = 10 * time.Minute
)

// secure reports whether cookies for r must be Secure: when it came over
// TLS or the console's public URL is https.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.URL, "https://")
}

func (s *Server) cookieName(r *http.Request, base string) string {
	if s.secure(r) {
		return "__Secure-" + base
	}
	return base
}

// setCookie sets a console cookie: HttpOnly, SameSite=Lax, Path /console/,
// Secure over TLS, expiring at exp (the past deletes it).
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, base, value string, exp time.Time) {
	maxAge := int(time.Until(exp).Seconds())
	if maxAge <= 0 {
		maxAge = -1
		value = ""
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r, base), Value: value, Path: cookiePath, MaxAge: maxAge,
		Secure: s.secure(r), HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// currentSession returns the request's valid session, or nil: the cookie
// must open with the key, be unexpired and not logged out. Bearer tokens
// are never looked at.
func (s *Server) currentSession(r *http.Request) *session {
	c, err := r.Cookie(s.cookieName(r, sessionCookie))
	if err != nil || c.Value == "" {
		return nil
	}
	var sess session
	if err := s.sealer.open("session", c.Value, &sess); err != nil || len(sess.ID) < 16 || sess.Subject == "" {
		return nil
	}
	if !s.now().Before(sess.deadline(s.idleTimeout())) || s.logouts.has(sess.ID) {
		return nil
	}
	// A session lives only as long as the way it logged in is configured:
	// turning the development login off, or changing the issuer, ends
	// the sessions it made.
	if sess.Dev && !s.DevLogin || !sess.Dev && (s.OIDC == nil || sess.Issuer != s.OIDC.Issuer) {
		return nil
	}
	return &sess
}

// startSession sets the session cookie of a new login.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, id *sluice.Identity, dev bool) error {
	now := s.now()
	sess := &session{ID: randomID(18), Subject: id.Subject, Name: id.Name, Groups: s.relevantGroups(id.Groups),
		Issuer: id.Issuer, Dev: dev, Issued: now.Unix(), Expires: now.Add(s.sessionTTL()).Unix(), Seen: now.Unix()}
	return s.writeSession(w, r, sess)
}

// touchEvery is how stale a session's Seen may get before a use renews
// the cookie; renewing on every request would rewrite it on every click.
const touchEvery = time.Minute

// touch records a use of sess: a page opened or a form sent. It renews the
// cookie when Seen is older than touchEvery, which moves the idle deadline;
// the absolute expiry stays.
func (s *Server) touch(w http.ResponseWriter, r *http.Request, sess *session) {
	now := s.now()
	if now.Sub(time.Unix(max(sess.Seen, sess.Issued), 0)) < touchEvery {
		return
	}
	renewed := *sess
	renewed.Seen = now.Unix()
	if err := s.writeSession(w, r, &renewed); err != nil {
		s.log().Warn("renew console session", "err", err)
	}
}

// writeSession seals sess into the session cookie.
func (s *Server) writeSession(w http.ResponseWriter, r *http.Request, sess *session) error {
	v, err := s.sealer.seal("session", sess)
	if err != nil {
		return err
	}
	if len(v) > 3800 {
		return fmt.Errorf("the login's identity is too large for a cookie (%d bytes)", len(v))
	}
	s.setCookie(w, r, sessionCookie, v, time.Unix(sess.Expires, 0))
	return nil
}

// relevantGroups keeps the groups that sluice's configuration names (in
// auditors and approvers), so that the session cookie stays small however
// many groups the issuer lists; the others decide nothing here.
func (s *Server) relevantGroups(groups []string) []string {
	var out []string
	for _, g := range groups {
		named := func(p policy.Subject) bool { return p.Kind == "group" && p.Name == g }
		if (slices.ContainsFunc(s.Auditors, named) || slices.ContainsFunc(s.Approvers, named)) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// logouts remembers the sessions that logged out until they would have
// expired, in memory and in a file in the data directory, so that a
// logged-out cookie stays dead across restarts. It is safe for concurrent
// use.
type logouts struct {
	path string // "" keeps them in memory only
	now  func() time.Time

	mu  sync.Mutex
	ids map[string]int64 // session id -> expiry (unix seconds)
}

// load reads the file, forgets expired entries and rewrites it.
func (l *logouts) load() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = map[string]int64{}
	if l.path == "" {
		return nil
	}
	f, err := os.Open(l.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	now := l.now().Unix()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, exp, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(exp, 10, 64)
		if ok && err == nil && n > now {
			l.ids[id] = n
		}
	}
	f.Close()
	var b strings.Builder
	for id, exp := range l.ids {
		fmt.Fprintf(&b, "%s %d\n", id, exp)
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, l.path)
}

// add records a logout.
func (l *logouts) add(id string, exp int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = map[string]int64{}
	}
	l.ids[id] = exp
	if l.path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %d\n", id, exp)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (l *logouts) has(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.ids[id]
	return ok
}
