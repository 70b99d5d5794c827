package journal

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logBuffer collects log output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// crashImage appends 30 durable records (checkpoints at 12 and 24, the
// segment ends) and copies the directory while the journal is still open:
// what a kill -9 leaves. Records 25-30 are not covered by a checkpoint.
func crashImage(t *testing.T) (dir, vkey string) {
	t.Helper()
	o := testOptions(filepath.Join(t.TempDir(), "journal"))
	j := openJournal(t, o)
	appendN(t, j, 30, "c", true)
	dir = copyDir(t, o.Dir)
	os.WriteFile(filepath.Join(filepath.Dir(dir), keyName), mustRead(t, filepath.Join(filepath.Dir(o.Dir), keyName)), 0o600)
	return dir, j.VerifierKey()
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func appendToFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

// reopen opens dir after a crash, checks its size and the log, appends one
// record, closes and verifies.
func reopen(t *testing.T, dir, vkey string, size uint64, logWant string) {
	t.Helper()
	var logs logBuffer
	o := testOptions(dir)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	j, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := j.Size(); got != size {
		t.Fatalf("Size after recovery = %d, want %d", got, size)
	}
	if !strings.Contains(logs.String(), logWant) {
		t.Fatalf("log %q does not mention %q", logs.String(), logWant)
	}
	if seq, err := j.Append(context.Background(), testEvent("after"), true); err != nil || seq != size+1 {
		t.Fatalf("Append after recovery = %d, %v", seq, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustVerify(t, dir, vkey, VerifyOptions{})
	if r.Last != size+1 || r.TornTail || r.Unsigned != 0 {
		t.Fatalf("report %+v", r)
	}
}

func TestRecoverTornFinalFrame(t *testing.T) {
	img, vkey := crashImage(t)
	tail := tailIn(segmentFiles(t, img)[2].path)
	next := frameBytes(frameOf(t, img, 30).payload) // a plausible next frame
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, dir string)
		size uint64
		log  string
	}{
		{"clean crash", func(t *testing.T, dir string) {}, 30, ""},
		{"half a frame", func(t *testing.T, dir string) { appendToFile(t, tail(dir), next[:len(next)/2]) }, 30, "cutting off a torn record"},
		{"half a header", func(t *testing.T, dir string) { appendToFile(t, tail(dir), next[:5]) }, 30, "frame header cut short"},
		{"zeros", func(t *testing.T, dir string) { appendToFile(t, tail(dir), make([]byte, 4096)) }, 30, "zero-length frame"},
		{"final frame garbled", func(t *testing.T, dir string) {
			f := frameOf(t, dir, 30)
			flipByte(t, f.path, f.off+frameHeadLen+50)
		}, 29, "CRC mismatch"},
		{"torn checkpoint", func(t *testing.T, dir string) {
			cf, _ := readCheckpoints(dir)
			last := cf.entries[len(cf.entries)-1].note
			appendToFile(t, filepath.Join(dir, checkpointsName), last[:len(last)-20])
		}, 30, "torn checkpoint"},
		{"interrupted segment creation", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, segmentName(31)), appendSegmentHeader(nil, 31)[:10], 0o600)
		}, 30, "creation was interrupted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, img)
			os.WriteFile(filepath.Join(filepath.Dir(dir), keyName), mustRead(t, filepath.Join(filepath.Dir(img), keyName)), 0o600)
			tc.edit(t, dir)
			reopen(t, dir, vkey, tc.size, tc.log)
		})
	}
}

// tail returns a function giving the path of the same segment in a copy.
func tailIn(path string) func(dir string) string {
	return func(dir string) string { return filepath.Join(dir, filepath.Base(path)) }
}

func TestRecoverRefusesDamage(t *testing.T) {
	img, _ := crashImage(t)
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, dir string)
		want string
	}{
		{"damage before the tail frame", func(t *testing.T, dir string) {
			f := frameOf(t, dir, 27)
			flipByte(t, f.path, f.off+frameHeadLen+50)
		}, "seq 27"},
		{"damage in a checkpointed record", func(t *testing.T, dir string) {
			f := frameOf(t, dir, 20)
			flipByte(t, f.path, f.off+frameHeadLen+50)
		}, "seq 20"},
		{"records missing under the checkpoint", func(t *testing.T, dir string) {
			f := frameOf(t, dir, 23)
			os.Truncate(f.path, f.off)
			for _, si := range segmentFiles(t, dir) {
				if si.first > 23 {
					os.Remove(si.path)
				}
			}
		}, "records end at seq 22, but the newest checkpoint covers 24"},
		{"a gap between segments", func(t *testing.T, dir string) {
			os.Remove(segmentFiles(t, dir)[1].path)
		}, "records 13-24 are missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, img)
			os.WriteFile(filepath.Join(filepath.Dir(dir), keyName), mustRead(t, filepath.Join(filepath.Dir(img), keyName)), 0o600)
			tc.edit(t, dir)
			_, err := Open(context.Background(), testOptions(dir))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
