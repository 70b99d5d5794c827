// Package admin serves sluice's HTTP admin API: the audit trail's search,
// session replay and checkpoints for auditors, reviews, and the endpoints
// that run SQL inside the gateway (scripts, replays on sandboxes). Every
// endpoint but the journal's public key needs a bearer token of an
// authorized identity.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/policy"
	"github.com/sluicehq/sluice/internal/store"
)

// Authenticator turns a bearer token into an identity.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*sluice.Identity, error)
}

// Server is the admin API. Set its fields, then mount Routes; it is safe
// for concurrent use.
type Server struct {
	Authn Authenticator
	Store store.Store
	// JournalDir is where the audit journal lives.
	JournalDir string
	// Auditors may read the audit trail.
	Auditors []policy.Subject
	// VerifierKey is the journal's public key, served to anyone.
	VerifierKey string
	// Reviews is the review flow; nil disables the review endpoints.
	Reviews Reviews
	// Runs and Replays run SQL inside the gateway (`sluice run`, `sluice
	// audit replay --against`); ExecRoutes mounts them. Runs needs
	// Reviews.
	Runs    Runs
	Replays Replays
	Log     *slog.Logger
}

// Routes registers the API on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/audit/key", s.key)
	mux.Handle("GET /api/v1/audit/checkpoint", s.auditor(s.checkpoint))
	mux.Handle("GET /api/v1/audit/statements", s.auditor(s.statements))
	mux.Handle("GET /api/v1/audit/sessions", s.auditor(s.sessions))
	mux.Handle("GET /api/v1/audit/sessions/{id}", s.auditor(s.session))
	if s.Reviews != nil {
		s.reviewRoutes(mux)
	}
}

// auditor wraps h so that only authenticated auditors reach it.
func (s *Server) auditor(h func(http.ResponseWriter, *http.Request, *sluice.Identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.identify(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			writeError(w, err)
			return
		}
		if !matchesAny(s.Auditors, id) {
			writeError(w, sluice.Errorf(sluice.EForbidden, "%q may not read the audit trail", id.Subject))
			return
		}
		h(w, r, id)
	})
}

// identify authenticates the request's bearer token.
func (s *Server) identify(r *http.Request) (*sluice.Identity, error) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return nil, sluice.Errorf(sluice.EUnauthenticated, "send a token: Authorization: Bearer <token>")
	}
	id, err := s.Authn.Authenticate(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		e := sluice.AsError(err)
		s.log().Info("admin API authentication failed", "remote", r.RemoteAddr, "err", err)
		return nil, &sluice.Error{Code: e.Code, Message: e.Message}
	}
	return id, nil
}

func matchesAny(subjects []policy.Subject, id *sluice.Identity) bool {
	for _, s := range subjects {
		if s.Matches(id) {
			return true
		}
	}
	return false
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// writeJSON writes v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError writes err's caller-facing message; never its cause.
func writeError(w http.ResponseWriter, err error) {
	e := sluice.AsError(err)
	if errors.Is(err, store.ErrNotFound) {
		e = sluice.Errorf(sluice.ENotFound, "not found")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.HTTPStatus())
	json.NewEncoder(w).Encode(map[string]string{"error": e.Message, "code": e.Code})
}
