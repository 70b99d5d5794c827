// Package console serves sluice's web console: the pages people use to
// approve held statements (an inbox that updates live), replay sessions,
// search the audit trail and check the journal's integrity. Pages are
// rendered on the server with html/template; the CSS and the one small
// script are embedded. People log in with OIDC (authorization code with
// PKCE) or, for a demo on one machine, a development login; agents' bearer
// tokens and service tokens give no access, because the console looks only
// at its own session cookie. What a person sees follows the admin API's
// rules: approvers see and decide the reviews they may decide, auditors
// read everything and decide nothing they are not approvers of.
package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/authn"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store"
)

// Store is the subset of the state store the console reads.
type Store interface {
	GetSession(ctx context.Context, id string) (*sluice.Session, error)
	ListSessions(ctx context.Context, f store.SessionFilter) ([]*sluice.Session, error)
	SearchStatements(ctx context.Context, f store.StatementFilter) ([]*sluice.StatementRecord, error)
}

// Reviews is the subset of the review flow the console uses.
type Reviews interface {
	Get(ctx context.Context, id string) (*sluice.Review, error)
	List(ctx context.Context, f store.ReviewFilter) ([]*sluice.Review, error)
	Decide(ctx context.Context, id string, approver *sluice.Identity, approve bool, reason, via string) (*sluice.Review, error)
}

// AccessTokens verifies access tokens as the gateway does for agents.
type AccessTokens interface {
	Authenticate(ctx context.Context, token string) (*sluice.Identity, error)
}

var (
	_ Store        = store.Store(nil)
	_ Reviews      = (*review.Service)(nil)
	_ AccessTokens = (*authn.Authenticator)(nil)
)

// SinkStatus is where one audit export sink stands.
type SinkStatus struct {
	Name string
	// Lag is the number of journal records not shipped yet; Cursor the
	// last sequence number shipped; Errors the failed attempts so far.
	Lag, Cursor, Errors uint64
	// Health is a warning, "" while the sink keeps up.
	Health string
}

// OIDC configures the login of people: the authorization code flow with
// PKCE (S256) against Issuer.
type OIDC struct {
	Issuer   string
	ClientID string
	// ClientSecret is empty for a public client.
	ClientSecret string
	// RedirectURL is the console's /console/callback as the issuer
	// redirects browsers to it.
	RedirectURL string
	// Scopes must include openid.
	Scopes []string
	// Claims reads the person's identity from the ID token: the claim
	// settings (subject, groups, name) of the gateway's issuer with the
	// same URL, so that a person is the same identity as with their
	// tokens. Its URL is ignored.
	Claims authn.Issuer
	// AccessTokens, when set, checks the login's access token: when the
	// gateway accepts it as it would an agent's, its subject must be the
	// ID token's and its groups are added. Tokens it refuses (meant for
	// another API) are ignored.
	AccessTokens AccessTokens
	// HTTPClient talks to the issuer. Default: a client with a 10 s
	// timeout.
	HTTPClient *http.Client
}

// Server is the web console. Set its fields, call Open, then Routes; it is
// safe for concurrent use. Close ends live update streams.
type Server struct {
	Store   Store
	Reviews Reviews
	// JournalDir is where the audit journal lives; VerifierKey is its
	// public key, for the integrity check.
	JournalDir  string
	VerifierKey string
	// Auditors read sessions, the audit search and the integrity page.
	Auditors []policy.Subject
	// Approvers are the subjects that some review rule names as
	// approvers; anyone neither an auditor nor an approver sees a page
	// that explains they have no access.
	Approvers []policy.Subject
	// Sinks reports the audit export sinks; nil when there are none.
	Sinks func() []SinkStatus
	// OIDC is the login for people; nil disables it.
	OIDC *OIDC
	// DevLogin offers a form to log in as anyone, for demos: it works only
	// on a loopback listener, for a loopback client.
	DevLogin bool
	// SessionTTL is how long a login lasts, from login (absolute).
	// Default 8h.
	SessionTTL time.Duration
	// IdleTimeout ends a login that has not been used for this long: no
	// page opened and no form sent (live updates and the inbox's automatic
	// refreshes are not use). Default 30m, capped by SessionTTL.
	IdleTimeout time.Duration
	// DataDir holds the cookie key (keys/console.key, created on first
	// Open) and the record of logouts. Empty keeps a key in memory only,
	// so that a restart logs everyone out (tests).
	DataDir string
	// URL is the console's public base URL, if a proxy sits in front:
	// state-changing requests must come from its origin, and cookies are
	// Secure when it is https.
	URL string
	// Poll is how often live updates look at the store for changed
	// reviews. Default 300ms.
	Poll time.Duration
	Log  *slog.Logger
	Now  func() time.Time

	sealer    *sealer
	logouts   *logouts
	live      *hub
	verify    verifyState
	oidcCache providerCache
	crossSite *http.CrossOriginProtection
	done      chan struct{}
	closeOnce sync.Once
}

