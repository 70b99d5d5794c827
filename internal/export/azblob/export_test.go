package azblob

// SetListPageSize makes List ask for n names per request, so that tests
// exercise paging without thousands of blobs.
func SetListPageSize(s *Store, n int32) { s.pageSize = n }

// ParseURLEnv is ParseURL reading the environment from getenv.
func ParseURLEnv(u string, getenv func(string) string) (Config, error) { return parseURL(u, getenv) }

// Redact masks c's secrets in s as the Store's errors do.
func Redact(c Config, s string) string { return newRedactor(c).text(s) }
