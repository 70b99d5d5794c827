package journal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzEnvelope checks that the fast envelope parser agrees with
// encoding/json on every payload the writer can produce.
func FuzzEnvelope(f *testing.F) {
	f.Add(uint64(1), int64(0), false, "reason")
	f.Add(uint64(1<<63), int64(-1), true, "\"},\"seq\":2,\"x\":{\"")
	f.Fuzz(func(t *testing.T, seq uint64, ts int64, withPrev bool, reason string) {
		if seq == 0 {
			return
		}
		ev := testEvent(reason)
		body, err := appendEventBody(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		var prev []byte
		if withPrev {
			prev = LeafHash([]byte(reason))
		}
		p := appendPayload(nil, seq, ts, prev, body)
		e, err := parseEnvelope(p)
		if err != nil {
			t.Fatalf("parseEnvelope: %v", err)
		}
		rec, err := DecodeRecord(p)
		if err != nil {
			t.Fatalf("DecodeRecord: %v", err)
		}
		if e.seq != rec.Seq || e.ts != rec.Time.UnixNano() || !bytes.Equal(e.prev, rec.Prev) ||
			rec.Event.Seq != seq || rec.Event.Reason != reasonAsDecoded(reason) {
			t.Fatalf("fast %+v, json %+v", e, rec)
		}
	})
}

// reasonAsDecoded is what a string becomes after a JSON round trip (each
// byte of invalid UTF-8 turns into U+FFFD, as in a []rune conversion).
func reasonAsDecoded(s string) string { return string([]rune(s)) }

// FuzzReaders feeds arbitrary bytes to the segment, record and checkpoint
// parsers (through Scan, Verify and Open's reader): they must fail cleanly.
func FuzzReaders(f *testing.F) {
	seg := appendSegmentHeader(nil, 1)
	p := appendPayload(nil, 1, 5, nil, []byte(`"time":"0001-01-01T00:00:00Z","type":"x"}`))
	f.Add(append(seg, frameBytes(p)...), []byte("sluice/journal\n1\nAAAA\n\n— x AAAA\n\n"))
	f.Add(seg[:10], []byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 2026-01-01T00:00:00Z\n\n— k AAAAAAAA\n\n"))
	_, vkey, err := GenerateKey(DefaultOrigin)
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, segment, checkpoints []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), segment, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, checkpointsName), checkpoints, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = Scan(dir, 0, func(r *Record) error { return nil })
		_, _ = Verify(dir, v, VerifyOptions{})
		_, _ = Prove(dir, 1, nil)
		if cf, err := readCheckpoints(dir); err == nil {
			for _, e := range cf.entries {
				_, _ = parseCheckpointNote(e.note)
			}
		}
	})
}
