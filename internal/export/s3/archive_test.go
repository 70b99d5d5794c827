package s3_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/export"
	"github.com/sluicehq/sluice/internal/export/s3"
	"github.com/sluicehq/sluice/internal/journal"
	"github.com/sluicehq/sluice/internal/testkit/s3server"
)

// TestArchive ships a journal into a bucket under Object Lock through a
// server that is down at first, then reads the copy back through an
// s3:// URL, as `sluice audit verify --from` does, and verifies it with
// the public key alone.
func TestArchive(t *testing.T) {
	ctx := t.Context()
	srv := s3server.Start(t)
	c := config(srv, "audit-archive", "sluice/prod-1/")
	c.ObjectLockMode, c.ObjectLockRetain = s3.Governance, time.Hour
	st := open(t, c)

	dir := t.TempDir()
	j, err := journal.Open(ctx, journal.Options{Dir: dir + "/journal", KeyFile: dir + "/journal.key",
		SegmentBytes: 16 << 10, CheckpointEvery: 25, CheckpointInterval: 5 * time.Millisecond, FsyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		ev := &sluice.Event{Time: time.Now(), Type: sluice.EventRequest, Session: "s1",
			Request: &sluice.Request{ID: fmt.Sprintf("s1/%d", i), Kind: sluice.KindSQL, Text: fmt.Sprintf("select %d, 'padding padding padding'", i)}}
		if _, err := j.Append(ctx, ev, true); err != nil {
			t.Fatal(err)
		}
	}
	vkey := j.VerifierKey()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	a := &export.Archive{Store: st, Dir: dir + "/journal", ChunkBytes: 2048}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Export(ctx, 1, math.MaxUint64); err == nil {
		t.Fatal("export with the server down succeeded")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	last, err := a.Export(ctx, 1, math.MaxUint64)
	if err != nil || last != 150 { // Close signs a checkpoint of all
		t.Fatalf("export: last %d, %v; want 150", last, err)
	}
	// Shipping again, in other chunks, writes nothing and fails nothing.
	again, err := (&export.Archive{Store: st, Dir: dir + "/journal", ChunkBytes: 999}).Export(ctx, 1, math.MaxUint64)
	if err != nil || again != last {
		t.Fatalf("export again: last %d, %v; want %d", again, err, last)
	}

	t.Setenv(s3.EnvAccessKey, srv.AccessKey)
	t.Setenv(s3.EnvSecretKey, srv.SecretKey)
	t.Setenv(s3.EnvSessionToken, "")
	rc, err := s3.ParseURL("s3://audit-archive/sluice/prod-1?insecure=1&region=" + srv.Region + "&endpoint=" + srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	reader := open(t, rc)
	out := t.TempDir()
	kept, err := export.Fetch(ctx, reader, out)
	if err != nil {
		t.Fatal(err)
	}
	v, err := journal.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := journal.Verify(out, v, journal.VerifyOptions{KeptCheckpoint: kept})
	if err != nil {
		t.Fatalf("verify the copy: %v", err)
	}
	if rep.Last != last || !rep.KeptChecked {
		t.Errorf("copy verified through %d (kept checkpoint checked: %v), want %d", rep.Last, rep.KeptChecked, last)
	}
}
