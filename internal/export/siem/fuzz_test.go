package siem

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

// Any record readMeta accepts renders into a well-formed syslog frame, a
// HEC event and a webhook body that hold the same JSON value.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"time":1767312000123,"severity_id":4,"message":"x"}`))
	f.Add([]byte(`{"time":1.5e12,"severity_id":"4"}`))
	f.Add([]byte(`{"a":"\u0000\n<&>","b":[1,{"c":null}]}`))
	f.Add([]byte(`{"time":253402300799999}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := readMeta(data)
		if err != nil {
			return
		}
		it := export.Item{Seq: 7, Data: data}
		h := header{facility: FacilityLogAudit, hostname: "h", appName: "a", procID: "1"}
		frame, _, err := h.appendFrame(nil, nil, it, m, time.Unix(1767312000, 0))
		if err != nil {
			t.Fatalf("appendFrame of an accepted record: %v", err)
		}
		n, msg, ok := bytes.Cut(frame, []byte(" "))
		if !ok || string(n) != strconv.Itoa(len(msg)) {
			t.Fatalf("frame %q: bad octet count", frame)
		}
		if !bytes.Contains(msg, []byte(`[sluice@32473 seq="7"] `)) {
			t.Fatalf("frame %q: no seq", frame)
		}
		if bytes.ContainsAny(msg, "\n\r") {
			t.Fatalf("frame %q spans lines", frame)
		}

		hec := &HEC{base: hecEnvelope{Host: "h"}}
		body, err := hec.body([]export.Item{it}, time.Unix(1767312000, 0))
		if err != nil {
			t.Fatalf("HEC body of an accepted record: %v", err)
		}
		var e hecEvent
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("HEC body %q: %v", body, err)
		}
		sameJSON(t, "hec event", e.Event, data)

		wb, err := webhookBody([]export.Item{it})
		if err != nil {
			t.Fatalf("webhook body of an accepted record: %v", err)
		}
		var d struct{ Records []json.RawMessage }
		if err := json.Unmarshal(wb, &d); err != nil || len(d.Records) != 1 {
			t.Fatalf("webhook body %q: %v", wb, err)
		}
		sameJSON(t, "webhook record", d.Records[0], data)
	})
}

// VerifyWebhook never panics, and accepts only the right signature.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add("1767312000", "sha256=00", []byte(`{"records":[]}`))
	f.Add("+1767312000", "sha256=", []byte(``))
	f.Add("-9223372036854775808", "sha256=zz", []byte(`x`))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		now := time.Unix(1767312000, 0)
		err := verifyWebhook("k", h, body, time.Hour, now)
		if err == nil && sig != "sha256="+signature([]byte("k"), h.Get(HeaderTimestamp), body) {
			t.Fatalf("accepted signature %q for timestamp %q", sig, ts)
		}
	})
}
