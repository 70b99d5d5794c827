package ocsf

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/journal"
)

// rawRecord is the JSON shape of the raw format.
type rawRecord struct {
	Seq   uint64        `json:"seq"`
	Time  time.Time     `json:"time"`
	Event *sluice.Event `json:"event"`
}

// Raw returns the record as raw JSON, the sinks' other format choice:
// {"seq":N,"time":"<RFC 3339>","event":<the sluice.Event>}, with no
// trailing newline. It is sluice's own record, unchanged; the Event's
// fields are as package sluice encodes them. Raw only reads rec and is safe
// for concurrent use.
func Raw(rec *journal.Record) ([]byte, error) {
	if rec == nil {
		return nil, fmt.Errorf("ocsf: nil journal record")
	}
	b, err := encode(rawRecord{Seq: rec.Seq, Time: rec.Time, Event: &rec.Event})
	if err != nil {
		return nil, fmt.Errorf("ocsf: encode raw record %d: %w", rec.Seq, err)
	}
	return b, nil
}
