package journal

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Proof shows that one record is in the journal's Merkle tree as of a
// signed checkpoint. It is self-contained: CheckProof needs only the proof
// and the verifier key. It marshals to JSON (byte fields as standard
// base64).
type Proof struct {
	Seq       uint64 `json:"seq"`
	LeafIndex uint64 `json:"leaf_index"` // Seq-1
	TreeSize  uint64 `json:"tree_size"`
	// Payload is the record exactly as stored and hashed (DecodeRecord
	// reads it).
	Payload []byte `json:"payload"`
	// Hashes is the RFC 6962 inclusion proof, from the leaf up.
	Hashes [][]byte `json:"hashes"`
	// Checkpoint is the signed checkpoint note whose root the proof leads to.
	Checkpoint string `json:"checkpoint"`
}

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// Prove builds the inclusion proof of record seq against checkpoint, a
// signed checkpoint note (nil: the newest in dir). It reads the records from
// the oldest segment kept up to the checkpoint's size, so it works after
// retention for every record still kept. It checks the proof before
// returning it; a journal that no longer matches the checkpoint is an error.
func Prove(dir string, seq uint64, checkpoint []byte) (*Proof, error) {
	cf, err := readCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	if checkpoint == nil {
		if len(cf.entries) == 0 {
			return nil, errors.New("journal: prove: no checkpoint in the journal")
		}
		checkpoint = cf.entries[len(cf.entries)-1].note
	}
	c, err := parseCheckpointNote(checkpoint)
	if err != nil {
		return nil, fmt.Errorf("journal: prove: checkpoint: %w", err)
	}
	if seq == 0 || seq > c.Size {
		return nil, fmt.Errorf("journal: prove: record %d is not covered by the checkpoint at size %d", seq, c.Size)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, errors.New("journal: prove: no segments")
	}
	cut := segs[0].first - 1
	if seq <= cut {
		return nil, fmt.Errorf("journal: prove: record %d was removed by retention (the journal starts at seq %d)", seq, cut+1)
	}
	nodes, err := proof.Inclusion(seq-1, c.Size)
	if err != nil {
		return nil, fmt.Errorf("journal: prove: %w", err)
	}
	b := &proofBuilder{index: seq - 1, size: c.Size}
	if err := b.init(nodes.IDs, cut, cf); err != nil {
		return nil, err
	}
	if err := b.read(segs); err != nil {
		return nil, err
	}
	hashes, err := nodes.Rehash(b.hashes, hashChildren)
	if err != nil {
		return nil, fmt.Errorf("journal: prove: %w", err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, seq-1, c.Size, LeafHash(b.payload), hashes, c.Root); err != nil {
		return nil, fmt.Errorf("journal: prove: record %d does not match the checkpoint at size %d (run verify): %w", seq, c.Size, err)
	}
	return &Proof{Seq: seq, LeafIndex: seq - 1, TreeSize: c.Size, Payload: b.payload,
		Hashes: hashes, Checkpoint: string(checkpoint)}, nil
}

// proofBuilder computes the hashes of the nodes an inclusion proof needs in
// one pass over the records: each node is a perfect subtree, and the nodes
// do not overlap, so each leaf feeds at most one of them.
type proofBuilder struct {
	index, size uint64
	hashes      [][]byte      // by position in the proof's node list
	open        []nodeBuilder // nodes still being built, ordered by begin
	payload     []byte        // the proven record
}

type nodeBuilder struct {
	pos        int
	begin, end uint64
	r          *compact.Range
}

// init takes the nodes wholly before the retention cut from the checkpoint
// at the cut, and starts the others (seeded with the part before the cut).
func (b *proofBuilder) init(ids []compact.NodeID, cut uint64, cf *ckFile) error {
	b.hashes = make([][]byte, len(ids))
	var cutIDs []compact.NodeID
	var cutHashes [][]byte
	if cut > 0 {
		c, err := findCheckpoint(cf, cut)
		if err != nil {
			return err
		}
		cutIDs, cutHashes = compact.RangeNodes(0, cut, nil), c.Range
	}
	hashOf := func(id compact.NodeID) ([]byte, error) {
		if i := slices.Index(cutIDs, id); i >= 0 {
			return cutHashes[i], nil
		}
		return nil, fmt.Errorf("journal: prove: node %d/%d lies before the retention cut", id.Level, id.Index)
	}
	for pos, id := range ids {
		begin, end := id.Coverage()
		switch {
		case end <= cut:
			h, err := hashOf(id)
			if err != nil {
				return err
			}
			b.hashes[pos] = h
		case begin < cut:
			var seed [][]byte
			for _, sub := range compact.RangeNodes(begin, cut, nil) {
				h, err := hashOf(sub)
				if err != nil {
					return err
				}
				seed = append(seed, h)
			}
			r, err := rangeFactory.NewRange(begin, cut, seed)
			if err != nil {
				return fmt.Errorf("journal: prove: %w", err)
			}
			b.open = append(b.open, nodeBuilder{pos: pos, begin: begin, end: end, r: r})
		default:
			b.open = append(b.open, nodeBuilder{pos: pos, begin: begin, end: end, r: rangeFactory.NewEmptyRange(begin)})
		}
	}
	slices.SortFunc(b.open, func(x, y nodeBuilder) int {
		if x.begin < y.begin {
			return -1
		}
		return 1
	})
	return nil
}

// findCheckpoint returns the checkpoint of size n in the checkpoints file.
func findCheckpoint(cf *ckFile, n uint64) (*checkpoint, error) {
	for i := len(cf.entries) - 1; i >= 0; i-- {
		c, err := parseCheckpointNote(cf.entries[i].note)
		if err == nil && c.Size == n {
			return c, nil
		}
	}
	return nil, fmt.Errorf("journal: no checkpoint at the retention cut (size %d)", n)
}

// read feeds the leaves from the oldest segment up to the tree size.
func (b *proofBuilder) read(segs []segInfo) error {
	hs := newHasher()
	expect := segs[0].first
	for _, si := range segs {
		if expect > b.size {
			break
		}
		s, err := openSegment(si.path)
		if err != nil {
			return fmt.Errorf("journal: prove: %w", err)
		}
		err = b.readSegment(s, hs, &expect)
		s.Close()
		if err != nil {
			return err
		}
	}
	if expect <= b.size {
		return fmt.Errorf("journal: prove: the journal ends at seq %d, before the checkpoint's size %d", expect-1, b.size)
	}
	for _, n := range b.open {
		if b.hashes[n.pos] == nil {
			return fmt.Errorf("journal: prove: node for leaves %d-%d incomplete", n.begin, n.end-1)
		}
	}
	return nil
}

func (b *proofBuilder) readSegment(s *segReader, hs *hasher, expect *uint64) error {
	if s.first != *expect {
		return fmt.Errorf("journal: prove: seq %d: missing (segment %s starts at seq %d)", *expect, s.name(), s.first)
	}
	for *expect <= b.size {
		p, off, err := s.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("journal: prove: seq %d (%s, offset %d): %w", *expect, s.name(), off, err)
		}
		e, err := parseEnvelope(p)
		if err != nil || e.seq != *expect {
			return fmt.Errorf("journal: prove: seq %d (%s, offset %d): not the expected record", *expect, s.name(), off)
		}
		i := e.seq - 1
		*expect++
		if i == b.index {
			b.payload = append([]byte(nil), p...)
			continue
		}
		for len(b.open) > 0 && b.open[0].end <= i {
			b.open = b.open[1:]
		}
		if len(b.open) == 0 || b.open[0].begin > i {
			continue
		}
		n := &b.open[0]
		leaf := hs.leaf(p)
		if err := n.r.Append(leaf[:], nil); err != nil {
			return fmt.Errorf("journal: prove: %w", err)
		}
		if n.r.End() == n.end {
			roots := n.r.Hashes()
			if len(roots) != 1 {
				return fmt.Errorf("journal: prove: node for leaves %d-%d has %d hashes", n.begin, n.end-1, len(roots))
			}
			b.hashes[n.pos] = roots[0]
		}
	}
	return nil
}

