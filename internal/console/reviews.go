package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/store"
)

// reviewView is a review as one viewer sees it.
type reviewView struct {
	*sluice.Review
	// MayDecide is set when the viewer may approve or deny it now.
	MayDecide bool
	// Own is set when the viewer asked for it; Voted when they voted.
	Own, Voted bool
	// StoppedWaiting is set when the requester's wait is over: an approval
	// then lets the same statement run once until ValidUntil.
	StoppedWaiting bool
}

func (s *Server) view(rv *sluice.Review, v *viewer) reviewView {
	out := reviewView{Review: rv, Own: rv.Request.Subject == v.ID.Subject}
	for _, d := range rv.Decisions {
		if d.By == v.ID.Subject {
			out.Voted = true
		}
	}
	out.MayDecide = rv.Status == sluice.ReviewPending && !out.Voted && review.MayDecide(rv, v.ID) == nil
	out.StoppedWaiting = rv.Status == sluice.ReviewPending && !rv.WaitUntil.IsZero() && s.now().After(rv.WaitUntil)
	return out
}

// visible lists the reviews with the given statuses that v may see, by
// the admin API's rule (review.MayView), newest first, and the version of
// all those reviews (for live updates).
func (s *Server) visible(r *http.Request, v *viewer, f store.ReviewFilter, limit int) ([]reviewView, string, error) {
	rs, err := s.Reviews.List(r.Context(), f)
	if err != nil {
		return nil, "", err
	}
	var out []reviewView
	for _, rv := range rs {
		if review.MayView(rv, v.ID, s.Auditors) {
			out = append(out, s.view(rv, v))
			if len(out) == limit {
				break
			}
		}
	}
	return out, reviewsVersion(rs), nil
}

// inboxData is what the inbox and its live fragment show.
type inboxData struct {
	Reviews []reviewView
	// Decidable counts the reviews the viewer may decide now.
	Decidable int
	// Version is the pending reviews' version the list shows; the live
	// stream says when it changed.
	Version string
}

func (s *Server) inboxData(r *http.Request, v *viewer) (*inboxData, error) {
	rs, version, err := s.visible(r, v, pendingFilter, 500)
	if err != nil {
		return nil, err
	}
	d := &inboxData{Reviews: rs, Version: version}
	for _, rv := range rs {
		if rv.MayDecide {
			d.Decidable++
		}
	}
	return d, nil
}

// inbox shows the pending reviews the viewer may see, with approve and
// deny forms on those they may decide.
func (s *Server) inbox(w http.ResponseWriter, r *http.Request, v *viewer) {
	d, err := s.inboxData(r, v)
	if err != nil {
		s.storeFailed(w, r, v, "list reviews", err)
		return
	}
	p := &pageData{Title: "Approvals", Nav: "inbox", Viewer: v, Data: d}
	p.Flash = s.decidedFlash(r, v)
	s.render(w, r, http.StatusOK, "inbox", p)
}

// inboxFragment is the inbox's list alone, which the page's script
// fetches when the live stream says the reviews changed.
func (s *Server) inboxFragment(w http.ResponseWriter, r *http.Request, v *viewer) {
	d, err := s.inboxData(r, v)
	if err != nil {
		s.log().Error("console: list reviews", "err", err)
		http.Error(w, "the reviews could not be listed", http.StatusInternalServerError)
		return
	}
	s.renderPart(w, r, "inbox", "inbox-list", &pageData{Viewer: v, Data: d})
}

// history shows decided, expired and executed reviews the viewer may see.
func (s *Server) history(w http.ResponseWriter, r *http.Request, v *viewer) {
	rs, _, err := s.visible(r, v, store.ReviewFilter{Statuses: []sluice.ReviewStatus{sluice.ReviewApproved,
		sluice.ReviewDenied, sluice.ReviewExpired, sluice.ReviewExecuted}, Limit: 1000}, 200)
	if err != nil {
		s.storeFailed(w, r, v, "list reviews", err)
		return
	}
	s.render(w, r, http.StatusOK, "history", &pageData{Title: "Decided reviews", Nav: "history", Viewer: v, Data: rs})
}

