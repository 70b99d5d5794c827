package s3

// SetListPageSize makes List read n names per request.
func SetListPageSize(s *Store, n int) { s.pageSize = n }

// SkipStat makes Put rely on the conditional write alone, without asking
// first whether the object exists.
func SkipStat(s *Store) { s.skipStat = true }

// ParseURLEnv is ParseURL with the environment given as a function.
var ParseURLEnv = parseURL
