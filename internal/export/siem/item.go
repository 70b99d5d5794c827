package siem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

// meta is what a sink reads from a formatted record: its OCSF event time
// and severity, when the record has them.
type meta struct {
	// time is the record's OCSF "time" (epoch milliseconds); zero when
	// absent or not a usable number.
	time time.Time
	// severityID is the record's OCSF "severity_id" (0 Unknown,
	// 1 Informational … 5 Critical, 6 Fatal, 99 Other); -1 when absent or
	// not an integer.
	severityID int
}

// itemFields are the top-level members read from a record. RawMessage
// accepts any JSON value, so a member of an unexpected type is ignored
// rather than failing the record.
type itemFields struct {
	Time       json.RawMessage `json:"time"`
	SeverityID json.RawMessage `json:"severity_id"`
}

// readMeta checks that data is one JSON object and returns its time and
// severity. The error does not quote data, which is audit content.
func readMeta(data []byte) (meta, error) {
	// Unmarshal into a struct accepts "null" as well as an object.
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return meta{}, errNotObject
	}
	var f itemFields
	if err := json.Unmarshal(data, &f); err != nil {
		return meta{}, errNotObject
	}
	m := meta{severityID: -1}
	if ms, ok := epochMillis(f.Time); ok {
		m.time = time.UnixMilli(ms).UTC()
	}
	if n, err := strconv.Atoi(string(f.SeverityID)); err == nil {
		m.severityID = n
	}
	return m, nil
}

// errNotObject is what readMeta reports for data that is not a JSON object.
var errNotObject = errors.New("data is not a JSON object")

// maxEpochMillis is 9999-12-31T23:59:59.999Z, the last instant RFC 3339
// (and so RFC 5424) can write.
const maxEpochMillis = 253402300799999

// epochMillis reads an OCSF timestamp: a JSON number of milliseconds since
// the epoch, integral or not, within what RFC 3339 can write.
func epochMillis(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, n > 0 && n <= maxEpochMillis
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxEpochMillis {
		return 0, false
	}
	return int64(f), true
}

// readBatch checks every item of a batch before anything is sent, so that
// a bad record fails the batch without a partial delivery.
func readBatch(items []export.Item) ([]meta, error) {
	ms := make([]meta, len(items))
	for i, it := range items {
		m, err := readMeta(it.Data)
		if err != nil {
			return nil, fmt.Errorf("item seq %d: %w", it.Seq, err)
		}
		ms[i] = m
	}
	return ms, nil
}

// eventTime returns the record's own time, or now when it has none.
func (m meta) eventTime(now time.Time) time.Time {
	if m.time.IsZero() {
		return now
	}
	return m.time
}
