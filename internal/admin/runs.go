package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/replay"
	"github.com/sluicehq/sluice/internal/script"
	"github.com/sluicehq/sluice/internal/store"
)

// Runs is the subset of the script service (`sluice run`) the admin API
// uses.
type Runs interface {
	Submit(ctx context.Context, c script.Caller, conn, text, note string) (*sluice.Run, error)
	Status(ctx context.Context, id string, wait time.Duration) (*sluice.Run, error)
	Execute(ctx context.Context, c script.Caller, id, text string) (*sluice.Run, error)
}

// Replays re-executes recorded sessions on sandboxes.
type Replays interface {
	Replay(ctx context.Context, p replay.Params) (*replay.Report, error)
}

// MaxRunWait caps how long one status call waits for a decision; callers
// that wait longer call again.
const MaxRunWait = 60 * time.Second

// ExecRoutes registers the endpoints that run SQL inside the gateway,
// through the gate: scripts (`sluice run`) when Runs is set, and replays on
// sandboxes (`sluice audit replay --against`) when Replays is set. They
// are separate from Routes so that they can be mounted on their own.
//
//	POST /api/v1/runs                        submit a script: {"connection", "script", "reason"}
//	GET  /api/v1/runs/{id}?wait=30s          a run held by review id; waits while pending
//	POST /api/v1/runs/{id}/execute           run an approved script once: {"script"} (optional)
//	POST /api/v1/audit/sessions/{id}/replay  {"against", "commit"}, for auditors
//
// Outcomes of a run (denied, pending, failed...) are 200 answers with the
// run's status; errors are for calls that could not be made.
func (s *Server) ExecRoutes(mux interface{ Handle(string, http.Handler) }) {
	if s.Runs != nil {
		mux.Handle("POST /api/v1/runs", s.authenticated(s.submitRun))
		mux.Handle("GET /api/v1/runs/{id}", s.authenticated(s.runStatus))
		mux.Handle("POST /api/v1/runs/{id}/execute", s.authenticated(s.executeRun))
	}
	if s.Replays != nil {
		mux.Handle("POST /api/v1/audit/sessions/{id}/replay", s.auditor(s.replaySession))
	}
}

// runBody is the body of a run submission or execution.
type runBody struct {
	Connection string `json:"connection"`
	Script     string `json:"script"`
	Reason     string `json:"reason"`
}

// readJSON decodes a JSON body of at most limit bytes into v; an empty
// body leaves v as it is.
func readJSON(r *http.Request, limit int64, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit)).Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooLarge):
		return sluice.Errorf(sluice.ETooLarge, "the body is larger than %d bytes", limit)
	}
	return sluice.Errorf(sluice.EInvalid, "the body must be JSON: %v", err)
}

func (s *Server) submitRun(w http.ResponseWriter, r *http.Request, id *sluice.Identity) {
	var body runBody
	if err := readJSON(r, script.MaxScriptBytes+64<<10, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.Connection == "" {
		writeError(w, sluice.Errorf(sluice.EInvalid, "connection is required"))
		return
	}
	run, err := s.Runs.Submit(r.Context(), script.Caller{Identity: id, Addr: remoteAddr(r)}, body.Connection, body.Script, body.Reason)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, map[string]any{"run": run})
}

func (s *Server) runStatus(w http.ResponseWriter, r *http.Request, id *sluice.Identity) {
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, sluice.Errorf(sluice.EInvalid, "wait must be a duration like 30s"))
			return
		}
		wait = min(d, MaxRunWait)
	}
	// Check who may see it before waiting on it.
	rv, err := s.Reviews.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if !s.mayView(rv, id) {
		writeError(w, store.ErrNotFound)
		return
	}
	run, err := s.Runs.Status(r.Context(), rv.ID, wait)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, map[string]any{"run": run})
}

func (s *Server) executeRun(w http.ResponseWriter, r *http.Request, id *sluice.Identity) {
	var body runBody
	if err := readJSON(r, script.MaxScriptBytes+64<<10, &body); err != nil {
		writeError(w, err)
		return
	}
	run, err := s.Runs.Execute(r.Context(), script.Caller{Identity: id, Addr: remoteAddr(r)}, r.PathValue("id"), body.Script)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, map[string]any{"run": run})
}

// replayBody is the body of a replay.
type replayBody struct {
	Against string `json:"against"`
	Commit  bool   `json:"commit"`
}

func (s *Server) replaySession(w http.ResponseWriter, r *http.Request, id *sluice.Identity) {
	var body replayBody
	if err := readJSON(r, 64<<10, &body); err != nil {
		writeError(w, err)
		return
	}
	if body.Against == "" {
		writeError(w, sluice.Errorf(sluice.EInvalid, "against is required: the sandbox connection to replay on"))
		return
	}
	rep, err := s.Replays.Replay(r.Context(), replay.Params{Caller: id, Addr: remoteAddr(r),
		Session: r.PathValue("id"), Against: body.Against, Commit: body.Commit})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, map[string]any{"replay": rep})
}

// remoteAddr returns the client's address, or the zero value.
func remoteAddr(r *http.Request) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return netip.AddrPortFrom(a, 0)
}
