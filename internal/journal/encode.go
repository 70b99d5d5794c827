package journal

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
)

// The encoder below writes a sluice.Event exactly as encoding/json does
// (same member order, omitempty rules, string escaping with HTML escaping,
// time format), several times faster and without allocating. layout.go
// checks at start-up that the event types still have the fields it knows;
// if they do not, every event goes through encoding/json instead, so a field
// added to sluice.Event can never be dropped from the journal silently (and
// TestEncoderLayout fails until this file is updated).

// appendEventBody appends the JSON encoding of ev without its opening brace
// and without its seq member: `"time":...}`. The writer prefixes
// `{"seq":N,` once N is known, which yields what json.Marshal produces for
// ev with Seq = N.
func appendEventBody(b []byte, ev *sluice.Event) ([]byte, error) {
	if !fastEncode {
		return appendEventBodyJSON(b, ev)
	}
	return appendEventFields(b, ev)
}

// appendEventBodyJSON is the encoding/json fallback of appendEventBody.
func appendEventBodyJSON(b []byte, ev *sluice.Event) ([]byte, error) {
	e := *ev
	e.Seq = 0
	out, err := json.Marshal(&e)
	if err != nil {
		return b, err
	}
	return append(b, out[1:]...), nil // out is {"time":...}
}

// appendEvent appends the whole JSON encoding of ev, as json.Marshal would.
func appendEvent(b []byte, ev *sluice.Event) ([]byte, error) {
	b = append(b, '{')
	if ev.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, ev.Seq, 10)
		b = append(b, ',')
	}
	return appendEventBody(b, ev)
}

func appendEventFields(b []byte, ev *sluice.Event) ([]byte, error) {
	var err error
	b = append(b, `"time":`...)
	if b, err = appendTime(b, ev.Time); err != nil {
		return b, err
	}
	b = append(b, `,"type":`...)
	b = appendString(b, string(ev.Type))
	b = appendOptString(b, `,"session":`, ev.Session)
	if ev.Identity != nil {
		b = append(b, `,"identity":`...)
		if b, err = appendIdentity(b, ev.Identity); err != nil {
			return b, err
		}
	}
	b = appendOptString(b, `,"connection":`, ev.Connection)
	b = appendOptString(b, `,"protocol":`, string(ev.Protocol))
	b = appendOptString(b, `,"client_addr":`, ev.ClientAddr)
	if ev.Request != nil {
		b = append(b, `,"request":`...)
		if b, err = appendRequest(b, ev.Request); err != nil {
			return b, err
		}
	}
	b = appendOptString(b, `,"request_id":`, ev.RequestRef)
	if ev.RequestSeq != 0 {
		b = append(b, `,"request_seq":`...)
		b = strconv.AppendUint(b, ev.RequestSeq, 10)
	}
	if ev.Decision != nil {
		b = append(b, `,"decision":`...)
		b = appendDecision(b, ev.Decision)
	}
	if ev.Result != nil {
		b = append(b, `,"result":`...)
		if b, err = appendResult(b, ev.Result); err != nil {
			return b, err
		}
	}
	if ev.Review != nil {
		// Review steps are rare: encoding/json writes them.
		rv, err := json.Marshal(ev.Review)
		if err != nil {
			return b, err
		}
		b = append(b, `,"review":`...)
		b = append(b, rv...)
	}
	b = appendOptString(b, `,"reason":`, ev.Reason)
	return append(b, '}'), nil
}

func appendIdentity(b []byte, id *sluice.Identity) ([]byte, error) {
	b = append(b, `{"subject":`...)
	b = appendString(b, id.Subject)
	b = appendOptString(b, `,"name":`, id.Name)
	b = appendOptStrings(b, `,"groups":`, id.Groups)
	b = appendOptString(b, `,"client":`, id.Client)
	b = append(b, `,"method":`...)
	b = appendString(b, string(id.Method))
	b = append(b, `,"issuer":`...)
	b = appendString(b, id.Issuer)
	b = appendOptString(b, `,"token_id":`, id.TokenID)
	b = append(b, `,"expires_at":`...)
	b, err := appendTime(b, id.ExpiresAt)
	return append(b, '}'), err
}

