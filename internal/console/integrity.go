package console

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/journal"
)

// verifyResult is the outcome of one run of journal.Verify.
type verifyResult struct {
	Started, Finished time.Time
	By                string
	Running           bool
	OK                bool
	Report            *journal.Report
	// BadSeq and Problem name the first bad record of a damaged journal;
	// Err is set when the journal could not be read at all.
	BadSeq  uint64
	Problem string
	Err     string
}

// Status is "running", "ok" or "failed".
func (v *verifyResult) Status() string {
	switch {
	case v.Running:
		return "running"
	case v.OK:
		return "ok"
	}
	return "failed"
}

// verifyState holds the last verify run; one runs at a time.
type verifyState struct {
	mu   sync.Mutex
	last *verifyResult
}

func (vs *verifyState) get() *verifyResult {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.last == nil {
		return nil
	}
	c := *vs.last
	return &c
}

// integrityData is what the integrity page shows.
type integrityData struct {
	Checkpoint    string
	CheckpointErr string
	Verify        *verifyResult
	Sinks         []SinkStatus
	HasSinks      bool
}

// integrity shows the newest signed checkpoint, the last verify result
// and how far each export sink lags.
func (s *Server) integrity(w http.ResponseWriter, r *http.Request, v *viewer) {
	d := &integrityData{Verify: s.verify.get(), HasSinks: s.Sinks != nil}
	if cp, err := journal.LatestCheckpoint(s.JournalDir); err != nil {
		d.CheckpointErr = "No signed checkpoint yet."
		s.log().Debug("console: latest checkpoint", "err", err)
	} else {
		d.Checkpoint = string(cp)
	}
	if s.Sinks != nil {
		d.Sinks = s.Sinks()
	}
	p := &pageData{Title: "Integrity", Nav: "integrity", Viewer: v, Data: d}
	if d.Verify != nil && d.Verify.Running {
		p.Refresh = 2
	}
	s.render(w, r, http.StatusOK, "integrity", p)
}

// startVerify runs journal.Verify in the background (unless a run is in
// progress) and goes back to the integrity page, which shows the result.
// Auditors only.
func (s *Server) startVerify(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.Auditor {
		s.fail(w, r, v, http.StatusForbidden, "Only auditors may verify the journal.")
		return
	}
	s.verify.mu.Lock()
	if s.verify.last == nil || !s.verify.last.Running {
		res := &verifyResult{Started: s.now(), By: v.ID.Subject, Running: true}
		s.verify.last = res
		go s.runVerify(res)
	}
	s.verify.mu.Unlock()
	http.Redirect(w, r, "/console/integrity", http.StatusSeeOther)
}

func (s *Server) runVerify(res *verifyResult) {
	out := *res
	vf, err := journal.NewVerifier(s.VerifierKey)
	var rep *journal.Report
	if err == nil {
		rep, err = journal.Verify(s.JournalDir, vf, journal.VerifyOptions{})
	}
	out.Running, out.Finished, out.Report = false, s.now(), rep
	var ve *journal.VerifyError
	switch {
	case err == nil:
		out.OK = true
	case errors.As(err, &ve):
		out.BadSeq, out.Problem = ve.Seq, ve.Problem
	default:
		out.Err = err.Error()
	}
	s.log().Info("console: journal verified", "by", out.By, "ok", out.OK, "bad_seq", out.BadSeq, "err", err)
	s.verify.mu.Lock()
	s.verify.last = &out
	s.verify.mu.Unlock()
}
