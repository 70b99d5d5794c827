package azblob

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Environment variables read by ParseURL.
const (
	EnvEndpoint         = "AZURE_STORAGE_ENDPOINT"
	EnvConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
	EnvAccountKey       = "AZURE_STORAGE_KEY"
	EnvSASToken         = "AZURE_STORAGE_SAS_TOKEN"
	EnvTenantID         = "AZURE_TENANT_ID"
	EnvClientID         = "AZURE_CLIENT_ID"
	EnvClientSecret     = "AZURE_CLIENT_SECRET"
)

// azuriteEndpoint is Azurite's default blob service URL for its account.
const azuriteEndpoint = "http://127.0.0.1:10000/devstoreaccount1"

// ParseURL turns a URL of the form
//
//	azure://<account>/<container>[/<prefix>][?endpoint=<blob service URL>]
//
// as given to `sluice audit verify --from`, into a Config. The path after
// the container is the Prefix, with a "/" added at its end when missing:
// azure://acct/audit/sluice/prod-1 reads the blobs "sluice/prod-1/...".
//
// The blob service URL is the first of: the endpoint query parameter; the
// environment variable AZURE_STORAGE_ENDPOINT;
// http://127.0.0.1:10000/devstoreaccount1 (Azurite's default) for the
// account devstoreaccount1; https://<account>.blob.core.windows.net. An
// endpoint with an empty path whose host is an IP address or "localhost"
// is path-style, as Azurite is, and gets "/<account>" appended; a
// path-style endpoint must name <account>.
//
// The credential comes from the environment; the first of these that is
// set is used:
//
//   - AZURE_STORAGE_CONNECTION_STRING: a connection string, which also
//     gives the endpoint (the endpoint settings above are then not used);
//     an AccountName in it must be <account>.
//   - AZURE_STORAGE_KEY: the shared key of <account>.
//   - AZURE_STORAGE_SAS_TOKEN: a SAS token for the container or account.
//   - AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (all three):
//     a Microsoft Entra application's client secret.
//
// Without any of them ParseURL fails. Credentials in the URL itself are
// refused, so they never end up in shell history or process listings.
func ParseURL(u string) (Config, error) {
	return parseURL(u, os.Getenv)
}

func parseURL(raw string, getenv func(string) string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, errors.New("azblob: not a URL (expected azure://<account>/<container>/<prefix>)")
	}
	if u.Scheme != "azure" {
		return Config{}, fmt.Errorf("azblob: URL scheme must be azure, not %q", u.Scheme)
	}
	if u.User != nil {
		return Config{}, errors.New("azblob: azure:// URL must not hold credentials; set AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING")
	}
	if u.Fragment != "" {
		return Config{}, errors.New("azblob: azure:// URL must not have a fragment")
	}
	account := u.Host
	if account == "" {
		return Config{}, errors.New("azblob: azure:// URL names no account (expected azure://<account>/<container>/<prefix>)")
	}
	if err := checkAccountName(account); err != nil {
		return Config{}, fmt.Errorf("azblob: %w", err)
	}
	containerName, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if containerName == "" {
		return Config{}, errors.New("azblob: azure:// URL names no container (expected azure://<account>/<container>/<prefix>)")
	}
	if err := checkContainerName(containerName); err != nil {
		return Config{}, fmt.Errorf("azblob: %w", err)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	q := u.Query()
	for k := range q {
		if k != "endpoint" {
			return Config{}, fmt.Errorf("azblob: unknown parameter %q in azure:// URL (only endpoint is known; credentials come from the environment)", k)
		}
	}

	c := Config{Prefix: prefix}
	if cs := getenv(EnvConnectionString); cs != "" {
		if name, ok := connectionStringValue(cs, "AccountName"); ok && name != account {
			return Config{}, fmt.Errorf("azblob: %s is for account %q, the URL names %q", EnvConnectionString, name, account)
		}
		c.ConnectionString, c.Container = cs, containerName
		return c, nil
	}

	endpoint := q.Get("endpoint")
	if endpoint == "" {
		endpoint = getenv(EnvEndpoint)
	}
	service, err := serviceURL(account, endpoint)
	if err != nil {
		return Config{}, err
	}
	c.ContainerURL = service + "/" + containerName

	tenant, client, secret := getenv(EnvTenantID), getenv(EnvClientID), getenv(EnvClientSecret)
	switch {
	case getenv(EnvAccountKey) != "":
		c.AccountName, c.AccountKey = account, getenv(EnvAccountKey)
	case getenv(EnvSASToken) != "":
		c.SAS = getenv(EnvSASToken)
	case tenant != "" && client != "" && secret != "":
		c.Entra = &Entra{TenantID: tenant, ClientID: client, ClientSecret: secret}
	default:
		return Config{}, fmt.Errorf("azblob: no credential for %s: set %s, %s, %s, or %s, %s and %s",
			raw, EnvConnectionString, EnvAccountKey, EnvSASToken, EnvTenantID, EnvClientID, EnvClientSecret)
	}
	return c, nil
}

// serviceURL returns the blob service URL of account, without a trailing
// slash, from an endpoint that may be empty.
func serviceURL(account, endpoint string) (string, error) {
	if endpoint == "" {
		if account == "devstoreaccount1" {
			return azuriteEndpoint, nil
		}
		return "https://" + account + ".blob.core.windows.net", nil
	}
	e, err := url.Parse(endpoint)
	if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
		return "", errors.New("azblob: endpoint (?endpoint= or " + EnvEndpoint + ") is not an http(s) URL")
	}
	if e.User != nil || e.RawQuery != "" || e.Fragment != "" {
		return "", errors.New("azblob: endpoint (?endpoint= or " + EnvEndpoint + ") must be a bare blob service URL, without credentials, query or fragment")
	}
	path := strings.Trim(e.Path, "/")
	host := e.Hostname()
	pathStyle := host == "localhost" || net.ParseIP(host) != nil
	switch {
	case path == "" && pathStyle:
		path = account
	case path != "" && strings.Split(path, "/")[0] != account && pathStyle:
		return "", fmt.Errorf("azblob: endpoint is for account %q, the URL names %q", strings.Split(path, "/")[0], account)
	}
	e.Path = ""
	s := strings.TrimSuffix(e.String(), "/")
	if path != "" {
		s += "/" + path
	}
	return s, nil
}

// connectionStringValue returns the value of key in a connection string
// (key=value pairs separated by ";", keys case-insensitive).
func connectionStringValue(cs, key string) (string, bool) {
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
