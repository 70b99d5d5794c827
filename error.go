package sluice

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes. Each says what kind of failure happened, independent of the
// front door that reports it; SQLState and HTTPStatus translate it.
const (
	EUnauthenticated = "unauthenticated" // missing, invalid, expired or revoked credential
	EForbidden       = "forbidden"       // authenticated, but no grant or policy denies
	ENotFound        = "not_found"       // unknown connection, session, review, ...
	EInvalid         = "invalid"         // malformed request or input
	EConflict        = "conflict"        // the target is not in a state that allows this
	EProtocol        = "protocol"        // wire protocol violation
	ETooLarge        = "too_large"       // message or body over the configured cap
	ETooMany         = "too_many"        // a quota or budget is used up
	EUnavailable     = "unavailable"     // upstream or journal cannot take the request now
	ECanceled        = "canceled"        // the caller canceled, or a wait was ended
	ETimeout         = "timeout"         // a deadline passed
	EInternal        = "internal"        // a bug or an unexpected failure
)

// Error is a failure that can be shown to a caller. Message is written for
// the caller and never holds a secret; Cause may hold internal details
// (addresses, upstream messages) and is for logs only, never for the caller.
type Error struct {
	Code    string
	Message string
	// SQLStateCode overrides the SQLSTATE derived from Code when set.
	SQLStateCode string
	// Detail and Hint are optional caller-facing additions (PostgreSQL's
	// DETAIL and HINT fields).
	Detail string
	Hint   string
	Cause  error
}

// Errorf returns an *Error with the given code and a caller-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns the caller-facing message followed by the cause, for logs.
func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// WithCause returns a copy of e with cause attached.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// SQLState is the PostgreSQL error code a pgwire client receives.
func (e *Error) SQLState() string {
	if e.SQLStateCode != "" {
		return e.SQLStateCode
	}
	switch e.Code {
	case EUnauthenticated:
		return "28P01" // invalid_password
	case EForbidden:
		return "42501" // insufficient_privilege
	case ENotFound:
		return "3D000" // invalid_catalog_name
	case EInvalid:
		return "22023" // invalid_parameter_value
	case EConflict:
		return "55000" // object_not_in_prerequisite_state
	case EProtocol:
		return "08P01" // protocol_violation
	case ETooLarge:
		return "54000" // program_limit_exceeded
	case ETooMany:
		return "53400" // configuration_limit_exceeded
	case EUnavailable:
		return "08006" // connection_failure
	case ECanceled:
		return "57014" // query_canceled
	case ETimeout:
		return "57014"
	default:
		return "XX000" // internal_error
	}
}

// HTTPStatus is the HTTP status an HTTP or MCP client receives.
func (e *Error) HTTPStatus() int {
	switch e.Code {
	case EUnauthenticated:
		return http.StatusUnauthorized
	case EForbidden:
		return http.StatusForbidden
	case ENotFound:
		return http.StatusNotFound
	case EInvalid, EProtocol:
		return http.StatusBadRequest
	case EConflict:
		return http.StatusConflict
	case ETooLarge:
		return http.StatusRequestEntityTooLarge
	case ETooMany:
		return http.StatusTooManyRequests
	case EUnavailable:
		return http.StatusBadGateway
	case ECanceled:
		return 499
	case ETimeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// AsError returns err as an *Error. Anything that is not one becomes an
// EInternal error whose caller-facing message reveals nothing of err.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EInternal, Message: "internal error", Cause: err}
}

// ErrorCode returns the code of err, or "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}
