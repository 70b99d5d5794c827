package gate_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/gate"
	"github.com/sluicehq/sluice/internal/policy"
)

func TestCallJournaledBeforeAndAfter(t *testing.T) {
	g, rec := newGate(t)
	ctx := context.Background()
	c, err := g.BeginCall(ctx, agent, client, `review_status {"review_id":"rv_1"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.events) != 1 {
		t.Fatalf("%d events after BeginCall, want the request's", len(rec.events))
	}
	req := rec.events[0]
	r := req.Request
	if req.Type != sluice.EventRequest || req.Session != "" || r.Kind != sluice.KindTool || r.Text != `review_status {"review_id":"rv_1"}` ||
		r.Subject != "bot" || len(r.Groups) != 1 || r.ClientAddr != client.String() || r.Class != sluice.ClassRead || r.ID == "" {
		t.Fatalf("request record %+v %+v", req, r)
	}
	if d := req.Decision; d.Action != sluice.ActionAllow || d.Rule != gate.BuiltinRule {
		t.Fatalf("decision %+v, want allowed by sluice's own rule", d)
	}
	capture := &sluice.Capture{Columns: []sluice.Column{{Name: "id"}}, Rows: [][]*string{{ptr("rv_1")}}, Bytes: 4}
	c.End(ctx, 1, capture, nil)
	c2, err := g.BeginCall(ctx, agent, client, "list_connections {}")
	if err != nil {
		t.Fatal(err)
	}
	c2.End(ctx, 0, nil, errors.New("no review"))

	if got := rec.types(); len(got) != 4 || got[1] != sluice.EventResult || got[3] != sluice.EventResult {
		t.Fatalf("events %v, want request, result, request, result", got)
	}
	ok, failed := rec.events[1], rec.events[3]
	if ok.RequestRef != r.ID || ok.RequestSeq != 1 || ok.Request != nil || ok.Result.Status != sluice.StatusOK || ok.Result.Rows != 1 || ok.Result.Capture != capture {
		t.Errorf("answer to %q at record %d: %+v", ok.RequestRef, ok.RequestSeq, ok.Result)
	}
	if failed.RequestRef == r.ID || failed.RequestSeq != 3 {
		t.Errorf("the second call's answer names %q at record %d", failed.RequestRef, failed.RequestSeq)
	}
	if failed.Result.Status != sluice.StatusError || failed.Result.Error != "no review" {
		t.Errorf("failed answer %+v", failed.Result)
	}
}

func TestCallRefusedWhenTheJournalFails(t *testing.T) {
	g, rec := newGate(t)
	rec.fail = true
	if _, err := g.BeginCall(context.Background(), agent, client, "list_connections {}"); sluice.ErrorCode(err) != sluice.EUnavailable {
		t.Fatalf("BeginCall with a failing journal = %v, want unavailable", err)
	}
}

func ptr(s string) *string { return &s }

func TestCallJournalsNoSecret(t *testing.T) {
	// The arguments are the agent's: a token pasted as a review id is
	// masked in the journal's copy of the call and of its error, as in a
	// statement's.
	g, rec := newGate(t)
	m, err := policy.StatementMask(config.Masking{})
	if err != nil {
		t.Fatal(err)
	}
	g.StatementMask = m
	const token = "ghp_" + "0123456789abcdefghijklmnopqrstuvwxyz"
	ctx := context.Background()
	c, err := g.BeginCall(ctx, agent, client, `review_status {"review_id":"`+token+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	c.End(ctx, 0, nil, errors.New(`no review "`+token+`" that you may see`))
	for _, ev := range rec.events {
		if b, err := json.Marshal(ev); err != nil || strings.Contains(string(b), token) {
			t.Errorf("%s record holds the token (%v): %s", ev.Type, err, b)
		}
	}
	if r := rec.events[0].Request; !r.Masked || !strings.HasPrefix(r.Text, "review_status ") {
		t.Errorf("request record %q, masked %v; want the call, marked masked", r.Text, r.Masked)
	}
	if res := rec.events[1].Result; res.Status != sluice.StatusError || !strings.HasPrefix(res.Error, "no review ") {
		t.Errorf("result record %+v, want the error, masked", res)
	}
}
