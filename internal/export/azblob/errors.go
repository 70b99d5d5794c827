package azblob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/sluicehq/sluice/internal/export"
)

// StatusError is the Blob service's refusal of a request. It carries the
// HTTP status and the service's error code, and deliberately neither the
// request URL (which may hold a SAS) nor the response body (which may echo
// the request's signature).
//
// errors.Is(err, export.ErrExists) holds for a Put refused because the
// blob exists (BlobAlreadyExists, ConditionNotMet or HTTP 412) or is
// protected by an immutability policy or legal hold; errors.Is(err,
// fs.ErrNotExist) holds for HTTP 404 (blob or container not found).
type StatusError struct {
	Op         string // "put", "get", "list", "create container"
	Name       string // blob name with Prefix, or the listed prefix; empty for the container
	StatusCode int
	Code       string // x-ms-error-code, such as "AuthenticationFailed"; may be empty
}

func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString("azblob: ")
	b.WriteString(e.Op)
	if e.Name != "" {
		b.WriteString(" ")
		b.WriteString(e.Name)
	}
	fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if h := e.hint(); h != "" {
		b.WriteString(" (")
		b.WriteString(h)
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether e means export.ErrExists or fs.ErrNotExist; see
// StatusError.
func (e *StatusError) Is(target error) bool {
	switch target {
	case export.ErrExists:
		return e.exists()
	case fs.ErrNotExist:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

func (e *StatusError) exists() bool {
	if e.Op != "put" {
		return false
	}
	switch e.Code {
	case "BlobAlreadyExists", "ConditionNotMet", "BlobImmutableDueToPolicy", "BlobImmutableDueToLegalHold":
		return true
	}
	return e.StatusCode == http.StatusPreconditionFailed
}

// hint says in words what the usual cause of a code is.
func (e *StatusError) hint() string {
	switch {
	case e.exists():
		return "the blob exists and is never overwritten"
	case e.Code == "AuthenticationFailed", e.Code == "AuthorizationFailure", e.Code == "InvalidAuthenticationInfo":
		return "credential rejected: check the account key, SAS or Entra application, and the clock"
	case e.Code == "AuthorizationPermissionMismatch", e.Code == "AuthorizationResourceTypeMismatch":
		return "the credential lacks the permission for this operation"
	case e.Code == "ContainerNotFound":
		return "the container does not exist"
	}
	return ""
}

// opError is a failure other than the service's answer: transport,
// context, credential. Its text is masked; it unwraps only to context
// errors and *net.OpError, which hold no secrets.
type opError struct {
	op, name, msg string
	causes        []error
}

func (e *opError) Error() string {
	if e.name == "" {
		return "azblob: " + e.op + ": " + e.msg
	}
	return "azblob: " + e.op + " " + e.name + ": " + e.msg
}

func (e *opError) Unwrap() []error { return e.causes }

// redactor masks a Store's secrets in error texts.
type redactor struct {
	secrets []string // longest first, so a secret holding another is masked whole
}

func newRedactor(c Config) *redactor {
	var r redactor
	add := func(s string) {
		if len(s) >= 8 { // shorter strings are no secret and would mask too much
			r.secrets = append(r.secrets, s)
		}
	}
	add(c.ConnectionString)
	for _, part := range strings.Split(c.ConnectionString, ";") {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(strings.TrimSpace(k), "AccountKey") || strings.EqualFold(strings.TrimSpace(k), "SharedAccessSignature") {
			add(v)
			r.addSAS(v)
		}
	}
	add(c.AccountKey)
	add(strings.TrimPrefix(c.SAS, "?"))
	r.addSAS(c.SAS)
	if c.Entra != nil {
		add(c.Entra.ClientSecret)
	}
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return &r
}

// addSAS adds the signature of a SAS token in its decoded and encoded
// forms, as it may appear in a URL.
func (r *redactor) addSAS(sas string) {
	q, err := url.ParseQuery(strings.TrimPrefix(sas, "?"))
	if err != nil {
		return
	}
	for _, sig := range q["sig"] {
		for _, s := range []string{sig, url.QueryEscape(sig), url.PathEscape(sig)} {
			if len(s) >= 8 {
				r.secrets = append(r.secrets, s)
			}
		}
	}
}

var (
	urlQuery = regexp.MustCompile(`(?i)(https?://[^\s"'?]*)\?[^\s"']*`)
	sigParam = regexp.MustCompile(`(?i)\bsig=[^&\s"']*`)
)

// text masks URL queries, sig= parameters and the configured secrets in s.
func (r *redactor) text(s string) string {
	s = urlQuery.ReplaceAllString(s, "${1}?REDACTED")
	s = sigParam.ReplaceAllString(s, "sig=REDACTED")
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "REDACTED")
	}
	return s
}

// error turns an error of the SDK into one that is safe to log: a
// *StatusError for the service's answers, an *opError with masked text
// for the rest.
func (r *redactor) error(op, name string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return &StatusError{Op: op, Name: name, StatusCode: re.StatusCode, Code: re.ErrorCode}
	}
	var causes []error
	for _, target := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, target) {
			causes = append(causes, target)
		}
	}
	if ne := (*net.OpError)(nil); errors.As(err, &ne) {
		causes = append(causes, ne)
	}
	return &opError{op: op, name: name, msg: r.text(err.Error()), causes: causes}
}
