package s3

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/sluicehq/sluice/internal/export"
)

// errClosed is returned by calls on a closed Store.
var errClosed = errors.New("s3: store is closed")

// ServiceError is the S3 service's refusal of a request: its HTTP status,
// error code and message. It holds neither the request (whose signature
// is derived from the secret key) nor the credential.
//
// errors.Is(err, export.ErrExists) holds for a Put refused because the
// object exists (PreconditionFailed, HTTP 412); errors.Is(err,
// fs.ErrNotExist) holds for a missing object or bucket (NoSuchKey,
// NoSuchBucket).
type ServiceError struct {
	Op         string // "put", "get", "list", "stat", "create bucket"
	Key        string // the object's key, Prefix included, or the listed prefix; empty for the bucket
	Bucket     string
	StatusCode int
	Code       string // such as "SignatureDoesNotMatch"; may be empty
	Message    string // the service's explanation; may be empty
}

func (e *ServiceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3: %s %s/%s: HTTP %d", e.Op, e.Bucket, e.Key, e.StatusCode)
	// Codes have no spaces; minio-go makes one up from the status line
	// for answers without a body.
	if e.Code != "" && !strings.Contains(e.Code, " ") {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" && e.Message != e.Code {
		b.WriteString(": ")
		b.WriteString(strings.TrimSuffix(e.Message, "."))
	}
	if h := e.hint(); h != "" {
		b.WriteString(" (")
		b.WriteString(h)
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether e means export.ErrExists or fs.ErrNotExist; see
// ServiceError.
func (e *ServiceError) Is(target error) bool {
	switch target {
	case export.ErrExists:
		return e.exists()
	case fs.ErrNotExist:
		return e.notFound()
	}
	return false
}

// notFound reports a missing object or bucket. Other codes come with 404
// too: versitygw answers an unknown access key with XAdminUserNotFound.
func (e *ServiceError) notFound() bool {
	switch e.Code {
	case "NoSuchKey", "NoSuchBucket", "NoSuchVersion":
		return true
	case "":
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

func (e *ServiceError) exists() bool {
	return e.Op == "put" && (e.Code == "PreconditionFailed" || e.StatusCode == http.StatusPreconditionFailed)
}

// hint says in words what the usual cause of a code is.
func (e *ServiceError) hint() string {
	switch {
	case e.exists():
		return "the object exists and is never overwritten"
	case e.Code == "SignatureDoesNotMatch":
		return "credential rejected: check the secret key"
	case e.Code == "InvalidAccessKeyId", e.Code == "XAdminUserNotFound":
		return "credential rejected: the service does not know the access key"
	case e.Code == "ExpiredToken", e.Code == "InvalidToken", e.Code == "TokenRefreshRequired":
		return "credential rejected: the session token is expired or invalid"
	case e.Code == "RequestTimeTooSkewed":
		return "this host's clock is off"
	case e.Code == "AccessDenied":
		return "the credential lacks the permission for this operation, or is wrong"
	case e.Code == "NoSuchBucket":
		return "the bucket does not exist"
	case e.Code == "InvalidRequest" && strings.Contains(strings.ToLower(strings.ReplaceAll(e.Message, " ", "")), "objectlock"):
		return "ObjectLockMode needs a bucket created with Object Lock enabled"
	}
	return ""
}

// wrapError turns an error of the client into a *ServiceError for the
// service's answers, and adds the operation to the others (transport,
// context, credential lookup), which minio-go builds without the secret
// key: requests are signed in headers, never in the URL.
func (s *Store) wrapError(op, key string, err error) error {
	var r minio.ErrorResponse
	if errors.As(err, &r) && r.StatusCode != 0 {
		return &ServiceError{Op: op, Key: key, Bucket: s.bucket, StatusCode: r.StatusCode, Code: r.Code, Message: r.Message}
	}
	return fmt.Errorf("s3: %s %s/%s: %w", op, s.bucket, key, err)
}
