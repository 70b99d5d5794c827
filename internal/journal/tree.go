package journal

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"math/bits"
)

// hashSize is the size of every hash in the journal (SHA-256).
const hashSize = sha256.Size

// digest is one SHA-256 hash.
type digest = [hashSize]byte

// emptyRoot is the RFC 6962 root of the empty tree: SHA-256 of nothing.
var emptyRoot = digest(sha256.Sum256(nil))

// hasher computes RFC 6962 leaf and node hashes without allocating. It is not
// safe for concurrent use; each owner keeps its own.
type hasher struct {
	h    hash.Hash
	node [1 + 2*hashSize]byte
	sum  [hashSize]byte
}

var leafPrefix = [1]byte{0}

func newHasher() *hasher {
	return &hasher{h: sha256.New()}
}

// leaf returns SHA-256(0x00 || payload).
func (h *hasher) leaf(payload []byte) digest {
	h.h.Reset()
	h.h.Write(leafPrefix[:])
	h.h.Write(payload)
	h.h.Sum(h.sum[:0])
	return h.sum
}

// children returns SHA-256(0x01 || l || r).
func (h *hasher) children(l, r *digest) digest {
	h.node[0] = 1
	copy(h.node[1:], l[:])
	copy(h.node[1+hashSize:], r[:])
	return sha256.Sum256(h.node[:])
}

// LeafHash returns the RFC 6962 leaf hash of a record payload,
// SHA-256(0x00 || payload): the value the next record's prev holds and the
// tree is built from.
func LeafHash(payload []byte) []byte {
	d := newHasher().leaf(payload)
	return d[:]
}

// hashChildren is children for callers that hold slices (the merkle
// packages).
func hashChildren(l, r []byte) []byte {
	var b [1 + 2*hashSize]byte
	b[0] = 1
	copy(b[1:], l)
	copy(b[1+hashSize:], r)
	s := sha256.Sum256(b[:])
	return s[:]
}

// treeState is the compact range [0, size) of the journal's Merkle tree: the
// roots of the perfect subtrees that cover the leaves, largest (leftmost)
// first, one per set bit of size. It is the state the writer extends with
// every record and rolls back after a failed write; appending never
// allocates. The zero value is the empty tree.
type treeState struct {
	size  uint64
	n     int
	nodes [64]digest
	last  digest // leaf hash of record size; zero when size is 0
	ts    int64  // record time of record size, Unix nanoseconds
}

// append adds a leaf to the tree.
func (t *treeState) append(leaf digest, h *hasher) {
	node := leaf
	for s := t.size; s&1 == 1; s >>= 1 {
		t.n--
		node = h.children(&t.nodes[t.n], &node)
	}
	t.nodes[t.n] = node
	t.n++
	t.size++
	t.last = leaf
}

// root returns the RFC 6962 root hash of the tree.
func (t *treeState) root(h *hasher) digest {
	if t.n == 0 {
		return emptyRoot
	}
	r := t.nodes[t.n-1]
	for i := t.n - 2; i >= 0; i-- {
		r = h.children(&t.nodes[i], &r)
	}
	return r
}

// copyFrom makes t equal to o, copying only the hashes in use.
func (t *treeState) copyFrom(o *treeState) {
	t.size, t.n, t.last, t.ts = o.size, o.n, o.last, o.ts
	copy(t.nodes[:o.n], o.nodes[:o.n])
}

// rangeHashes returns copies of the compact range hashes, left to right.
func (t *treeState) rangeHashes() [][]byte {
	out := make([][]byte, t.n)
	for i := range t.n {
		out[i] = append([]byte(nil), t.nodes[i][:]...)
	}
	return out
}

// treeFromRange rebuilds a tree from a checkpoint's size, compact range and
// last leaf hash.
func treeFromRange(size uint64, hashes [][]byte, last []byte) (treeState, error) {
	var t treeState
	if want := bits.OnesCount64(size); len(hashes) != want {
		return t, fmt.Errorf("compact range of size %d has %d hashes, want %d", size, len(hashes), want)
	}
	for i, h := range hashes {
		if len(h) != hashSize {
			return t, fmt.Errorf("compact range hash %d has %d bytes", i, len(h))
		}
		copy(t.nodes[i][:], h)
	}
	if size > 0 && len(last) != hashSize {
		return t, fmt.Errorf("last leaf hash has %d bytes", len(last))
	}
	t.size, t.n = size, len(hashes)
	copy(t.last[:], last)
	return t, nil
}

// b64 is the standard base64 encoding, used for every hash in the journal.
var b64 = base64.StdEncoding
