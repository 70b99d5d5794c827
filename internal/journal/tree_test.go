package journal

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TestTreeMatchesCompactRange checks the allocation-free tree against the
// transparency-dev compact range and RFC 6962 hasher for every size up to
// 300.
func TestTreeMatchesCompactRange(t *testing.T) {
	h := newHasher()
	var st treeState
	cr := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for size := 0; size <= 300; size++ {
		want, err := cr.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		if size == 0 {
			want = rfc6962.DefaultHasher.EmptyRoot()
		}
		if got := st.root(h); !bytes.Equal(got[:], want) {
			t.Fatalf("size %d: root %x, want %x", size, got, want)
		}
		if got, want := st.rangeHashes(), cr.Hashes(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("size %d: range differs", size)
		}
		rt, err := treeFromRange(st.size, st.rangeHashes(), st.last[:])
		if err != nil || rt.root(h) != st.root(h) {
			t.Fatalf("size %d: treeFromRange: %v", size, err)
		}
		leaf := []byte(fmt.Sprintf("leaf %d", size))
		st.append(h.leaf(leaf), h)
		if err := cr.Append(rfc6962.DefaultHasher.HashLeaf(leaf), nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(st.last[:], rfc6962.DefaultHasher.HashLeaf(leaf)) || !bytes.Equal(LeafHash(leaf), st.last[:]) {
			t.Fatalf("size %d: leaf hash", size)
		}
	}
	if _, err := treeFromRange(5, [][]byte{make([]byte, 32)}, make([]byte, 32)); err == nil {
		t.Fatal("treeFromRange accepted a short range")
	}
}

func TestCheckpointTextRoundTrip(t *testing.T) {
	h := newHasher()
	var st treeState
	for i := range 13 {
		st.append(h.leaf([]byte{byte(i)}), h)
	}
	root := st.root(h)
	c := &checkpoint{Origin: "o", Size: 13, Root: root[:], Time: time.Unix(1, 5).UTC(), Last: st.last[:], Range: st.rangeHashes()}
	got, err := parseCheckpointText(c.body())
	if err != nil {
		t.Fatal(err)
	}
	if got.body() != c.body() {
		t.Fatalf("round trip:\n%s\n%s", got.body(), c.body())
	}
	empty := &checkpoint{Origin: "o", Root: emptyRoot[:], Time: time.Unix(1, 0).UTC()}
	if _, err := parseCheckpointText(empty.body()); err != nil {
		t.Fatalf("size 0: %v", err)
	}
	body := c.body()
	for name, bad := range map[string]string{
		"two lines":       "o\n13\n",
		"size":            strings.Replace(body, "\n13\n", "\n013\n", 1),
		"no time":         strings.Replace(body, "time ", "tine ", 1),
		"range count":     strings.Replace(body, "range ", "range "+b64.EncodeToString(root[:])+" ", 1),
		"root":            strings.Replace(body, b64.EncodeToString(root[:]), b64.EncodeToString(st.last[:]), 1),
		"no newline":      strings.TrimSuffix(body, "\n"),
		"empty line":      body + "\nx\n",
		"unknown is fine": "",
	} {
		if bad == "" {
			if _, err := parseCheckpointText(body + "future ext\n"); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if _, err := parseCheckpointText(bad); err == nil {
			t.Errorf("%s: accepted\n%s", name, bad)
		}
	}
}
