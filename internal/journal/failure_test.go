package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// faultyFS is the operating system with switchable faults: writes and
// fsyncs of segments, writes of the checkpoints file, creation of segments.
type faultyFS struct {
	mu        sync.Mutex
	writeErr  error // segment WriteAt fails, after writing half of the bytes
	syncErr   error // segment Sync fails
	ckErr     error // checkpoints Write fails
	createErr error // creating a segment fails
}

func (fs *faultyFS) set(f func(fs *faultyFS)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f(fs)
}

func (fs *faultyFS) get() faultyFS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return faultyFS{writeErr: fs.writeErr, syncErr: fs.syncErr, ckErr: fs.ckErr, createErr: fs.createErr}
}

func (fs *faultyFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	if flag&os.O_CREATE != 0 && strings.HasSuffix(name, segSuffix) {
		if err := fs.get().createErr; err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{File: f, fs: fs, segment: strings.HasSuffix(name, segSuffix)}, nil
}

type faultyFile struct {
	*os.File
	fs      *faultyFS
	segment bool
}

func (f *faultyFile) WriteAt(b []byte, off int64) (int, error) {
	if err := f.fs.get().writeErr; err != nil && f.segment {
		n, _ := f.File.WriteAt(b[:len(b)/2], off) // a partial write, as a full disk does
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	return f.File.WriteAt(b, off)
}

func (f *faultyFile) Write(b []byte) (int, error) {
	if err := f.fs.get().ckErr; err != nil && !f.segment {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	return f.File.Write(b)
}

func (f *faultyFile) Sync() error {
	if err := f.fs.get().syncErr; err != nil && f.segment {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	return f.File.Sync()
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestFailClosedOnWriteError(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EROFS, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) {
			fs := &faultyFS{}
			o := testOptions(filepath.Join(t.TempDir(), "journal"))
			o.SegmentBytes = 1 << 20
			o.fs = fs
			j := openJournal(t, o)
			appendN(t, j, 10, "a", true)
			seg := segmentFiles(t, o.Dir)[0].path
			size := fileSize(t, seg)

			fs.set(func(fs *faultyFS) { fs.writeErr = errno })
			want := "journal: write segment 00000000000000000001.seg: " + errno.Error()
			if _, err := j.Append(context.Background(), testEvent("first"), true); err == nil || err.Error() != want {
				t.Fatalf("Append = %v, want %q", err, want)
			}
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() {
					// Non-durable appends wait for their write while the journal fails.
					_, errs[i] = j.Append(context.Background(), testEvent(fmt.Sprintf("x-%d", i)), i%2 == 0)
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err == nil || err.Error() != want || !errors.Is(err, errno) {
					t.Fatalf("Append %d = %v, want %q", i, err, want)
				}
			}
			if err := j.Err(); err == nil || err.Error() != want {
				t.Fatalf("Err = %v", err)
			}
			if got := fileSize(t, seg); got != size {
				t.Fatalf("segment is %d bytes after the failed writes, want %d (no partial record)", got, size)
			}
			if recs := scanAll(t, o.Dir); len(recs) != 10 {
				t.Fatalf("%d records after the failure", len(recs))
			}

			fs.set(func(fs *faultyFS) { fs.writeErr = nil })
			seq, err := j.Append(context.Background(), testEvent("after"), true)
			if err != nil || seq != 11 {
				t.Fatalf("Append after the fault = %d, %v", seq, err)
			}
			if err := j.Err(); err != nil {
				t.Fatalf("Err after recovery = %v", err)
			}
			appendN(t, j, 5, "b", false)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			r := mustVerify(t, o.Dir, j.VerifierKey(), VerifyOptions{})
			recs := scanAll(t, o.Dir)
			if r.Last != 16 || len(recs) != 16 || recs[10].Event.Reason != "after" || recs[15].Event.Reason != "b-4" {
				t.Fatalf("after recovery: %d records, report %+v", len(recs), r)
			}
		})
	}
}

func TestFailClosedOnFsyncError(t *testing.T) {
	fs := &faultyFS{}
	o := testOptions(filepath.Join(t.TempDir(), "journal"))
	o.Sync = SyncAlways
	o.fs = fs
	j := openJournal(t, o)
	appendN(t, j, 3, "a", true)
	seg := segmentFiles(t, o.Dir)[0].path
	size := fileSize(t, seg)
	fs.set(func(fs *faultyFS) { fs.syncErr = syscall.EIO })
	_, err := j.Append(context.Background(), testEvent("lost"), true)
	if want := "journal: fsync segment 00000000000000000001.seg: input/output error"; err == nil || err.Error() != want {
		t.Fatalf("Append = %v, want %q", err, want)
	}
	if got := fileSize(t, seg); got != size {
		t.Fatalf("segment is %d bytes, want %d: the unsynced record must be cut off", got, size)
	}
	fs.set(func(fs *faultyFS) { fs.syncErr = nil })
	if seq, err := j.Append(context.Background(), testEvent("ok"), true); err != nil || seq != 4 {
		t.Fatalf("Append = %d, %v", seq, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, o.Dir, j.VerifierKey(), VerifyOptions{})
}

func TestBackgroundFsyncFailureMakesAppendsSynchronous(t *testing.T) {
	fs := &faultyFS{}
	o := testOptions(filepath.Join(t.TempDir(), "journal"))
	o.fs = fs
	j := openJournal(t, o)
	appendN(t, j, 3, "a", true)
	fs.set(func(fs *faultyFS) { fs.syncErr = syscall.EIO })
	j.syncNow() // the background fsync of SyncBatch
	if err := j.Err(); err == nil || !strings.Contains(err.Error(), "fsync segment") {
		t.Fatalf("Err = %v", err)
	}
	// SyncBatch cannot keep its promise now: durable appends fsync and fail.
	if _, err := j.Append(context.Background(), testEvent("x"), true); err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("Append = %v", err)
	}
	fs.set(func(fs *faultyFS) { fs.syncErr = nil })
	if seq, err := j.Append(context.Background(), testEvent("y"), true); err != nil || seq != 4 {
		t.Fatalf("Append = %d, %v", seq, err)
	}
	if err := j.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	j.mu.Lock()
	degraded := j.degraded
	j.mu.Unlock()
	if degraded {
		t.Fatal("still fsyncing every batch after an fsync succeeded")
	}
}

func TestCheckpointFailureIsReported(t *testing.T) {
	fs := &faultyFS{}
	o := testOptions(filepath.Join(t.TempDir(), "journal"))
	o.fs = fs
	j := openJournal(t, o)
	appendN(t, j, 3, "a", true)
	ckPath := filepath.Join(o.Dir, checkpointsName)
	size := fileSize(t, ckPath)
	fs.set(func(fs *faultyFS) { fs.ckErr = syscall.ENOSPC })
	if err := j.checkpoint(); err == nil || err.Error() != "journal: write checkpoint: no space left on device" {
		t.Fatalf("checkpoint = %v", err)
	}
	if err := j.Err(); err == nil || !strings.Contains(err.Error(), "write checkpoint") {
		t.Fatalf("Err = %v", err)
	}
	if got := fileSize(t, ckPath); got != size {
		t.Fatalf("checkpoints file %d bytes, want %d (no partial note)", got, size)
	}
	appendN(t, j, 2, "b", true) // records are still accepted
	fs.set(func(fs *faultyFS) { fs.ckErr = nil })
	if err := j.checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := j.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, o.Dir, j.VerifierKey(), VerifyOptions{})
}

func TestRotationFailureKeepsWriting(t *testing.T) {
	fs := &faultyFS{}
	o := testOptions(filepath.Join(t.TempDir(), "journal"))
	o.fs = fs
	j := openJournal(t, o)
	fs.set(func(fs *faultyFS) { fs.createErr = syscall.EMFILE })
	appendN(t, j, 30, "a", true) // three segments' worth
	if err := j.Err(); err == nil || !strings.Contains(err.Error(), ".seg: too many open files") {
		t.Fatalf("Err = %v", err)
	}
	if n := len(segmentFiles(t, o.Dir)); n != 1 {
		t.Fatalf("%d segments", n)
	}
	fs.set(func(fs *faultyFS) { fs.createErr = nil })
	appendN(t, j, 1, "b", true)
	if err := j.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if segs := segmentFiles(t, o.Dir); len(segs) != 2 || segs[1].first != 32 {
		t.Fatalf("segments %+v", segs)
	}
	mustVerify(t, o.Dir, j.VerifierKey(), VerifyOptions{})
}

// TestFailClosedOnFullFilesystem fills a real (tmpfs) file system.
func TestFailClosedOnFullFilesystem(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	o := testOptions(filepath.Join(mnt, "journal"))
	o.SegmentBytes = 1 << 20
	j := openJournal(t, o)
	appendN(t, j, 5, "a", true)
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	seg := segmentFiles(t, o.Dir)[0].path
	var failed error
	var ok uint64 = 5
	for i := range 100 { // the segment's last page may still take a few records
		_, err := j.Append(context.Background(), testEvent(fmt.Sprintf("full-%d", i)), true)
		if err != nil {
			failed = err
			break
		}
		ok++
	}
	if failed == nil {
		t.Fatal("appends kept succeeding on a full file system")
	}
	want := "journal: write segment 00000000000000000001.seg: no space left on device"
	if failed.Error() != want || !errors.Is(failed, syscall.ENOSPC) {
		t.Fatalf("Append = %v, want %q", failed, want)
	}
	if err := j.Err(); err == nil || err.Error() != want {
		t.Fatalf("Err = %v", err)
	}
	recs := scanAll(t, o.Dir)
	if uint64(len(recs)) != ok {
		t.Fatalf("%d records on disk, %d appends succeeded", len(recs), ok)
	}
	size := fileSize(t, seg)
	if _, err := j.Append(context.Background(), testEvent("still full"), true); err == nil {
		t.Fatal("Append succeeded on a full file system")
	}
	if got := fileSize(t, seg); got != size {
		t.Fatalf("segment grew from %d to %d bytes on a failed append", size, got)
	}

	if err := os.Remove(filler); err != nil { // space returns
		t.Fatal(err)
	}
	seq, err := j.Append(context.Background(), testEvent("space again"), true)
	if err != nil || seq != ok+1 {
		t.Fatalf("Append after space returned = %d, %v", seq, err)
	}
	if err := j.checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := j.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustVerify(t, o.Dir, j.VerifierKey(), VerifyOptions{})
	if r.Last != ok+1 {
		t.Fatalf("report %+v", r)
	}
}
