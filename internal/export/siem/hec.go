package siem

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

// hecPath is the HEC endpoint for events in JSON envelopes.
const hecPath = "/services/collector/event"

// HECConfig configures a Splunk HTTP Event Collector sink. URL and Token
// are required; the zero value of every other field is useful.
type HECConfig struct {
	// URL is the collector's base URL, e.g. "https://splunk:8088"; events
	// go to its path /services/collector/event, which URL may also name
	// itself. https is required unless the host is loopback.
	URL string
	// Token is the HEC token, sent as "Authorization: Splunk <token>".
	Token string
	// Index, Source and SourceType are set on every event; empty leaves
	// them to the token's defaults.
	Index, Source, SourceType string
	// Host is the host of every event. Default: os.Hostname.
	Host string
	// CAFile is a PEM file of certificates trusted, besides the system's
	// roots, to sign the collector's certificate.
	CAFile string
	// Timeout bounds one Send, from connecting to reading the answer.
	// Default 10s.
	Timeout time.Duration
}

// HEC sends records to Splunk's HTTP Event Collector: one POST per batch,
// whose body is the batch's events concatenated, each with the record as
// its event and the sequence number as the indexed field sluice_seq. It is
// safe for concurrent use.
type HEC struct {
	client *poster
	auth   string
	base   hecEnvelope // the fields every event shares
}

var _ export.EventSink = (*HEC)(nil)

// hecEnvelope is one event of a HEC batch.
type hecEnvelope struct {
	Time       json.Number       `json:"time"` // epoch seconds with milliseconds
	Host       string            `json:"host,omitempty"`
	Source     string            `json:"source,omitempty"`
	SourceType string            `json:"sourcetype,omitempty"`
	Index      string            `json:"index,omitempty"`
	Event      json.RawMessage   `json:"event"`
	Fields     map[string]string `json:"fields"`
}

// hecAnswer is the collector's JSON answer, e.g. {"text":"Success","code":0}.
type hecAnswer struct {
	Text string `json:"text"`
	Code *int   `json:"code"`
}

// NewHEC checks c and returns a sink. It reads c.CAFile; it opens no
// connection.
func NewHEC(c HECConfig) (*HEC, error) {
	u, err := checkHTTPURL("splunk hec URL", c.URL)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" {
		return nil, errors.New("splunk hec URL must not have a query")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if !strings.HasSuffix(u.Path, hecPath) {
		u.Path += hecPath
	}
	if c.Token == "" {
		return nil, errors.New("splunk hec token is required")
	}
	if !validToken(c.Token) {
		return nil, errors.New("splunk hec token must be printable ASCII without spaces")
	}
	timeout, err := timeoutOrDefault(c.Timeout)
	if err != nil {
		return nil, fmt.Errorf("splunk hec %w", err)
	}
	host := c.Host
	if host == "" {
		host, _ = os.Hostname() // omitted on error: HEC then uses its own
	}
	p, err := newPoster("splunk hec", u, c.CAFile, timeout, c.Token)
	if err != nil {
		return nil, err
	}
	return &HEC{
		client: p,
		auth:   "Splunk " + c.Token,
		base:   hecEnvelope{Host: host, Source: c.Source, SourceType: c.SourceType, Index: c.Index},
	}, nil
}

// validToken reports whether a token can go into a header as it is.
func validToken(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] < 33 || t[i] > 126 {
			return false
		}
	}
	return true
}

// Send posts the batch in one request. It succeeds only when the collector
// answers 200 with code 0; any other answer is a *StatusError carrying the
// HTTP status and the collector's code and text.
func (h *HEC) Send(ctx context.Context, items []export.Item) error {
	if len(items) == 0 {
		return nil
	}
	body, err := h.body(items, time.Now())
	if err != nil {
		return err
	}
	ans, err := h.client.post(ctx, body, http.Header{
		"Authorization": {h.auth},
		"Content-Type":  {"application/json"},
	})
	if err != nil {
		return err
	}
	var a hecAnswer
	jsonErr := json.Unmarshal(ans.body, &a)
	if ans.status == http.StatusOK && jsonErr == nil && a.Code != nil && *a.Code == 0 {
		return nil
	}
	var detail string
	switch {
	case jsonErr == nil && a.Code != nil:
		detail = fmt.Sprintf("code %d: %s", *a.Code, a.Text)
	case ans.status == http.StatusOK:
		detail = "answer without a code: " + string(ans.body)
	default:
		detail = string(ans.body)
	}
	return h.client.statusError(ans.status, detail)
}

// body renders the batch: one envelope per item, one per line. Each event
// has the record's own time, or now.
func (h *HEC) body(items []export.Item, now time.Time) ([]byte, error) {
	metas, err := readBatch(items)
	if err != nil {
		return nil, fmt.Errorf("splunk hec: %w", err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the record's bytes as they are; one event per line
	for i, it := range items {
		e := h.base
		e.Time = epochSeconds(metas[i].eventTime(now))
		e.Event = it.Data
		e.Fields = map[string]string{"sluice_seq": strconv.FormatUint(it.Seq, 10)}
		if err := enc.Encode(e); err != nil {
			return nil, fmt.Errorf("splunk hec: item seq %d: %w", it.Seq, err)
		}
	}
	return b.Bytes(), nil
}

// epochSeconds writes t as seconds since the epoch with three decimals,
// the form HEC documents for "time".
func epochSeconds(t time.Time) json.Number {
	ms := t.UnixMilli()
	return json.Number(fmt.Sprintf("%d.%03d", ms/1000, ms%1000))
}

// Close closes idle connections; a Send after it fails with ErrClosed. It
// is idempotent.
func (h *HEC) Close() error {
	h.client.close()
	return nil
}
