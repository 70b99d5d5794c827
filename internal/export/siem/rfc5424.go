package siem

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/export"
)

// RFC 5424 constants of the messages Syslog writes.
const (
	// FacilityLogAudit is facility 13, "log audit" in RFC 5424's table,
	// the default of SyslogConfig.Facility.
	FacilityLogAudit = 13
	// FacilityAuthpriv is facility 10, "security/authorization messages
	// (private)"; some receivers file audit trails there.
	FacilityAuthpriv = 10

	// sdID is the structured data element carrying the journal sequence
	// number: [sluice@32473 seq="N"]. 32473 is the private enterprise
	// number RFC 5612 reserves for documentation and examples; it stays
	// until sluice has a number of its own.
	sdID = "sluice@32473"
	// msgID is the MSGID of every message.
	msgID = "audit"
	// timestampLayout is RFC 3339 with microseconds, as RFC 5424 allows
	// (TIME-SECFRAC is at most six digits).
	timestampLayout = "2006-01-02T15:04:05.000000Z07:00"

	maxHostname = 255
	maxAppName  = 48
	maxProcID   = 128
)

// Syslog severities (RFC 5424 section 6.2.1).
const (
	sevAlert         = 1
	sevCritical      = 2
	sevError         = 3
	sevWarning       = 4
	sevNotice        = 5
	sevInformational = 6
)

// syslogSeverity maps an OCSF severity_id to a syslog severity: Fatal is
// alert, Critical critical, High error, Medium warning, Low notice, and
// Informational, Unknown, Other or none informational.
func syslogSeverity(severityID int) int {
	switch severityID {
	case 6:
		return sevAlert
	case 5:
		return sevCritical
	case 4:
		return sevError
	case 3:
		return sevWarning
	case 2:
		return sevNotice
	default:
		return sevInformational
	}
}

// header holds the fields that are the same in every message of a sink.
type header struct {
	facility int
	hostname string // PRINTUSASCII, 1..255, or "-"
	appName  string // PRINTUSASCII, 1..48
	procID   string // PRINTUSASCII, 1..128, or "-"
}

// appendFrame appends one octet-counted frame (RFC 6587 section 3.4.1,
// "MSG-LEN SP SYSLOG-MSG") for it to b:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID audit [sluice@32473 seq="N"] JSON
//
// TIMESTAMP is the record's own time (m.time) or now. JSON is it.Data
// compacted onto one line; it must be valid (readMeta checked it). scratch
// is reused across calls and returned.
func (h header) appendFrame(b, scratch []byte, it export.Item, m meta, now time.Time) (frame, scratchOut []byte, err error) {
	msg := scratch[:0]
	msg = append(msg, '<')
	msg = strconv.AppendInt(msg, int64(h.facility*8+syslogSeverity(m.severityID)), 10)
	msg = append(msg, ">1 "...)
	msg = m.eventTime(now).UTC().AppendFormat(msg, timestampLayout)
	msg = append(msg, ' ')
	msg = append(msg, h.hostname...)
	msg = append(msg, ' ')
	msg = append(msg, h.appName...)
	msg = append(msg, ' ')
	msg = append(msg, h.procID...)
	msg = append(msg, " "+msgID+" ["+sdID+` seq="`...)
	msg = strconv.AppendUint(msg, it.Seq, 10)
	msg = append(msg, `"] `...)
	buf := bytes.NewBuffer(msg)
	if err := json.Compact(buf, it.Data); err != nil {
		return b, scratch, fmt.Errorf("item seq %d: %w", it.Seq, errNotObject)
	}
	msg = buf.Bytes()
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, ' ')
	b = append(b, msg...)
	return b, msg, nil
}

// validHeaderField reports whether s is 1..max printable US-ASCII
// characters (33..126), as RFC 5424 requires of HOSTNAME, APP-NAME and
// PROCID.
func validHeaderField(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// headerField turns s into a valid header field: characters outside
// 33..126 become '_', and it is cut to max; empty becomes the NILVALUE "-".
func headerField(s string, max int) string {
	b := []byte(s)
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}