// Defaults of the Server's fields.
const (
	DefaultSessionTTL  = 8 * time.Hour
	DefaultIdleTimeout = 30 * time.Minute
	DefaultPoll        = 300 * time.Millisecond
)

// Open loads (or creates) the cookie key and the record of logouts.
func (s *Server) Open(_ context.Context) error {
	var secret []byte
	var err error
	if s.DataDir == "" {
		secret = make([]byte, 32)
		rand.Read(secret)
	} else if secret, err = loadOrCreateSecret(s.DataDir); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s.sealer, err = newSealer(secret)
	clear(secret)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s.logouts = &logouts{now: s.now}
	if s.DataDir != "" {
		s.logouts.path = filepath.Join(s.DataDir, "console-logouts")
	}
	if err := s.logouts.load(); err != nil {
		return fmt.Errorf("console: read logouts: %w", err)
	}
	s.crossSite = http.NewCrossOriginProtection()
	if s.URL != "" {
		if o := origin(s.URL); o != "" {
			if err := s.crossSite.AddTrustedOrigin(o); err != nil {
				return fmt.Errorf("console: url: %w", err)
			}
		}
	}
	s.crossSite.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, nil, http.StatusForbidden, "This request came from another site and was refused.")
	}))
	s.done = make(chan struct{})
	s.live = &hub{s: s}
	return nil
}

// Close ends the live update streams and stops watching the store. It is
// idempotent.
func (s *Server) Close() {
	if s.done == nil {
		return
	}
	s.closeOnce.Do(func() { close(s.done) })
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Server) sessionTTL() time.Duration {
	if s.SessionTTL > 0 {
		return s.SessionTTL
	}
	return DefaultSessionTTL
}

func (s *Server) idleTimeout() time.Duration {
	d := s.IdleTimeout
	if d <= 0 {
		d = DefaultIdleTimeout
	}
	return min(d, s.sessionTTL())
}

func (s *Server) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return DefaultPoll
}

// Routes registers the console on mux: everything under /console/, and
// two redirects: / to the console, and /reviews/{id} (the links in review
// notifications, reviews.console_url + "/reviews/ID") to the review's page.
func (s *Server) Routes(mux *http.ServeMux) {
	h := func(pattern string, handler http.Handler) { mux.Handle(pattern, s.headers(handler)) }
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
	mux.HandleFunc("GET /reviews/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/reviews/"+pathEscape(r.PathValue("id")), http.StatusSeeOther)
	})
	h("GET /console/assets/{name}", http.HandlerFunc(serveAsset))
	h("GET /console/{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/reviews", http.StatusSeeOther)
	}))
	h("/console/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, s.viewer(r), http.StatusNotFound, "There is no such page.")
	}))

	h("GET /console/login", http.HandlerFunc(s.loginPage))
	h("GET /console/login/oidc", http.HandlerFunc(s.loginOIDC))
	h("GET /console/callback", http.HandlerFunc(s.callback))
	h("POST /console/login/dev", http.HandlerFunc(s.loginDev))
	h("POST /console/logout", s.action(s.logout, false))

	h("GET /console/reviews", s.page(s.inbox))
	h("GET /console/reviews/history", s.page(s.history))
	h("GET /console/reviews/{id}", s.page(s.reviewPage))
	h("POST /console/reviews/{id}/decide", s.action(s.decide, true))
	h("GET /console/fragments/inbox", s.fragment(s.inboxFragment))
	h("GET /console/events", s.fragment(s.events))

	h("GET /console/sessions", s.auditor(s.sessions))
	h("GET /console/sessions/{id}", s.auditor(s.sessionPage))
	h("GET /console/journal/{seq}", s.auditor(s.record))
	h("GET /console/search", s.auditor(s.search))
	h("GET /console/integrity", s.auditor(s.integrity))
	h("POST /console/integrity/verify", s.action(s.startVerify, true))
}

