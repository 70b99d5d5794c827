package httpproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mask"
	"github.com/sluicehq/sluice/internal/store"
)

// ReviewHeader names the review that held a request, on the answer sent
// when the hold did not end in an approval.
const ReviewHeader = "Sluice-Review"

// hold says how a review hold goes for a caller that does not wait long:
// wait, when positive, shortens it, and onHold, when set, is told when
// the hold begins and returns the function that is called when it ends.
type hold struct {
	wait   time.Duration
	onHold func(d sluice.Decision, wait time.Duration) (stop func())
}

// proxy runs one request of c on cn; rest is the escaped path under the
// connection.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, c *caller, cn *Conn, rest string, h hold) {
	ctx := r.Context()
	if cn.Anthropic && !anthropicEndpoint(r.Method, rest) {
		writeError(w, cn, sluice.Errorf(sluice.ENotFound,
			"sluice serves POST /v1/messages and POST /v1/messages/count_tokens of the Claude API, not %s %s", r.Method, rest))
		return
	}
	target, err := cn.Upstream.URL(rest, r.URL.RawQuery)
	if err != nil {
		writeError(w, cn, sluice.Errorf(sluice.EInvalid, "bad path %q: %v", rest, err))
		return
	}
	body, err := readBody(r, s.MaxBodyBytes)
	if err != nil {
		writeError(w, cn, sluice.AsError(err))
		return
	}
	gs, release, err := s.acquire(ctx, c, cn)
	if err != nil {
		writeError(w, cn, sluice.AsError(err))
		return
	}
	defer release()

	var prompt mask.Counts
	if cn.Anthropic && len(body) > 0 && s.Gate.StatementMask != nil {
		// Secrets in a prompt never reach the model.
		masked, err := s.Gate.StatementMask.JSON(nil, body, &prompt)
		if err != nil {
			writeError(w, cn, sluice.Errorf(sluice.EInvalid, "the request body is not valid JSON"))
			return
		}
		body = masked
	}
	out := outboundHeaders(r.Header, cn)
	text := r.Method + " " + rest
	if r.URL.RawQuery != "" {
		text += "?" + r.URL.RawQuery
	}
	req := &sluice.Request{Kind: sluice.KindHTTP, Text: text, Body: body, HTTP: &sluice.HTTPRequest{
		Method: r.Method, URL: target.String(), Headers: journalHeaders(out, cn.Upstream.CredentialHeaders()),
		BodyBytes: int64(len(body))}}
	req.HTTP.Body, req.HTTP.BodyTruncated = capture(body, s.CaptureBytes)
	d, err := gs.Begin(ctx, req)
	if err != nil {
		writeError(w, cn, sluice.AsError(err))
		return
	}
	if d.Action == sluice.ActionReview {
		held := d
		if h.wait > 0 && h.wait < held.Wait {
			held.Wait = h.wait
		}
		stop := func() {}
		if h.onHold != nil {
			stop = h.onHold(d, held.Wait)
		}
		err := gs.Await(ctx, req, held)
		stop()
		if err != nil {
			w.Header().Set(ReviewHeader, d.ReviewID)
			writeError(w, cn, sluice.AsError(err))
			return
		}
	}

	res := &sluice.Result{HTTP: &sluice.HTTPResult{}}
	if n := prompt.Total(); n > 0 {
		res.Masked = map[string]uint64{}
		for k, v := range prompt.All() {
			res.Masked["prompt_"+k] = v
		}
	}
	start := s.Now()
	defer func() {
		res.Duration = s.Now().Sub(start)
		gs.Done(context.WithoutCancel(ctx), req, res)
	}()
	budget := cn.Anthropic && strings.TrimSuffix(rest, "/") == "/v1/messages"
	if budget {
		release, err := s.reserveBudget(ctx, c, cn, body)
		if err != nil {
			e := sluice.AsError(err)
			res.Status, res.Error = sluice.StatusDenied, e.Message
			writeError(w, cn, e)
			return
		}
		// Deferred before the usage is added below, so it runs after:
		// the tokens are counted in the store before the reservation goes.
		defer release()
	}
	oreq, err := http.NewRequestWithContext(ctx, r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		res.Status, res.Error = sluice.StatusError, "bad request"
		writeError(w, cn, sluice.Errorf(sluice.EInvalid, "cannot build the upstream request"))
		return
	}
	oreq.Header = out
	oreq.ContentLength = int64(len(body))
	resp, err := cn.Upstream.Do(oreq)
	if err != nil {
		e := upstreamError(ctx, cn, err)
		s.Log.Warn("HTTP upstream failed", "connection", cn.Name, "request", req.ID, "err", err)
		res.Status, res.Error = sluice.StatusError, e.Message
		if ctx.Err() != nil {
			res.Status = sluice.StatusAborted
		}
		writeError(w, cn, e)
		return
	}
	defer resp.Body.Close()
	s.respond(w, resp, gs, cn, res)
	if budget && res.HTTP.Usage != nil && s.Usage != nil {
		if _, err := s.Usage.AddUsage(context.WithoutCancel(ctx), c.id.Subject, cn.Name, s.day(), res.HTTP.Usage.Total()); err != nil {
			s.Log.Error("record token usage", "connection", cn.Name, "subject", c.id.Subject, "err", err)
		}
	}
}

