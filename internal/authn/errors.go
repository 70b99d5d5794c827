package authn

import (
	"context"
	"errors"

	"github.com/sluicehq/sluice"
)

// The caller-facing messages. They help the caller fix the problem without
// saying anything about keys, configuration or which check failed inside.
const (
	msgNoToken         = "no token"
	msgInvalid         = "token is not valid"
	msgExpired         = "token expired"
	msgNotYetValid     = "token is not valid yet"
	msgRevoked         = "token revoked"
	msgUnknownIssuer   = "unknown token issuer"
	msgAudience        = "token audience is not accepted"
	msgServiceDisabled = "service tokens are not enabled"
	msgUnavailable     = "token issuer is unavailable, try again later"
	msgStoreDown       = "cannot check the token now, try again later"
	msgCanceled        = "authentication canceled"
)

// deny returns an EUnauthenticated error with a caller-facing message and an
// internal cause. The cause must never hold the token or key material.
func deny(msg string, cause error) *sluice.Error {
	return &sluice.Error{Code: sluice.EUnauthenticated, Message: msg, Cause: cause}
}

// unavailable returns an EUnavailable error: the token could not be checked
// because something it depends on (the issuer, the state store) is down.
func unavailable(msg string, cause error) *sluice.Error {
	return &sluice.Error{Code: sluice.EUnavailable, Message: msg, Cause: cause}
}

// ctxError translates a context error into a caller-facing error, or returns
// nil when err is not one.
func ctxError(err error) *sluice.Error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &sluice.Error{Code: sluice.ETimeout, Message: msgCanceled, Cause: err}
	case errors.Is(err, context.Canceled):
		return &sluice.Error{Code: sluice.ECanceled, Message: msgCanceled, Cause: err}
	}
	return nil
}
