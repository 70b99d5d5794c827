package postgres

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// encodeTime returns t for a timestamptz parameter, or nil (NULL) for the
// zero time.
func encodeTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// decodeTime returns a scanned timestamptz in UTC, or the zero time for NULL.
func decodeTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// encodeSeq returns a journal sequence number as a bigint.
func encodeSeq(n uint64) (int64, error) {
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("sequence number %d is too large to store", n)
	}
	return int64(n), nil
}

// uniqueViolation is the SQLSTATE of a primary key or unique violation.
const uniqueViolation = "23505"

// errorCode returns the SQLSTATE of err, or "".
func errorCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// clean returns s as a PostgreSQL text column can hold it: each run of
// invalid UTF-8 and each NUL byte, which PostgreSQL rejects, becomes U+FFFD.
// Valid text is returned as it is, without copying.
func clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// cleanArgs applies clean to the strings in args, including the elements of
// string slices, and returns args. Slices that need a change are copied, so
// the caller's records are never modified.
func cleanArgs(args []any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = clean(v)
		case []string:
			for j, s := range v {
				if c := clean(s); c != s {
					v = slices.Clone(v)
					for k := j; k < len(v); k++ {
						v[k] = clean(v[k])
					}
					args[i] = v
					break
				}
			}
		case []*string:
			for j, p := range v {
				if p != nil && clean(*p) != *p {
					v = slices.Clone(v)
					for k := j; k < len(v); k++ {
						if v[k] != nil {
							c := clean(*v[k])
							v[k] = &c
						}
					}
					args[i] = v
					break
				}
			}
		}
	}
	return args
}
