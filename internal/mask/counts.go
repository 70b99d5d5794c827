package mask

import (
	"iter"
	"slices"
)

// Counts counts masked values per detector (and per kind of rule:
// "column_rule", "json_path_rule"). The zero value is empty and ready to
// use; a nil *Counts counts nothing. A Counts is not safe for concurrent
// use: give each result stream its own and Merge them.
type Counts struct {
	n      [numCounters]uint64
	custom []namedCount // custom detectors, in order of first hit
}

type namedCount struct {
	name string
	n    uint64
}

func (c *Counts) add(k kind) {
	if c != nil {
		c.n[k]++
	}
}

func (c *Counts) addNamed(name string) {
	if c == nil {
		return
	}
	for i := range c.custom {
		if c.custom[i].name == name {
			c.custom[i].n++
			return
		}
	}
	c.custom = append(c.custom, namedCount{name, 1})
}

// Add counts n more under name, for the caller's own events (such as values
// it withheld because masking them failed).
func (c *Counts) Add(name string, n uint64) {
	if c == nil || n == 0 {
		return
	}
	for i := range c.custom {
		if c.custom[i].name == name {
			c.custom[i].n += n
			return
		}
	}
	c.custom = append(c.custom, namedCount{name, n})
}

// Reset sets every count to zero, keeping the memory.
func (c *Counts) Reset() {
	c.n = [numCounters]uint64{}
	c.custom = c.custom[:0]
}

// Merge adds the counts of o to c.
func (c *Counts) Merge(o *Counts) {
	if o == nil {
		return
	}
	for k, n := range o.n {
		c.n[k] += n
	}
	for _, nc := range o.custom {
		found := false
		for i := range c.custom {
			if c.custom[i].name == nc.name {
				c.custom[i].n += nc.n
				found = true
				break
			}
		}
		if !found && nc.n > 0 {
			c.custom = append(c.custom, nc)
		}
	}
}

// Total returns the number of masked values.
func (c *Counts) Total() uint64 {
	if c == nil {
		return 0
	}
	var t uint64
	for _, n := range c.n {
		t += n
	}
	for _, nc := range c.custom {
		t += nc.n
	}
	return t
}

// Get returns the count of one detector or rule counter by name.
func (c *Counts) Get(name string) uint64 {
	if c == nil {
		return 0
	}
	for k, n := range kindNames {
		if n == name {
			return c.n[k]
		}
	}
	for _, nc := range c.custom {
		if nc.name == name {
			return nc.n
		}
	}
	return 0
}

// All yields the non-zero counts as (name, n) pairs: built-in detectors
// in the order of Detectors, then the rule counters, then custom
// detectors sorted by name.
func (c *Counts) All() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		if c == nil {
			return
		}
		for k, n := range c.n {
			if n > 0 && !yield(kindNames[k], n) {
				return
			}
		}
		cs := slices.Clone(c.custom)
		slices.SortFunc(cs, func(a, b namedCount) int {
			switch {
			case a.name < b.name:
				return -1
			case a.name > b.name:
				return 1
			}
			return 0
		})
		for _, nc := range cs {
			if nc.n > 0 && !yield(nc.name, nc.n) {
				return
			}
		}
	}
}

// Map returns the non-zero counts as a new map.
func (c *Counts) Map() map[string]uint64 {
	m := make(map[string]uint64)
	for name, n := range c.All() {
		m[name] = n
	}
	return m
}
