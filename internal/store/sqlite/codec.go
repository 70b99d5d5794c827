package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/mattn/go-sqlite3"
)

// The range of times that unix nanoseconds in an int64 can hold.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// encodeTime returns t as unix nanoseconds, or nil (NULL) for the zero time.
// A time that an int64 cannot hold is an error.
func encodeTime(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("time %v is outside the storable range %d..%d", t, minTime.Year(), maxTime.Year())
	}
	return t.UnixNano(), nil
}

// boundTime returns t as unix nanoseconds for a filter bound, clamped to the
// storable range so that a far past or future bound still compares.
func boundTime(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// decodeTime returns the UTC time of unix nanoseconds n, or the zero time for NULL.
func decodeTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// encodeList returns a slice as JSON text, or nil (NULL) for a nil slice.
func encodeList[T any](s []T) (any, error) {
	if s == nil {
		return nil, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// decodeList parses JSON text into a slice; NULL gives nil.
func decodeList[T any](s sql.NullString) ([]T, error) {
	if !s.Valid {
		return nil, nil
	}
	var out []T
	if err := json.Unmarshal([]byte(s.String), &out); err != nil {
		return nil, fmt.Errorf("decode %q: %w", s.String, err)
	}
	return out, nil
}

// isBusy reports whether err is SQLite's SQLITE_BUSY: another connection
// holds a lock this one needs.
func isBusy(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && e.Code == sqlite3.ErrBusy
}

// isDuplicate reports whether err is a primary key or unique violation.
func isDuplicate(err error) bool {
	var e sqlite3.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey || e.ExtendedCode == sqlite3.ErrConstraintUnique
}

// encodeSeq returns a journal sequence number as SQLite's signed integer.
func encodeSeq(n uint64) (int64, error) {
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("sequence number %d is too large to store", n)
	}
	return int64(n), nil
}
