package journal

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/sluicehq/sluice"
)

// knownLayouts are the event types as encode.go knows them: each field's
// name, type and json tag, in order. If the root package changes any of
// them, layoutError says so and the journal encodes with encoding/json.
var knownLayouts = []struct {
	t      reflect.Type
	fields string
}{
	{reflect.TypeFor[sluice.Event](), "Seq uint64 seq,omitempty; Time time.Time time; " +
		"Type sluice.EventType type; Session string session,omitempty; " +
		"Identity *sluice.Identity identity,omitempty; Connection string connection,omitempty; " +
		"Protocol sluice.Protocol protocol,omitempty; ClientAddr string client_addr,omitempty; " +
		"Request *sluice.Request request,omitempty; RequestRef string request_id,omitempty; " +
		"RequestSeq uint64 request_seq,omitempty; Decision *sluice.Decision decision,omitempty; " +
		"Result *sluice.Result result,omitempty; Review *sluice.Review review,omitempty; " +
		"Reason string reason,omitempty"},
	{reflect.TypeFor[sluice.Identity](), "Subject string subject; Name string name,omitempty; " +
		"Groups []string groups,omitempty; Client string client,omitempty; " +
		"Method sluice.AuthMethod method; Issuer string issuer; TokenID string token_id,omitempty; " +
		"ExpiresAt time.Time expires_at"},
	{reflect.TypeFor[sluice.Request](), "ID string id; Seq int64 seq; SessionID string session_id; " +
		"Kind sluice.RequestKind kind; Text string text; Params []*string params,omitempty; " +
		"ParamFormats []int16 param_formats,omitempty; " +
		"Statement string statement,omitempty; FunctionOID uint32 function_oid,omitempty; " +
		"Class sluice.Class class; Tables []string tables,omitempty; " +
		"Fingerprint string fingerprint,omitempty; Time time.Time time; Subject string subject,omitempty; " +
		"Groups []string groups,omitempty; Connection string connection,omitempty; " +
		"ClientAddr string client_addr,omitempty; Parent string parent,omitempty; Note string note,omitempty; " +
		"Masked bool masked,omitempty; HTTP *sluice.HTTPRequest http,omitempty; Body []uint8 -; " +
		"Recorded uint64 -"},
	{reflect.TypeFor[sluice.Decision](), "Action sluice.Action action; Policy string policy,omitempty; " +
		"Rule string rule,omitempty; Message string message,omitempty; " +
		"Approvers []string approvers,omitempty; MinApprovals int min_approvals,omitempty; " +
		"Wait time.Duration wait,omitempty; ReviewID string review_id,omitempty"},
	{reflect.TypeFor[sluice.Result](), "Tag string tag,omitempty; Rows int64 rows; " +
		"Duration time.Duration duration; Error string error,omitempty; Status string status; " +
		"Capture *sluice.Capture capture,omitempty; Masked map[string]uint64 masked,omitempty; " +
		"Unmasked bool unmasked,omitempty; HTTP *sluice.HTTPResult http,omitempty"},
	{reflect.TypeFor[sluice.Capture](), "Columns []sluice.Column columns,omitempty; " +
		"Rows [][]*string rows,omitempty; Bytes int bytes; Truncated bool truncated,omitempty"},
	{reflect.TypeFor[sluice.Column](), "Name string name; TypeOID uint32 type_oid; Format int16 format,omitempty"},
}

// plainTypes are the named types encode.go writes by their underlying kind;
// a custom marshaller on any of them would change their JSON.
var plainTypes = []reflect.Type{
	reflect.TypeFor[sluice.EventType](), reflect.TypeFor[sluice.Protocol](),
	reflect.TypeFor[sluice.AuthMethod](), reflect.TypeFor[sluice.RequestKind](),
	reflect.TypeFor[sluice.Class](), reflect.TypeFor[sluice.Action](),
}

// layoutError reports how the event types differ from what encode.go knows,
// or nil.
func layoutError() error {
	for _, l := range knownLayouts {
		var fs []string
		for i := range l.t.NumField() {
			f := l.t.Field(i)
			fs = append(fs, fmt.Sprintf("%s %s %s", f.Name, f.Type, f.Tag.Get("json")))
		}
		if got := strings.Join(fs, "; "); got != l.fields {
			return fmt.Errorf("%s has fields %q, the journal's encoder knows %q", l.t, got, l.fields)
		}
	}
	marshaler := reflect.TypeFor[json.Marshaler]()
	textMarshaler := reflect.TypeFor[encoding.TextMarshaler]()
	for _, t := range plainTypes {
		for _, pt := range []reflect.Type{t, reflect.PointerTo(t)} {
			if pt.Implements(marshaler) || pt.Implements(textMarshaler) {
				return fmt.Errorf("%s has a custom JSON or text marshaller", t)
			}
		}
	}
	return nil
}

// fastEncode is true when the hand-written encoder matches the event types.
var fastEncode = layoutError() == nil
