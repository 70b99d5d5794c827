package journal

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// roundTrip sends a proof through JSON, as an auditor would receive it.
func roundTrip(t *testing.T, p *Proof) *Proof {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Proof
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	return &q
}

func TestProveRandomRecords(t *testing.T) {
	base := buildJournal(t, 300)
	r := rand.New(rand.NewPCG(3, 4))
	seqs := []uint64{1, 2, 255, 256, 257, 299, 300}
	for range 25 {
		seqs = append(seqs, 1+r.Uint64N(300))
	}
	for _, seq := range seqs {
		p, err := Prove(base.dir, seq, nil)
		if err != nil {
			t.Fatalf("Prove(%d): %v", seq, err)
		}
		if p.Seq != seq || p.LeafIndex != seq-1 || p.TreeSize != 300 {
			t.Fatalf("proof %d: %+v", seq, p)
		}
		if err := CheckProof(roundTrip(t, p), base.vkey); err != nil {
			t.Fatalf("CheckProof(%d): %v", seq, err)
		}
		rec, err := DecodeRecord(p.Payload)
		if err != nil || rec.Seq != seq {
			t.Fatalf("payload of %d: %v", seq, err)
		}
	}

	// Against an older checkpoint kept elsewhere.
	cf, err := readCheckpoints(base.dir)
	if err != nil {
		t.Fatal(err)
	}
	old := cf.entries[3].note
	oc, _ := parseCheckpointNote(old)
	p, err := Prove(base.dir, oc.Size, old)
	if err != nil || p.TreeSize != oc.Size {
		t.Fatalf("Prove against size %d: %+v, %v", oc.Size, p, err)
	}
	if err := CheckProof(roundTrip(t, p), base.vkey); err != nil {
		t.Fatal(err)
	}
	if _, err := Prove(base.dir, oc.Size+1, old); err == nil || !strings.Contains(err.Error(), "not covered") {
		t.Fatalf("Prove beyond the checkpoint = %v", err)
	}
	if _, err := Prove(base.dir, 0, nil); err == nil {
		t.Fatal("Prove(0) succeeded")
	}
}

func TestCheckProofRejects(t *testing.T) {
	base := buildJournal(t, 300)
	good, err := Prove(base.dir, 123, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Prove(base.dir, 124, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherVkey, err := note.GenerateKey(nil, DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(p *Proof)
		vkey   string
		wanted string
	}{
		{"altered record", func(p *Proof) {
			p.Payload = bytes.Replace(p.Payload, []byte("t-122"), []byte("t-999"), 1)
		}, base.vkey, "not in the tree"},
		{"another record's payload", func(p *Proof) { p.Payload = other.Payload }, base.vkey, "is record 124, not 123"},
		{"altered hash", func(p *Proof) { p.Hashes[2][7] ^= 1 }, base.vkey, "not in the tree"},
		{"missing hash", func(p *Proof) { p.Hashes = p.Hashes[:len(p.Hashes)-1] }, base.vkey, "not in the tree"},
		{"wrong size", func(p *Proof) { p.TreeSize = 299 }, base.vkey, "tree size 299"},
		{"wrong index", func(p *Proof) { p.LeafIndex = 5 }, base.vkey, "leaf index 5"},
		{"checkpoint signed by another key", func(p *Proof) {
			skey, _, _ := note.GenerateKey(nil, DefaultOrigin)
			signer, _ := note.NewSigner(skey)
			text, _ := splitNote([]byte(p.Checkpoint))
			msg, _ := note.Sign(&note.Note{Text: text}, signer)
			p.Checkpoint = string(msg)
		}, base.vkey, "not signed by"},
		{"edited checkpoint", func(p *Proof) {
			p.Checkpoint = strings.Replace(p.Checkpoint, "\n300\n", "\n301\n", 1)
		}, base.vkey, "invalid signature"},
		{"another verifier", func(p *Proof) {}, otherVkey, "not signed by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := roundTrip(t, good)
			tc.edit(p)
			err := CheckProof(p, tc.vkey)
			if err == nil || !strings.Contains(err.Error(), tc.wanted) {
				t.Fatalf("CheckProof = %v, want %q", err, tc.wanted)
			}
		})
	}
	if err := CheckProof(roundTrip(t, good), base.vkey); err != nil {
		t.Fatalf("the unedited proof: %v", err)
	}
}

func TestProveRefusesAlteredJournal(t *testing.T) {
	base := buildJournal(t, 300)
	dir := copyDir(t, base.dir)
	forge(t, dir, func(r *Record) bool { return r.Seq == 100 && rename(r) })
	if _, err := Prove(dir, 100, nil); err == nil || !strings.Contains(err.Error(), "does not match the checkpoint") {
		t.Fatalf("Prove on a forged journal = %v", err)
	}
	// A record before the forgery proves against an older checkpoint, and
	// fails against the newest (its path runs through forged subtrees).
	if _, err := Prove(dir, 5, nil); err == nil {
		t.Fatal("Prove(5) against the newest checkpoint of a forged journal succeeded")
	}
}