// reviewPage shows one review in full.
func (s *Server) reviewPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	rv, err := s.Reviews.Get(r.Context(), r.PathValue("id"))
	if err == nil && !review.MayView(rv, v.ID, s.Auditors) {
		err = errNotFound // do not confirm that the id exists
	}
	if err != nil {
		if isNotFound(err) {
			s.fail(w, r, v, http.StatusNotFound, "There is no review with this id that you may see.")
			return
		}
		s.storeFailed(w, r, v, "get review", err)
		return
	}
	p := &pageData{Title: "Review " + rv.ID, Nav: "inbox", Viewer: v, Data: s.view(rv, v)}
	p.Flash = s.decidedFlash(r, v)
	s.render(w, r, http.StatusOK, "review", p)
}

// maxReason bounds a decision's reason.
const maxReason = 2000

// decide records the viewer's approval or denial of a review through the
// review flow, as the viewer, via "console".
func (s *Server) decide(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	rv, err := s.Reviews.Get(r.Context(), id)
	if err == nil && !review.MayView(rv, v.ID, s.Auditors) {
		err = errNotFound
	}
	if err != nil {
		if isNotFound(err) {
			s.fail(w, r, v, http.StatusNotFound, "There is no review with this id that you may see.")
			return
		}
		s.storeFailed(w, r, v, "get review", err)
		return
	}
	var approve bool
	switch r.PostFormValue("decision") {
	case "approve":
		approve = true
	case "deny":
	default:
		s.fail(w, r, v, http.StatusBadRequest, "Choose approve or deny.")
		return
	}
	reason := r.PostFormValue("reason")
	if len(reason) > maxReason {
		s.fail(w, r, v, http.StatusBadRequest, "The reason is too long (at most 2000 characters).")
		return
	}
	if err := review.MayDecide(rv, v.ID); err != nil {
		s.fail(w, r, v, http.StatusForbidden, "You may not decide this review: "+err.Error()+".")
		return
	}
	_, err = s.Reviews.Decide(r.Context(), id, v.ID, approve, reason, "console")
	switch {
	case errors.Is(err, review.ErrSelfApproval), errors.Is(err, review.ErrNotApprover):
		s.fail(w, r, v, http.StatusForbidden, "You may not decide this review: "+err.Error()+".")
		return
	case errors.Is(err, store.ErrReviewClosed):
		s.fail(w, r, v, http.StatusConflict, "The review is no longer pending: someone decided it, or it expired.")
		return
	case errors.Is(err, store.ErrAlreadyVoted):
		s.fail(w, r, v, http.StatusConflict, "You already voted on this review.")
		return
	case err != nil:
		s.storeFailed(w, r, v, "decide review", err)
		return
	}
	s.log().Info("console: review decided", "review", id, "by", v.ID.Subject, "approve", approve)
	back := "/console/reviews?decided=" + queryEscape(id)
	if r.PostFormValue("return") == "review" {
		back = "/console/reviews/" + pathEscape(id) + "?decided=" + queryEscape(id)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// decidedFlash says where a review the viewer just decided stands.
func (s *Server) decidedFlash(r *http.Request, v *viewer) string {
	id := r.URL.Query().Get("decided")
	if id == "" {
		return ""
	}
	rv, err := s.Reviews.Get(r.Context(), id)
	if err != nil || !review.MayView(rv, v.ID, s.Auditors) {
		return ""
	}
	for _, d := range rv.Decisions {
		if d.By == v.ID.Subject {
			verb := "denied"
			if d.Approve {
				verb = "approved"
			}
			msg := "You " + verb + " " + rv.ID + "; it is now " + string(rv.Status)
			if rv.Status == sluice.ReviewPending {
				msg += " (" + strconv.Itoa(rv.Approvals()) + " of " + strconv.Itoa(rv.MinApprovals) + " approvals)"
			}
			return msg + "."
		}
	}
	return ""
}

// storeFailed logs a failure to read or write state and shows a page
// that says so without its cause.
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, v *viewer, what string, err error) {
	s.log().Error("console: "+what, "path", r.URL.Path, "err", err)
	s.fail(w, r, v, http.StatusInternalServerError, "The gateway's state could not be read; see the gateway log.")
}