// CheckProof checks a proof with nothing but the verifier key: the
// checkpoint's signature, that the payload is record Seq, and that the
// proof leads from the payload's leaf hash to the checkpoint's root.
func CheckProof(p *Proof, verifierKey string) error {
	v, err := NewVerifier(verifierKey)
	if err != nil {
		return err
	}
	c, err := openCheckpoint([]byte(p.Checkpoint), v)
	if err != nil {
		return fmt.Errorf("journal: proof checkpoint: %w", err)
	}
	if p.TreeSize != c.Size {
		return fmt.Errorf("journal: proof is for tree size %d, its checkpoint has size %d", p.TreeSize, c.Size)
	}
	if p.Seq == 0 || p.LeafIndex != p.Seq-1 {
		return fmt.Errorf("journal: proof leaf index %d does not belong to seq %d", p.LeafIndex, p.Seq)
	}
	rec, err := DecodeRecord(p.Payload)
	if err != nil {
		return fmt.Errorf("journal: proof payload: %w", err)
	}
	if rec.Seq != p.Seq || rec.Event.Seq != p.Seq {
		return fmt.Errorf("journal: proof payload is record %d, not %d", rec.Seq, p.Seq)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.LeafIndex, p.TreeSize, LeafHash(p.Payload), p.Hashes, c.Root); err != nil {
		return fmt.Errorf("journal: record %d is not in the tree of the checkpoint at size %d: %w", p.Seq, p.TreeSize, err)
	}
	return nil
}
