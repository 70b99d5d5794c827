package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/store"
)

func (s *Server) key(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(s.VerifierKey + "\n"))
}

func (s *Server) checkpoint(w http.ResponseWriter, _ *http.Request, _ *sluice.Identity) {
	cp, err := journal.LatestCheckpoint(s.JournalDir)
	if err != nil {
		writeError(w, sluice.Errorf(sluice.EUnavailable, "no checkpoint available").WithCause(err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp)
}

// statements serves the same search as `sluice audit search`.
func (s *Server) statements(w http.ResponseWriter, r *http.Request, _ *sluice.Identity) {
	q := r.URL.Query()
	f := store.StatementFilter{
		Subject: q.Get("subject"), Group: q.Get("group"), Connection: q.Get("connection"),
		Session: q.Get("session"), Text: q.Get("text"), Error: q.Get("error"), ReviewID: q.Get("review"),
		Decision: sluice.Action(q.Get("decision")),
	}
	var err error
	if f.Since, f.Until, f.Limit, err = bounds(q.Get("since"), q.Get("until"), q.Get("limit")); err != nil {
		writeError(w, err)
		return
	}
	for _, name := range q["class"] {
		c, ok := sluice.ParseClass(name)
		if !ok {
			writeError(w, sluice.Errorf(sluice.EInvalid, "unknown class %q", name))
			return
		}
		f.Class |= c
	}
	stmts, err := s.Store.SearchStatements(r.Context(), f)
	if err != nil {
		writeError(w, sluice.Errorf(sluice.EInvalid, "search failed").WithCause(err))
		return
	}
	if stmts == nil {
		stmts = []*sluice.StatementRecord{}
	}
	writeJSON(w, map[string]any{"statements": stmts})
}

func (s *Server) sessions(w http.ResponseWriter, r *http.Request, _ *sluice.Identity) {
	q := r.URL.Query()
	f := store.SessionFilter{Subject: q.Get("subject"), Connection: q.Get("connection"), Group: q.Get("group"),
		OpenOnly: q.Get("open") == "true", HasDenied: q.Get("has_denied") == "true"}
	var err error
	if f.Since, f.Until, f.Limit, err = bounds(q.Get("since"), q.Get("until"), q.Get("limit")); err != nil {
		writeError(w, err)
		return
	}
	ss, err := s.Store.ListSessions(r.Context(), f)
	if err != nil {
		writeError(w, sluice.Errorf(sluice.EInvalid, "listing sessions failed").WithCause(err))
		return
	}
	if ss == nil {
		ss = []*sluice.Session{}
	}
	writeJSON(w, map[string]any{"sessions": ss})
}

// session serves a session's replay: its record and its journal events.
func (s *Server) session(w http.ResponseWriter, r *http.Request, _ *sluice.Identity) {
	sess, err := s.Store.GetSession(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	events, err := audit.SessionEvents(s.JournalDir, sess)
	if err != nil {
		writeError(w, sluice.Errorf(sluice.EUnavailable, "reading the journal failed").WithCause(err))
		return
	}
	writeJSON(w, map[string]any{"session": sess, "events": events})
}

// bounds parses time bounds (RFC 3339) and a limit.
func bounds(since, until, limit string) (time.Time, time.Time, int, error) {
	var s, u time.Time
	var err error
	if since != "" {
		if s, err = time.Parse(time.RFC3339Nano, since); err != nil {
			return s, u, 0, sluice.Errorf(sluice.EInvalid, "since must be an RFC 3339 time")
		}
	}
	if until != "" {
		if u, err = time.Parse(time.RFC3339Nano, until); err != nil {
			return s, u, 0, sluice.Errorf(sluice.EInvalid, "until must be an RFC 3339 time")
		}
	}
	n := 0
	if limit != "" {
		if n, err = strconv.Atoi(limit); err != nil || n < 0 || n > 10000 {
			return s, u, 0, sluice.Errorf(sluice.EInvalid, "limit must be between 0 and 10000")
		}
	}
	return s, u, n, nil
}