func appendRequest(b []byte, r *sluice.Request) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"session_id":`...)
	b = appendString(b, r.SessionID)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(r.Kind))
	b = append(b, `,"text":`...)
	b = appendString(b, r.Text)
	if len(r.Params) > 0 {
		b = append(b, `,"params":`...)
		b = appendNullableStrings(b, r.Params)
	}
	if len(r.ParamFormats) > 0 {
		b = append(b, `,"param_formats":[`...)
		for i, f := range r.ParamFormats {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(f), 10)
		}
		b = append(b, ']')
	}
	b = appendOptString(b, `,"statement":`, r.Statement)
	if r.FunctionOID != 0 {
		b = append(b, `,"function_oid":`...)
		b = strconv.AppendUint(b, uint64(r.FunctionOID), 10)
	}
	b = append(b, `,"class":`...)
	b = strconv.AppendUint(b, uint64(r.Class), 10)
	b = appendOptStrings(b, `,"tables":`, r.Tables)
	b = appendOptString(b, `,"fingerprint":`, r.Fingerprint)
	b = append(b, `,"time":`...)
	b, err := appendTime(b, r.Time)
	if err != nil {
		return b, err
	}
	b = appendOptString(b, `,"subject":`, r.Subject)
	b = appendOptStrings(b, `,"groups":`, r.Groups)
	b = appendOptString(b, `,"connection":`, r.Connection)
	b = appendOptString(b, `,"client_addr":`, r.ClientAddr)
	b = appendOptString(b, `,"parent":`, r.Parent)
	b = appendOptString(b, `,"note":`, r.Note)
	if r.Masked {
		b = append(b, `,"masked":true`...)
	}
	if r.HTTP != nil {
		if b, err = appendJSON(b, `,"http":`, r.HTTP); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendJSON appends name and v as encoding/json writes it, for the parts
// of a record that are rare enough not to need a hand-written encoder.
func appendJSON(b []byte, name string, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	b = append(b, name...)
	return append(b, j...), nil
}

func appendDecision(b []byte, d *sluice.Decision) []byte {
	b = append(b, `{"action":`...)
	b = appendString(b, string(d.Action))
	b = appendOptString(b, `,"policy":`, d.Policy)
	b = appendOptString(b, `,"rule":`, d.Rule)
	b = appendOptString(b, `,"message":`, d.Message)
	b = appendOptStrings(b, `,"approvers":`, d.Approvers)
	if d.MinApprovals != 0 {
		b = append(b, `,"min_approvals":`...)
		b = strconv.AppendInt(b, int64(d.MinApprovals), 10)
	}
	if d.Wait != 0 {
		b = append(b, `,"wait":`...)
		b = strconv.AppendInt(b, int64(d.Wait), 10)
	}
	b = appendOptString(b, `,"review_id":`, d.ReviewID)
	return append(b, '}')
}

func appendResult(b []byte, r *sluice.Result) ([]byte, error) {
	b = append(b, '{')
	if r.Tag != "" {
		b = append(b, `"tag":`...)
		b = appendString(b, r.Tag)
		b = append(b, ',')
	}
	b = append(b, `"rows":`...)
	b = strconv.AppendInt(b, r.Rows, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(r.Duration), 10)
	b = appendOptString(b, `,"error":`, r.Error)
	b = append(b, `,"status":`...)
	b = appendString(b, r.Status)
	if r.Capture != nil {
		b = append(b, `,"capture":`...)
		b = appendCapture(b, r.Capture)
	}
	if len(r.Masked) > 0 {
		// encoding/json writes map keys sorted.
		keys := make([]string, 0, len(r.Masked))
		for k := range r.Masked {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"masked":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = strconv.AppendUint(b, r.Masked[k], 10)
		}
		b = append(b, '}')
	}
	if r.Unmasked {
		b = append(b, `,"unmasked":true`...)
	}
	if r.HTTP != nil {
		var err error
		if b, err = appendJSON(b, `,"http":`, r.HTTP); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func appendCapture(b []byte, c *sluice.Capture) []byte {
	b = append(b, '{')
	if len(c.Columns) > 0 {
		b = append(b, `"columns":[`...)
		for i := range c.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			col := &c.Columns[i]
			b = append(b, `{"name":`...)
			b = appendString(b, col.Name)
			b = append(b, `,"type_oid":`...)
			b = strconv.AppendUint(b, uint64(col.TypeOID), 10)
			if col.Format != 0 {
				b = append(b, `,"format":`...)
				b = strconv.AppendInt(b, int64(col.Format), 10)
			}
			b = append(b, '}')
		}
		b = append(b, "],"...)
	}
	if len(c.Rows) > 0 {
		b = append(b, `"rows":[`...)
		for i, row := range c.Rows {
			if i > 0 {
				b = append(b, ',')
			}
			if row == nil {
				b = append(b, "null"...)
				continue
			}
			b = appendNullableStrings(b, row)
		}
		b = append(b, "],"...)
	}
	b = append(b, `"bytes":`...)
	b = strconv.AppendInt(b, int64(c.Bytes), 10)
	if c.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	return append(b, '}')
}

// appendOptString appends key and s unless s is empty (omitempty).
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendString(b, s)
}

// appendOptStrings appends key and ss unless ss is empty (omitempty).
func appendOptStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendNullableStrings appends ss as an array of strings and nulls.
func appendNullableStrings(b []byte, ss []*string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		if s == nil {
			b = append(b, "null"...)
		} else {
			b = appendString(b, *s)
		}
	}
	return append(b, ']')
}

var errTimeRange = errors.New("time outside the JSON range (years 0-9999, zone offsets under 24h)")

// appendTime appends t as time.Time.MarshalJSON does.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	// The same checks as time.Time.MarshalJSON.
	if b[n0+4] != '-' {
		return b, errTimeRange
	}
	if b[len(b)-1] != 'Z' {
		c := b[len(b)-6]
		hh := 10*(b[len(b)-5]-'0') + (b[len(b)-4] - '0')
		if ('0' <= c && c <= '9') || hh >= 24 {
			return b, errTimeRange
		}
	}
	return append(b, '"'), nil
}

const hexDigits = "0123456789abcdef"

// safe marks the ASCII bytes encoding/json writes as they are (it escapes
// control characters, '"', '\\', and, for HTML safety, '<', '>' and '&').
var safe = func() (s [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		s[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return s
}()

// appendString appends s as a JSON string exactly as encoding/json does:
// invalid UTF-8 becomes U+FFFD, and U+2028 and U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
