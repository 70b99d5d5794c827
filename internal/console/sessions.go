package console

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/store"
)

// sessionsData is what the sessions page shows.
type sessionsData struct {
	Form     url.Values
	Sessions []*sluice.Session
	Limit    int
	// Older links to the next page, older sessions, when this one is full.
	Older string
}

// sessions lists sessions with the admin API's filters.
func (s *Server) sessions(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := store.SessionFilter{Subject: strings.TrimSpace(q.Get("subject")), Connection: strings.TrimSpace(q.Get("connection")),
		Group: strings.TrimSpace(q.Get("group")), HasDenied: q.Get("has_denied") != "", OpenOnly: q.Get("open") != ""}
	d := &sessionsData{Form: q}
	p := &pageData{Title: "Sessions", Nav: "sessions", Viewer: v, Data: d}
	var err error
	if f.Since, f.Until, f.Limit, err = parseBounds(q, s.now()); err != nil {
		p.Error = err.Error()
		s.render(w, r, http.StatusBadRequest, "sessions", p)
		return
	}
	d.Limit = f.Limit
	if d.Sessions, err = s.Store.ListSessions(r.Context(), f); err != nil {
		s.storeFailed(w, r, v, "list sessions", err)
		return
	}
	if n := len(d.Sessions); n == f.Limit {
		d.Older = olderLink("/console/sessions", q, f.Since, d.Sessions[n-1].StartedAt, d.Sessions[0].StartedAt)
	}
	s.render(w, r, http.StatusOK, "sessions", p)
}

// parseBounds reads the since, until and limit fields of a filter form:
// times as RFC 3339, as a form's date and time (2006-01-02T15:04, UTC) or
// as a duration ago ("24h"), like the CLI's flags.
func parseBounds(q url.Values, now time.Time) (since, until time.Time, limit int, err error) {
	if since, err = parseWhen(q.Get("since"), now); err != nil {
		return since, until, 0, fmt.Errorf("From: %w", err)
	}
	if until, err = parseWhen(q.Get("until"), now); err != nil {
		return since, until, 0, fmt.Errorf("Until: %w", err)
	}
	limit = store.DefaultLimit
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 1000 {
			return since, until, 0, errors.New("Limit must be between 1 and 1000")
		}
	}
	return since, until, limit, nil
}

// olderLink returns the link to the page after a full page of results,
// newest first, whose oldest and newest start times are given: the same
// filters with until just after the oldest, so that rows sharing that
// start time are shown again rather than skipped, and since made absolute.
// It returns "" when the whole page shares one start time (the link would
// show the same page again).
func olderLink(path string, q url.Values, since, oldest, newest time.Time) string {
	if oldest.IsZero() || oldest.Equal(newest) {
		return ""
	}
	next := url.Values{}
	for k, vs := range q {
		next[k] = vs
	}
	next.Set("until", oldest.Add(time.Nanosecond).UTC().Format(time.RFC3339Nano))
	if !since.IsZero() {
		next.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	return path + "?" + next.Encode()
}

func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2006-01-02T15:04, UTC, or RFC 3339) nor a duration ago like 24h", s)
}

// step is one request of a session's timeline, with what became of it.
type step struct {
	N        int
	Request  *sluice.Request
	Decision *sluice.Decision
	// Outcome is the end of a review hold (allow or deny), if any.
	Outcome    *sluice.Decision
	OutcomeAt  time.Time
	Result     *sluice.Result
	ResultAt   time.Time
	ReqSeq     uint64
	OutcomeSeq uint64
	ResultSeq  uint64
	// Reviews are the steps of the review that held the request.
	Reviews []*sluice.Event
	// Prev and Next are the anchors of the neighbouring steps.
	Prev, Next string
}

// Anchor is the step's fragment id: its request record's sequence number.
func (st *step) Anchor() string { return "seq-" + strconv.FormatUint(st.ReqSeq, 10) }

// Final is the action that decided the request in the end.
func (st *step) Final() sluice.Action {
	if st.Outcome != nil {
		return st.Outcome.Action
	}
	return st.Decision.Action
}

