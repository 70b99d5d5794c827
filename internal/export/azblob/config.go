package azblob

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config says where a Store writes and how it authenticates. Exactly one
// kind of credential is set: ConnectionString (with Container), AccountName
// and AccountKey (shared key), SAS, or Entra.
type Config struct {
	// ContainerURL is the container's URL without a query:
	// https://<account>.blob.core.windows.net/<container>, or for Azurite
	// http://127.0.0.1:<port>/devstoreaccount1/<container>. Required,
	// except with ConnectionString, whose endpoint is used instead.
	ContainerURL string

	// Prefix is put before every object name: the object "x" is the blob
	// Prefix+"x". It usually ends in "/", as "sluice/prod-1/". Empty means
	// names are used as they are.
	Prefix string

	// ConnectionString is a storage account connection string
	// (AccountName, AccountKey or SharedAccessSignature, BlobEndpoint or
	// DefaultEndpointsProtocol and EndpointSuffix). Container names the
	// container in that account.
	ConnectionString string
	Container        string

	// AccountName and AccountKey authenticate with the account's shared
	// key. AccountKey is the base64 key shown in the portal.
	AccountName, AccountKey string

	// SAS is a shared access signature token, the query string of a SAS
	// URL ("sv=...&sig=...", with or without the leading "?"), for the
	// container or the account. It is appended to ContainerURL.
	SAS string

	// Entra authenticates as a Microsoft Entra ID application with a
	// client secret. ContainerURL must be https.
	Entra *Entra

	// CreateContainer creates the container in Open when it is missing.
	// Meant for tests and Azurite; production containers exist already,
	// with their immutability policy, and the credential need not be
	// allowed to create containers.
	CreateContainer bool

	// MaxRetries is how often the SDK retries a failed request (transport
	// errors, 408, 429, 5xx) with exponential backoff. Zero means 3; a
	// negative value means no retries, for callers that retry themselves.
	MaxRetries int

	// TryTimeout bounds each attempt of a request. Zero means one minute.
	// The ctx given to each call bounds the whole call, retries included.
	TryTimeout time.Duration
}

// Entra holds a Microsoft Entra ID (Azure AD) application's client-secret
// credential. The application needs a data-plane role on the container,
// such as Storage Blob Data Contributor.
type Entra struct {
	TenantID     string
	ClientID     string
	ClientSecret string
	// AuthorityHost is the Entra endpoint, for sovereign clouds. Empty
	// means https://login.microsoftonline.com/.
	AuthorityHost string
}

// auth names the kind of credential a Config holds.
type auth int

const (
	authConnectionString auth = iota + 1
	authSharedKey
	authSAS
	authEntra
)

