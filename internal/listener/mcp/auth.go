package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
)

// caller is who sent one HTTP request: the identity its token proves and
// the address it came from.
type caller struct {
	id   *sluice.Identity
	addr netip.AddrPort
}

// user is the key that binds an MCP session to its caller: the SDK refuses
// requests of a session from anyone else.
func (c *caller) user() string { return c.id.Issuer + " " + c.id.Subject }

type callerKey struct{}

// extraCaller is the TokenInfo.Extra key that carries the caller to tools.
const extraCaller = "sluice.caller"

// tokenInfo hands the caller that ServeHTTP authenticated to the SDK, which
// passes it to tool handlers (RequestExtra.TokenInfo) and binds sessions to
// its user. The token itself was checked already and is not looked at.
func tokenInfo(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
	c, ok := ctx.Value(callerKey{}).(*caller)
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{UserID: c.user(), Expiration: c.id.ExpiresAt, Extra: map[string]any{extraCaller: c}}, nil
}

// callerOf returns the caller of a tool call.
func callerOf(extra *sdk.RequestExtra) (*caller, error) {
	if extra != nil && extra.TokenInfo != nil {
		if c, ok := extra.TokenInfo.Extra[extraCaller].(*caller); ok {
			return c, nil
		}
	}
	return nil, errors.New("the call carries no authenticated caller")
}

// userOf returns the session user of a request, or "".
func userOf(extra *sdk.RequestExtra) string {
	if c, err := callerOf(extra); err == nil {
		return c.user()
	}
	return ""
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// authenticate checks the request's bearer token. On failure it has
// answered the request: 401 with a WWW-Authenticate header that points to
// the protected resource metadata (and says invalid_token when a token was
// sent), or 503 when the token cannot be checked now.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	addr := remoteAddr(r)
	tok, ok := bearer(r)
	if !ok {
		s.unauthorized(w, r, nil)
		return nil, false
	}
	id, err := s.Authn.Authenticate(r.Context(), tok)
	if err != nil {
		e := sluice.AsError(err)
		s.Log.Info("MCP authentication failed", "remote", r.RemoteAddr, "err", err)
		if e.Code != sluice.EUnauthenticated {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "sluice cannot check the token now: "+e.Message, http.StatusServiceUnavailable)
			return nil, false
		}
		s.Gate.AuthFailure(r.Context(), gate.SessionInfo{Protocol: sluice.ProtoMCP, ClientAddr: addr}, e.Message)
		s.unauthorized(w, r, e)
		return nil, false
	}
	return &caller{id: id, addr: addr}, true
}

// unauthorized answers 401. e is the reason a presented token was refused,
// nil when none was presented.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, e *sluice.Error) {
	w.Header().Set("WWW-Authenticate", wwwAuthenticate(s.metadataURL(r), e))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	body := map[string]string{"error": "invalid_request",
		"error_description": "send a token: Authorization: Bearer <token>"}
	if e != nil {
		body = map[string]string{"error": "invalid_token", "error_description": e.Message}
	}
	json.NewEncoder(w).Encode(body)
}

// wwwAuthenticate is the challenge of a 401 (RFC 6750, RFC 9728 section 5.1):
// where the resource's metadata is and, when a token was refused, why.
func wwwAuthenticate(metadataURL string, e *sluice.Error) string {
	v := `Bearer resource_metadata="` + quoted(metadataURL) + `"`
	if e != nil {
		v += `, error="invalid_token", error_description="` + quoted(e.Message) + `"`
	}
	return v
}

// quoted makes s safe inside an HTTP quoted-string by dropping quotes,
// backslashes and control characters.
func quoted(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// resourceURL is the endpoint's URL: the configured one, or the URL this
// request reached.
func (s *Server) resourceURL(r *http.Request) string {
	if s.URL != "" {
		return s.URL
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + "/mcp"
}

// metadataURL is where the protected resource metadata of the endpoint is:
// the well-known path inserted before the resource's path (RFC 9728
// section 3.1).
func (s *Server) metadataURL(r *http.Request) string {
	u, err := url.Parse(s.resourceURL(r))
	if err != nil {
		return ""
	}
	u.Path = "/.well-known/oauth-protected-resource" + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String()
}

// Metadata returns the OAuth 2.0 protected resource metadata (RFC 9728) of
// the endpoint as reached by r.
func (s *Server) Metadata(r *http.Request) *oauthex.ProtectedResourceMetadata {
	return &oauthex.ProtectedResourceMetadata{
		Resource:               s.resourceURL(r),
		AuthorizationServers:   s.Issuers,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "sluice",
	}
}

// metadata serves the protected resource metadata; it is public.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	auth.ProtectedResourceMetadataHandler(s.Metadata(r)).ServeHTTP(w, r)
}

// originAllowed reports whether a request with this Origin header may
// proceed: non-browser clients send none, browsers only from an allowed
// origin. Web pages elsewhere (DNS rebinding) are refused.
func (s *Server) originAllowed(origin string) bool {
	if origin == "" {
		return true
	}
	for _, a := range s.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// corsHeaders lets an allowed browser origin read the answer.
func corsHeaders(w http.ResponseWriter, origin string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate")
}

// preflight answers a CORS preflight of an allowed origin.
func preflight(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// remoteAddr returns the client's address, or the zero value.
func remoteAddr(r *http.Request) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return netip.AddrPortFrom(a, 0)
}
