package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// searchData is what the audit search page shows.
type searchData struct {
	Form       url.Values
	Classes    []string // every class, for the checkboxes
	Decisions  []string
	Searched   bool
	Statements []*sluice.StatementRecord
	Limit      int
	// Older links to the next page, older statements, when this one is full.
	Older string
}

// Checked reports whether the form asked for class c.
func (d *searchData) Checked(c string) bool { return slices.Contains(d.Form["class"], c) }

// search is `sluice audit search` in a form: the same filters
// (store.StatementFilter) and the same results, newest first.
func (s *Server) search(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	d := &searchData{Form: q, Classes: (^sluice.Class(0)).Names(), Decisions: []string{"allow", "deny", "review"}}
	p := &pageData{Title: "Audit search", Nav: "search", Viewer: v, Data: d}
	f := store.StatementFilter{
		Subject: strings.TrimSpace(q.Get("subject")), Group: strings.TrimSpace(q.Get("group")),
		Connection: strings.TrimSpace(q.Get("connection")), Session: strings.TrimSpace(q.Get("session")),
		Text: q.Get("text"), Error: q.Get("error"), ReviewID: strings.TrimSpace(q.Get("review")),
		Decision: sluice.Action(q.Get("decision")),
	}
	bad := func(msg string) {
		p.Error = msg
		s.render(w, r, http.StatusBadRequest, "search", p)
	}
	var err error
	if f.Since, f.Until, f.Limit, err = parseBounds(q, s.now()); err != nil {
		bad(err.Error())
		return
	}
	d.Limit = f.Limit
	for _, name := range q["class"] {
		c, ok := sluice.ParseClass(name)
		if !ok {
			bad("Unknown class " + name + ".")
			return
		}
		f.Class |= c
	}
	if f.Decision != "" && !slices.Contains(d.Decisions, string(f.Decision)) {
		bad("Decision must be allow, deny or review.")
		return
	}
	d.Searched = len(q) > 0
	if d.Searched {
		if d.Statements, err = s.Store.SearchStatements(r.Context(), f); err != nil {
			s.storeFailed(w, r, v, "search statements", err)
			return
		}
		if n := len(d.Statements); n == f.Limit {
			d.Older = olderLink("/console/search", q, f.Since, d.Statements[n-1].StartedAt, d.Statements[0].StartedAt)
		}
	}
	s.render(w, r, http.StatusOK, "search", p)
}
