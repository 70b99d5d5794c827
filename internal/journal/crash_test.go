package journal

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "SLUICE_JOURNAL_CRASH_CHILD"

// crashChild is the child process of TestKill9: it appends durable records
// from several goroutines and prints "seq tag" for each Append that
// returned, until it is killed.
func crashChild() {
	dir, mode := os.Getenv(crashChildEnv), os.Getenv(crashChildEnv+"_MODE")
	sm, _ := ParseSyncMode(mode)
	j, err := Open(context.Background(), Options{Dir: dir, Sync: sm, SegmentBytes: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				tag := fmt.Sprintf("w%d-%d", w, i)
				seq, err := j.Append(context.Background(), testEvent(tag), true)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(3)
				}
				line := fmt.Appendf(nil, "%d %s\n", seq, tag)
				mu.Lock()
				os.Stdout.Write(line) // one write(2) per line: a pipe never splits it
				mu.Unlock()
			}
		}()
	}
	select {}
}

func TestKill9(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, mode := range []SyncMode{SyncBatch, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashChildEnv+"_MODE="+mode.String())
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			reported := map[uint64]string{}
			sc := bufio.NewScanner(stdout)
			killed := false
			for sc.Scan() {
				seq, tag, ok := strings.Cut(sc.Text(), " ")
				n, err := strconv.ParseUint(seq, 10, 64)
				if !ok || err != nil {
					t.Fatalf("child printed %q", sc.Text())
				}
				reported[n] = tag
				if len(reported) == 3000 && !killed {
					// Mid-stream: appends are in flight in all 8 goroutines.
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					killed = true
				}
			}
			err = cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child ended with %v, not by SIGKILL", err)
			}

			// Recovery: every record whose Append returned is there, as written.
			o := Options{Dir: dir, Sync: mode, SegmentBytes: 64 << 10}
			start := time.Now()
			j, err := Open(context.Background(), o)
			if err != nil {
				t.Fatalf("Open after kill -9: %v", err)
			}
			t.Logf("recovered %d records (%d reported) in %v", j.Size(), len(reported), time.Since(start))
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			recs := scanAll(t, dir)
			for seq, tag := range reported {
				if seq > uint64(len(recs)) {
					t.Fatalf("reported seq %d lost: the journal has %d records", seq, len(recs))
				}
				if got := recs[seq-1].Event.Reason; got != tag {
					t.Fatalf("seq %d holds %q, the child appended %q", seq, got, tag)
				}
			}
			vkey, err := VerifierKey(DefaultKeyFile(dir))
			if err != nil {
				t.Fatal(err)
			}
			r := mustVerify(t, dir, vkey, VerifyOptions{})
			if r.Last < uint64(len(reported)) || r.Segments < 2 {
				t.Fatalf("report %+v", r)
			}
		})
	}
}