// validate checks c and returns its kind of credential. Its errors name
// the offending field and never quote a secret.
func (c *Config) validate() (auth, error) {
	var kinds []auth
	var names []string
	if c.ConnectionString != "" {
		kinds, names = append(kinds, authConnectionString), append(names, "ConnectionString")
	}
	if c.AccountKey != "" {
		kinds, names = append(kinds, authSharedKey), append(names, "AccountKey")
	}
	if c.SAS != "" {
		kinds, names = append(kinds, authSAS), append(names, "SAS")
	}
	if c.Entra != nil {
		kinds, names = append(kinds, authEntra), append(names, "Entra")
	}
	switch len(kinds) {
	case 0:
		return 0, errors.New("azblob: no credential: set ConnectionString, AccountName and AccountKey, SAS, or Entra")
	case 1:
	default:
		return 0, fmt.Errorf("azblob: more than one credential (%s): set exactly one", strings.Join(names, ", "))
	}
	kind := kinds[0]

	if kind == authConnectionString {
		if c.ContainerURL != "" {
			return 0, errors.New("azblob: ContainerURL must be empty with ConnectionString (the connection string gives the endpoint; Container names the container)")
		}
		if c.Container == "" {
			return 0, errors.New("azblob: Container is required with ConnectionString")
		}
		if err := checkContainerName(c.Container); err != nil {
			return 0, fmt.Errorf("azblob: Container: %w", err)
		}
		if c.AccountName != "" {
			return 0, errors.New("azblob: AccountName must be empty with ConnectionString")
		}
	} else {
		if c.Container != "" {
			return 0, errors.New("azblob: Container is only used with ConnectionString; name the container in ContainerURL")
		}
		if err := checkContainerURL(c.ContainerURL); err != nil {
			return 0, err
		}
	}

	switch kind {
	case authSharedKey:
		if c.AccountName == "" {
			return 0, errors.New("azblob: AccountName is required with AccountKey")
		}
		if err := checkAccountName(c.AccountName); err != nil {
			return 0, fmt.Errorf("azblob: AccountName: %w", err)
		}
	case authSAS:
		if c.AccountName != "" {
			return 0, errors.New("azblob: AccountName is only used with AccountKey")
		}
		if _, err := url.ParseQuery(strings.TrimPrefix(c.SAS, "?")); err != nil {
			return 0, errors.New("azblob: SAS is not a query string (expected sv=...&sig=...)")
		}
		if !strings.Contains(c.SAS, "sig=") {
			return 0, errors.New("azblob: SAS has no signature (sig=): expected the query string of a SAS URL")
		}
	case authEntra:
		if c.AccountName != "" {
			return 0, errors.New("azblob: AccountName is only used with AccountKey")
		}
		switch {
		case c.Entra.TenantID == "":
			return 0, errors.New("azblob: Entra.TenantID is required")
		case c.Entra.ClientID == "":
			return 0, errors.New("azblob: Entra.ClientID is required")
		case c.Entra.ClientSecret == "":
			return 0, errors.New("azblob: Entra.ClientSecret is required")
		}
		if !strings.HasPrefix(c.ContainerURL, "https://") {
			return 0, errors.New("azblob: ContainerURL must be https with Entra (bearer tokens are never sent in clear text)")
		}
	}
	if c.TryTimeout < 0 {
		return 0, errors.New("azblob: TryTimeout must not be negative")
	}
	return kind, nil
}

// checkContainerURL checks that u is an absolute http(s) URL with a path
// and without query or fragment (a SAS belongs in Config.SAS, where it is
// kept out of error messages).
func checkContainerURL(u string) error {
	if u == "" {
		return errors.New("azblob: ContainerURL is required")
	}
	p, err := url.Parse(u)
	if err != nil {
		return errors.New("azblob: ContainerURL is not a URL")
	}
	if p.Scheme != "https" && p.Scheme != "http" {
		return fmt.Errorf("azblob: ContainerURL must be http or https, not %q", p.Scheme)
	}
	if p.Host == "" {
		return errors.New("azblob: ContainerURL has no host")
	}
	if p.User != nil {
		return errors.New("azblob: ContainerURL must not hold user information")
	}
	if p.RawQuery != "" || p.ForceQuery {
		return errors.New("azblob: ContainerURL must not have a query; put a SAS token in SAS")
	}
	if p.Fragment != "" {
		return errors.New("azblob: ContainerURL must not have a fragment")
	}
	if strings.Trim(p.Path, "/") == "" {
		return fmt.Errorf("azblob: ContainerURL %s names no container", u)
	}
	return nil
}

// checkAccountName applies Azure's rule: 3 to 24 lowercase letters and
// digits.
func checkAccountName(s string) error {
	if len(s) < 3 || len(s) > 24 {
		return fmt.Errorf("storage account name %q must have 3 to 24 characters", s)
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return fmt.Errorf("storage account name %q may hold only lowercase letters and digits", s)
		}
	}
	return nil
}

// checkContainerName applies Azure's rule: 3 to 63 lowercase letters,
// digits and hyphens, starting and ending with a letter or digit, no two
// hyphens in a row. "$root" and "$web" are allowed too.
func checkContainerName(s string) error {
	if s == "$root" || s == "$web" {
		return nil
	}
	if len(s) < 3 || len(s) > 63 {
		return fmt.Errorf("container name %q must have 3 to 63 characters", s)
	}
	if s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return fmt.Errorf("container name %q must start and end with a letter or digit and have no two hyphens in a row", s)
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
			return fmt.Errorf("container name %q may hold only lowercase letters, digits and hyphens", s)
		}
	}
	return nil
}