// MaskedCounts lists the result's masked values by detector or rule.
func (st *step) MaskedCounts() string {
	if st.Result == nil || len(st.Result.Masked) == 0 {
		return ""
	}
	var parts []string
	for k, n := range st.Result.Masked {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// marker is a timeline entry that is not a request: the session's start
// and end, and review steps of requests not in view.
type marker struct {
	Event *sluice.Event
}

// entry is a step or a marker, in journal order.
type entry struct {
	Step   *step
	Marker *marker
}

// timeline is a session replayed from the journal.
type timeline struct {
	Session *sluice.Session
	Entries []entry
	Steps   int
	// Truncated is set when the session had more requests than are shown.
	Truncated bool
}

// maxSteps bounds the requests one session page shows.
const maxSteps = 2000

// buildTimeline turns a session's journal events into steps.
func buildTimeline(sess *sluice.Session, events []*sluice.Event) *timeline {
	t := &timeline{Session: sess}
	byID := map[string]*step{}
	var steps []*step
	// A review's first step is journaled before the request it holds:
	// keep review steps of requests still to come for their step.
	requested := map[string]bool{}
	for _, ev := range events {
		if ev.Type == sluice.EventRequest && ev.Request != nil {
			requested[ev.Request.ID] = true
		}
	}
	early := map[string][]*sluice.Event{}
	for _, ev := range events {
		var id string
		switch ev.Type {
		case sluice.EventResult:
			id = ev.RequestID()
		case sluice.EventRequest, sluice.EventDecision:
			if ev.Request != nil {
				id = ev.Request.ID
			}
		case sluice.EventReview:
			if ev.Review != nil {
				id = ev.Review.Request.ID
			}
		}
		if id == "" {
			t.Entries = append(t.Entries, entry{Marker: &marker{Event: ev}})
			continue
		}
		st := byID[id]
		if st == nil {
			if ev.Type == sluice.EventReview && requested[id] {
				early[id] = append(early[id], ev)
				continue
			}
			if ev.Type != sluice.EventRequest {
				t.Entries = append(t.Entries, entry{Marker: &marker{Event: ev}})
				continue
			}
			if len(steps) == maxSteps {
				t.Truncated = true
				continue
			}
			st = &step{N: len(steps) + 1, Request: ev.Request, Decision: ev.Decision, ReqSeq: ev.Seq, Reviews: early[id]}
			if st.Decision == nil {
				st.Decision = &sluice.Decision{}
			}
			byID[id] = st
			steps = append(steps, st)
			t.Entries = append(t.Entries, entry{Step: st})
			continue
		}
		switch ev.Type {
		case sluice.EventDecision:
			st.Outcome, st.OutcomeAt, st.OutcomeSeq = ev.Decision, ev.Time, ev.Seq
		case sluice.EventResult:
			st.Result, st.ResultAt, st.ResultSeq = ev.Result, ev.Time, ev.Seq
		case sluice.EventReview:
			st.Reviews = append(st.Reviews, ev)
		}
	}
	for i, st := range steps {
		if i > 0 {
			st.Prev = steps[i-1].Anchor()
		}
		if i+1 < len(steps) {
			st.Next = steps[i+1].Anchor()
		}
	}
	t.Steps = len(steps)
	return t
}

// sessionPage replays a session as a timeline.
func (s *Server) sessionPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	sess, err := s.Store.GetSession(r.Context(), r.PathValue("id"))
	if err != nil {
		if isNotFound(err) {
			s.fail(w, r, v, http.StatusNotFound, "There is no session with this id in the audit index.")
			return
		}
		s.storeFailed(w, r, v, "get session", err)
		return
	}
	events, err := audit.SessionEvents(s.JournalDir, sess)
	if err != nil {
		s.log().Error("console: read session from the journal", "session", sess.ID, "err", err)
		s.fail(w, r, v, http.StatusInternalServerError, "The session's records could not be read from the journal; see the gateway log.")
		return
	}
	s.render(w, r, http.StatusOK, "session", &pageData{Title: "Session " + sess.ID, Nav: "sessions", Viewer: v,
		Data: buildTimeline(sess, events)})
}

// recordData is one journal record as the record page shows it.
type recordData struct {
	Seq        uint64
	Time       time.Time
	Event      *sluice.Event
	Prev, Next uint64
	LeafHash   string
	PrevHash   string
	JSON       string
	Truncated  bool
}

// maxRecordJSON bounds the JSON a record page shows.
const maxRecordJSON = 256 << 10

// record shows one journal record, with how to prove it is in the
// journal.
func (s *Server) record(w http.ResponseWriter, r *http.Request, v *viewer) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		s.fail(w, r, v, http.StatusNotFound, "A journal record is named by its sequence number, from 1.")
		return
	}
	rec, err := journal.ReadRecord(s.JournalDir, seq)
	if errors.Is(err, journal.ErrNotKept) || errors.Is(err, journal.ErrNoRecord) {
		s.fail(w, r, v, http.StatusNotFound, fmt.Sprintf("The journal holds no record %d (retention may have removed it).", seq))
		return
	}
	if err != nil {
		s.log().Error("console: read journal record", "seq", seq, "err", err)
		s.fail(w, r, v, http.StatusInternalServerError, "The journal could not be read; see the gateway log.")
		return
	}
	b, _ := json.MarshalIndent(rec.Event, "", "  ")
	d := &recordData{Seq: rec.Seq, Prev: rec.Seq - 1, Next: rec.Seq + 1, Time: rec.Time, Event: &rec.Event, LeafHash: hex.EncodeToString(rec.LeafHash()),
		PrevHash: hex.EncodeToString(rec.Prev), JSON: string(b)}
	if len(d.JSON) > maxRecordJSON {
		d.JSON, d.Truncated = strings.ToValidUTF8(d.JSON[:maxRecordJSON], ""), true
	}
	s.render(w, r, http.StatusOK, "record", &pageData{Title: fmt.Sprintf("Journal record %d", seq), Nav: "search", Viewer: v, Data: d})
}
