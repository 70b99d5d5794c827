package httpup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrCredential is wrapped by the errors Do returns when sluice could not
// obtain the credential to present upstream, such as an OAuth2 token. The
// proxy answers those requests with 502.
var ErrCredential = errors.New("could not obtain a credential")

const (
	// tokenTimeout bounds one request to the token endpoint.
	tokenTimeout = 30 * time.Second
	// earlyExpiry is how long before its expiry a cached token is
	// replaced, so that a token does not expire in flight.
	earlyExpiry = 30 * time.Second
)

// tokenSource gets OAuth2 access tokens with the client credentials grant
// and caches them until shortly before expiry. Concurrent callers share one
// fetch. It is safe for concurrent use.
type tokenSource struct {
	conn     string
	tokenURL string
	secret   string // client secret, for scrubbing error messages
	client   *http.Client
	src      oauth2.TokenSource

	mu   sync.Mutex
	last string // the most recently obtained access token
}

// newTokenSource prepares the grant for o; it does no I/O beyond reading
// o.CAFile.
func newTokenSource(conn string, o *OAuth2) (*tokenSource, error) {
	roots, err := rootPool(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("credential.oauth2.ca_file: %w", err)
	}
	client := &http.Client{
		Transport: newTransport(roots, tokenTimeout),
		Timeout:   tokenTimeout,
		// A redirect would carry the client secret elsewhere; the 3xx
		// answer becomes a token error instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	cc := &clientcredentials.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		TokenURL:     o.tokenURL(),
		Scopes:       o.Scopes,
	}
	if o.entra() {
		cc.AuthStyle = oauth2.AuthStyleInParams
	}
	if o.Resource != "" {
		cc.EndpointParams = url.Values{"resource": {o.Resource}}
	}
	// The context only carries the HTTP client; each fetch is bounded by
	// the client's timeout.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	return &tokenSource{
		conn:     conn,
		tokenURL: cc.TokenURL,
		secret:   o.ClientSecret,
		client:   client,
		src:      oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(ctx), earlyExpiry),
	}, nil
}

// authorization returns the Authorization header value for a valid token,
// fetching one if none is cached. Errors wrap ErrCredential and contain
// neither the client secret nor the token endpoint's response body.
func (s *tokenSource) authorization() (string, error) {
	tok, err := s.src.Token()
	if err != nil {
		return "", s.fail(err)
	}
	s.mu.Lock()
	s.last = tok.AccessToken
	s.mu.Unlock()
	return tok.Type() + " " + tok.AccessToken, nil
}

// cached returns the most recently obtained access token, or "".
func (s *tokenSource) cached() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// fail turns a token fetch error into a credentialError. The endpoint's
// answer is described by its status code and OAuth2 error code only: the
// body, the reason phrase and the error description are the server's own
// text and might echo the secret.
func (s *tokenSource) fail(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := "token endpoint at " + s.tokenURL + " answered"
		if re.Response != nil {
			code := re.Response.StatusCode
			msg += " " + strconv.Itoa(code) + " " + http.StatusText(code)
		} else {
			msg += " an error"
		}
		if isErrorCode(re.ErrorCode) {
			msg += " (" + re.ErrorCode + ")"
		}
		return &credentialError{conn: s.conn, msg: s.scrub(msg)}
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // the URL is named below
	}
	msg := fmt.Sprintf("token endpoint at %s: %v", s.tokenURL, cause)
	return &credentialError{conn: s.conn, msg: s.scrub(msg), cause: cause}
}

// scrub replaces the client secret in msg, should it appear there.
func (s *tokenSource) scrub(msg string) string {
	if s.secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, s.secret, "[redacted]")
}

// close closes the token client's idle connections.
func (s *tokenSource) close() {
	s.client.CloseIdleConnections()
}

// isErrorCode reports whether s looks like an RFC 6749 error code such as
// invalid_client, and so is safe to repeat.
func isErrorCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// credentialError is a failure to obtain a credential. Its message is safe
// to log; it wraps ErrCredential and, for transport failures, the cause.
type credentialError struct {
	conn  string
	msg   string
	cause error
}

func (e *credentialError) Error() string {
	return fmt.Sprintf("connection %q: %v: %s", e.conn, ErrCredential, e.msg)
}

func (e *credentialError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrCredential}
	}
	return []error{ErrCredential, e.cause}
}
