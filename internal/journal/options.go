package journal

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SyncMode says when Append(durable=true) returns.
type SyncMode int

// The sync modes.
const (
	// SyncBatch returns once the record reached the operating system; a
	// background fsync follows within Options.FsyncInterval.
	SyncBatch SyncMode = iota
	// SyncAlways returns once the record is on disk (fsync). Concurrent
	// appenders share fsyncs.
	SyncAlways
)

// String returns "batch" or "always", as written in the configuration.
func (m SyncMode) String() string {
	switch m {
	case SyncBatch:
		return "batch"
	case SyncAlways:
		return "always"
	default:
		return fmt.Sprintf("SyncMode(%d)", int(m))
	}
}

// ParseSyncMode parses the configuration's audit.sync value; "" is SyncBatch.
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "", "batch":
		return SyncBatch, nil
	case "always":
		return SyncAlways, nil
	default:
		return 0, fmt.Errorf("journal: unknown sync mode %q (want batch or always)", s)
	}
}

// Defaults for the zero fields of Options.
const (
	DefaultOrigin             = "sluice/journal"
	DefaultSegmentBytes       = 64 << 20
	DefaultCheckpointEvery    = 10000
	DefaultCheckpointInterval = time.Second
	DefaultFsyncInterval      = 100 * time.Millisecond
	DefaultFlushDelay         = 2 * time.Millisecond
)

// MaxRecordBytes is the largest payload a record may have; Append refuses
// larger events.
const MaxRecordBytes = 32 << 20

// minSegmentBytes keeps tiny test segments sane.
const minSegmentBytes = 1024

// Options configure a Journal. The zero value of every field but Dir is
// useful.
type Options struct {
	// Dir is the journal directory (data_dir/journal). It is created with
	// mode 0700 if missing.
	Dir string
	// KeyFile is the Ed25519 signing key in note signer-key format. Empty
	// means DefaultKeyFile(Dir), which Open creates if it does not exist; a
	// configured KeyFile must exist.
	KeyFile string
	// Sync is SyncBatch (default) or SyncAlways.
	Sync SyncMode
	// SegmentBytes is the size at which a segment is closed and a new one
	// started. Default 64 MiB.
	SegmentBytes int64
	// CheckpointEvery is the number of new records after which a checkpoint
	// is signed. Default 10000.
	CheckpointEvery int
	// CheckpointInterval is the longest time new records go without a
	// checkpoint. Default 1s.
	CheckpointInterval time.Duration
	// FsyncInterval is, in SyncBatch mode, the longest time a record that
	// reached the operating system waits for its fsync. Default 100ms.
	FsyncInterval time.Duration
	// FlushDelay is the longest time a record appended with durable=false
	// waits in memory before it is written. Default 2ms.
	FlushDelay time.Duration
	// Origin is the first line of every checkpoint and the name of a newly
	// created key. Default "sluice/journal". It must not contain spaces or
	// "+".
	Origin string
	// Logger receives recoveries and write failures. Default: discard.
	Logger *slog.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time

	// fs opens the files that are written; tests replace it to make writes
	// fail. Default: the operating system.
	fs fileSystem
	// hooks let tests wait for background work instead of sleeping.
	hooks hooks
}

// hooks are called, when set, after background work; they must not block
// or call into the Journal.
type hooks struct {
	written    func(size uint64) // after a batch was written (size: records written)
	checkpoint func(size uint64) // after a checkpoint was written
}

// withDefaults returns o with its zero fields filled in, or an error naming
// the invalid field.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("journal: Options.Dir is empty")
	}
	if o.Sync != SyncBatch && o.Sync != SyncAlways {
		return o, fmt.Errorf("journal: unknown sync mode %d", int(o.Sync))
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentBytes < minSegmentBytes {
		return o, fmt.Errorf("journal: SegmentBytes %d is below the minimum %d", o.SegmentBytes, minSegmentBytes)
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.FsyncInterval <= 0 {
		o.FsyncInterval = DefaultFsyncInterval
	}
	if o.FlushDelay <= 0 {
		o.FlushDelay = DefaultFlushDelay
	}
	if o.Origin == "" {
		o.Origin = DefaultOrigin
	}
	if !validName(o.Origin) {
		return o, fmt.Errorf("journal: origin %q must be non-empty UTF-8 without spaces or '+'", o.Origin)
	}
	if o.KeyFile == "" {
		o.KeyFile = DefaultKeyFile(o.Dir)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.fs == nil {
		o.fs = osFS{}
	}
	return o, nil
}

// validName reports whether s can be a note key name and a checkpoint origin.
func validName(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsSpace) &&
		!strings.ContainsFunc(s, unicode.IsControl) && !strings.Contains(s, "+")
}
