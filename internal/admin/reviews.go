package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store"
)

// Reviews is the subset of the review flow the admin API uses.
type Reviews interface {
	Get(ctx context.Context, id string) (*sluice.Review, error)
	List(ctx context.Context, f store.ReviewFilter) ([]*sluice.Review, error)
	Decide(ctx context.Context, id string, approver *sluice.Identity, approve bool, reason, via string) (*sluice.Review, error)
}

func (s *Server) reviewRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/reviews", s.authenticated(s.listReviews))
	mux.Handle("GET /api/v1/reviews/{id}", s.authenticated(s.getReview))
	mux.Handle("POST /api/v1/reviews/{id}/approve", s.authenticated(s.decideReview(true)))
	mux.Handle("POST /api/v1/reviews/{id}/deny", s.authenticated(s.decideReview(false)))
}

// authenticated wraps h so that only authenticated callers reach it.
func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, *sluice.Identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.identify(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			writeError(w, err)
			return
		}
		h(w, r, id)
	})
}

// mayView reports whether id may see review rv: its approvers, its
// requester, and auditors.
func (s *Server) mayView(rv *sluice.Review, id *sluice.Identity) bool {
	return review.MayView(rv, id, s.Auditors)
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request, id *sluice.Identity) {
	q := r.URL.Query()
	f := store.ReviewFilter{Subject: q.Get("subject"), Connection: q.Get("connection"), Limit: 200}
	for _, st := range q["status"] {
		f.Statuses = append(f.Statuses, sluice.ReviewStatus(st))
	}
	rs, err := s.Reviews.List(r.Context(), f)
	if err != nil {
		writeError(w, sluice.Errorf(sluice.EInvalid, "listing reviews failed").WithCause(err))
		return
	}
	out := []*sluice.Review{}
	for _, rv := range rs {
		if s.mayView(rv, id) {
			out = append(out, rv)
		}
	}
	writeJSON(w, map[string]any{"reviews": out})
}

func (s *Server) getReview(w http.ResponseWriter, r *http.Request, id *sluice.Identity) {
	rv, err := s.Reviews.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if !s.mayView(rv, id) {
		// Not found rather than forbidden: do not confirm the id exists.
		writeError(w, store.ErrNotFound)
		return
	}
	writeJSON(w, map[string]any{"review": rv, "may_decide": review.MayDecide(rv, id) == nil})
}

// decision is the body of an approve or deny call.
type decision struct {
	Reason string `json:"reason"`
}

// viaHeader lets the CLI say that it is the CLI, for the audit trail.
const viaHeader = "X-Sluice-Client"

func (s *Server) decideReview(approve bool) func(http.ResponseWriter, *http.Request, *sluice.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id *sluice.Identity) {
		var body decision
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, sluice.Errorf(sluice.EInvalid, "the body must be JSON like {\"reason\": \"...\"}"))
			return
		}
		via := "api"
		if c := r.Header.Get(viaHeader); slices.Contains([]string{"cli", "console"}, c) {
			via = c
		}
		rv, err := s.Reviews.Decide(r.Context(), r.PathValue("id"), id, approve, body.Reason, via)
		switch {
		case errors.Is(err, review.ErrSelfApproval), errors.Is(err, review.ErrNotApprover):
			writeError(w, sluice.Errorf(sluice.EForbidden, "%v", err))
			return
		case errors.Is(err, store.ErrReviewClosed):
			msg := "the review is no longer pending"
			if rv != nil {
				msg += ": it is " + string(rv.Status)
			}
			writeError(w, &sluice.Error{Code: sluice.EConflict, Message: msg})
			return
		case errors.Is(err, store.ErrAlreadyVoted):
			writeError(w, sluice.Errorf(sluice.EConflict, "you already voted on this review"))
			return
		case err != nil:
			writeError(w, err)
			return
		}
		writeJSON(w, map[string]any{"review": rv})
	}
}