// viewer is the person behind a request, with what they may do.
type viewer struct {
	sess *session
	ID   *sluice.Identity
	// Auditor may read the audit trail; Approver is named by some review
	// rule. Neither: no access.
	Auditor, Approver bool
	// CSRF is the token every form of this session carries.
	CSRF string
}

// Dev reports whether the viewer used the development login.
func (v *viewer) Dev() bool { return v != nil && v.sess.Dev }

// Access reports whether the viewer may use the console at all.
func (v *viewer) Access() bool { return v.Auditor || v.Approver }

// viewer returns the request's logged-in person, or nil.
func (s *Server) viewer(r *http.Request) *viewer {
	sess := s.currentSession(r)
	if sess == nil {
		return nil
	}
	id := sess.identity()
	return &viewer{sess: sess, ID: id, Auditor: matchesAny(s.Auditors, id), Approver: matchesAny(s.Approvers, id),
		CSRF: s.sealer.token("session", sess.ID)}
}

func matchesAny(subjects []policy.Subject, id *sluice.Identity) bool {
	for _, p := range subjects {
		if p.Matches(id) {
			return true
		}
	}
	return false
}

// handler is a console page or action for a logged-in viewer.
type handler func(w http.ResponseWriter, r *http.Request, v *viewer)

// page serves h to logged-in viewers with access; others are sent to the
// login page or shown why they have no access.
func (s *Server) page(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := s.viewer(r)
		switch {
		case v == nil:
			http.Redirect(w, r, "/console/login?next="+queryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		case !v.Access():
			s.noAccess(w, r, v)
		default:
			s.touch(w, r, v.sess)
			h(w, r, v)
		}
	})
}

// auditor serves h to auditors only.
func (s *Server) auditor(h handler) http.Handler {
	return s.page(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		if !v.Auditor {
			s.fail(w, r, v, http.StatusForbidden, "Only auditors (audit.auditors) may read sessions, the audit search and the integrity page.")
			return
		}
		h(w, r, v)
	})
}

// fragment serves h, a part of a page that scripts fetch, to logged-in
// viewers with access; others get a bare 401 or 403.
func (s *Server) fragment(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := s.viewer(r)
		switch {
		case v == nil:
			http.Error(w, "log in first", http.StatusUnauthorized)
		case !v.Access():
			http.Error(w, "no access", http.StatusForbidden)
		default:
			h(w, r, v)
		}
	})
}

// action serves h for a state-changing POST: the request must not come
// from another site (Sec-Fetch-Site, Origin) and its form must carry the
// session's CSRF token. needAccess also requires an auditor or approver.
func (s *Server) action(h handler, needAccess bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.crossSite.Check(r); err != nil {
			s.fail(w, r, nil, http.StatusForbidden, "This request came from another site and was refused.")
			return
		}
		v := s.viewer(r)
		if v == nil {
			s.fail(w, r, nil, http.StatusUnauthorized, "Your session has ended; log in again.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, v, http.StatusBadRequest, "The form could not be read.")
			return
		}
		if !s.sealer.checkToken("session", v.sess.ID, r.PostFormValue("csrf")) {
			s.fail(w, r, v, http.StatusForbidden, "The form's security token is missing or stale. Reload the page and try again.")
			return
		}
		if needAccess && !v.Access() {
			s.noAccess(w, r, v)
			return
		}
		if needAccess {
			// Logging out is not use: its handler deletes the cookie.
			s.touch(w, r, v.sess)
		}
		h(w, r, v)
	})
}

// headers sets the security headers of every console response: a
// Content-Security-Policy without inline scripts or styles, no framing,
// no referrer, no sniffing and, for pages, no caching.
func (s *Server) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Pragma", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// errNotFound is what a page shows for something that does not exist or
// that the viewer may not see.
var errNotFound = errors.New("not found")

func isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, errNotFound)
}