// upstreamError is what the agent sees when the upstream cannot be
// reached; the cause stays in the log.
func upstreamError(ctx context.Context, cn *Conn, err error) *sluice.Error {
	switch {
	case ctx.Err() != nil:
		return sluice.Errorf(sluice.ECanceled, "the request was canceled")
	case errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		return sluice.Errorf(sluice.ETimeout, "connection %s: the upstream did not answer in time", cn.Name)
	case errors.Is(err, errCredential):
		return sluice.Errorf(sluice.EUnavailable, "sluice could not obtain a credential for connection %s", cn.Name)
	default:
		return sluice.Errorf(sluice.EUnavailable, "connection %s: the upstream cannot be reached", cn.Name)
	}
}

// isTimeout reports whether err says a deadline passed.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// readBody reads the whole request body, up to max bytes.
func readBody(r *http.Request, max int) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > int64(max) {
		return nil, sluice.Errorf(sluice.ETooLarge, "the request body has %d bytes; sluice accepts at most %d", r.ContentLength, max)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
	if err != nil {
		return nil, sluice.Errorf(sluice.EInvalid, "cannot read the request body").WithCause(err)
	}
	if len(b) > max {
		return nil, sluice.Errorf(sluice.ETooLarge, "the request body is larger than %d bytes", max)
	}
	return b, nil
}

// capture returns the beginning of b for the audit record, at most n
// bytes and never a split UTF-8 sequence, and whether it was cut.
func capture(b []byte, n int) (string, bool) {
	if len(b) <= n {
		return string(b), false
	}
	return string(cutUTF8(b, n)), true
}

// cutUTF8 shortens b to at most n bytes without splitting a character.
func cutUTF8(b []byte, n int) []byte {
	if n >= len(b) {
		return b
	}
	for n > 0 && b[n]&0xC0 == 0x80 {
		n--
	}
	return b[:n]
}

// day is today's date in UTC, the key of daily budgets.
func (s *Server) day() string { return s.Now().UTC().Format("2006-01-02") }

// reservationTTL is how long a reservation counts if its gateway never
// releases it (it stopped mid-request): longer than a Messages request
// runs, short enough that the budget is whole again within the hour.
const reservationTTL = time.Hour

// reserveBudget admits a Claude API request of a subject whose daily
// budget is not used up, counting the subject's requests still in flight,
// on every replica, at what they may use (reservations in the state
// store), so that concurrent requests cannot all pass a check that sees
// none of them: the budget can be exceeded by at most the last request
// admitted. The caller calls release once the request's usage is in the
// store.
func (s *Server) reserveBudget(ctx context.Context, c *caller, cn *Conn, body []byte) (release func(), err error) {
	limit := cn.budget(c.id)
	if limit <= 0 || s.Usage == nil {
		return func() {}, nil
	}
	now := s.Now()
	r := store.TokenReservation{ID: "tr_" + rand.Text(), Subject: c.id.Subject, Connection: cn.Name, Day: s.day(),
		Tokens: estimateTokens(body), Until: now.Add(reservationTTL)}
	used, inFlight, ok, err := s.Usage.ReserveTokens(ctx, r, limit, now)
	if err != nil {
		return nil, sluice.Errorf(sluice.EUnavailable, "sluice cannot check your token budget now; try again later").WithCause(err)
	}
	if !ok {
		msg := fmt.Sprintf("daily token budget exhausted: %s used %d of %d tokens on connection %s today (UTC)",
			c.id.Subject, used, limit, cn.Name)
		if inFlight > 0 {
			msg += fmt.Sprintf(", and requests in flight may use %d more", inFlight)
		}
		return nil, &sluice.Error{Code: sluice.ETooMany, Message: msg,
			Hint: "the budget resets at 00:00 UTC; ask an operator to raise it in the connection's budgets"}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.Usage.ReleaseTokens(ctx, r.ID); err != nil {
			s.Log.Warn("release token reservation; it counts until it ends", "reservation", r.ID, "until", r.Until, "err", err)
		}
	}, nil
}

// budget returns the daily token cap for id, 0 when none applies.
func (cn *Conn) budget(id *sluice.Identity) int64 {
	for _, b := range cn.Budgets {
		for _, sub := range b.Subjects {
			if sub.Matches(id) {
				return b.DailyTokens
			}
		}
	}
	return 0
}
