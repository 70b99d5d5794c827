package mask

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"
)

// Engine masks text, PostgreSQL values and JSON documents as its Config
// says. It is immutable after New and safe for concurrent use.
type Engine struct {
	on         [numKinds]bool
	anyBuiltin bool
	strategy   Strategy
	key        []byte
	hashers    sync.Pool // *hasher

	cls     [256]uint8 // scanning class of each byte
	wordAct [256]uint8 // actions on the first byte of a word
	kv      bool       // a key-value detector is on

	custom  []*customDetector
	columns []columnRule
	paths   *pathSet
}

// ErrWithhold says that a value cannot be masked and stay valid for its
// type. Value returns it (wrapped) for every failure; the caller must
// withhold the value (send NULL) and may count it.
var ErrWithhold = errors.New("mask: value withheld")

// New compiles cfg. Errors name the bad set, detector or rule.
func New(cfg Config) (*Engine, error) {
	e := &Engine{}
	var errs []error
	st, err := ParseStrategy(cfg.Strategy)
	if err != nil {
		errs = append(errs, fmt.Errorf("strategy: %w", err))
	}
	e.strategy = st
	usesKey := st.needsKey()

	for _, name := range cfg.Sets {
		ks, ok := sets[name]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown detector set %q (want one of %v)", name, Sets()))
			continue
		}
		for _, k := range ks {
			e.on[k] = true
		}
	}
	for _, name := range cfg.Detectors {
		k, ok := kindByName(name)
		if !ok {
			errs = append(errs, fmt.Errorf("unknown detector %q", name))
			continue
		}
		e.on[k] = true
	}
	seen := map[string]bool{}
	for _, c := range cfg.Custom {
		d, err := compileCustom(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[d.name] {
			errs = append(errs, fmt.Errorf("custom detector %q: defined twice", d.name))
			continue
		}
		seen[d.name] = true
		usesKey = usesKey || d.strategy.needsKey()
		e.custom = append(e.custom, d)
	}
	for i, c := range cfg.Columns {
		r, err := compileColumnRule(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("column rule %d %q: %w", i, c.Pattern, err))
			continue
		}
		usesKey = usesKey || r.strategy.needsKey()
		e.columns = append(e.columns, r)
	}
	if len(cfg.JSONPaths) > 0 {
		ps, err := compilePaths(cfg.JSONPaths)
		if err != nil {
			errs = append(errs, err)
		} else {
			e.paths = ps
			for _, r := range ps.rules {
				usesKey = usesKey || r.strategy.needsKey()
			}
		}
	}
	if usesKey && len(cfg.Key) < 16 {
		errs = append(errs, errors.New("the hash and fake strategies need a key of at least 16 bytes"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mask: %w", err)
	}
	e.key = slices.Clone(cfg.Key)
	e.buildTables()
	return e, nil
}

// buildTables fills the per-byte dispatch tables for the enabled detectors.
func (e *Engine) buildTables() {
	on := &e.on
	for k := range numKinds {
		e.anyBuiltin = e.anyBuiltin || on[k]
	}
	if on[kPhone] || on[kCard] || on[kSSN] || on[kIP] {
		for c := '0'; c <= '9'; c++ {
			e.wordAct[c] |= aNum
		}
	}
	if on[kIP] {
		for c := 0; c < 256; c++ {
			if is(byte(c), fHex) {
				e.wordAct[c] |= aV6
			}
		}
	}
	if on[kIBAN] {
		for c := 'A'; c <= 'Z'; c++ {
			e.wordAct[c] |= aIBAN
		}
	}
	for k, bs := range prefixBytes {
		if on[k] {
			for i := 0; i < len(bs); i++ {
				e.wordAct[bs[i]] |= aPrefix
			}
		}
	}
	e.kv = on[kConnPassword] || on[kAWSSecret] || on[kAzureKey] || on[kAzureConn] || on[kAzureSAS]
	words := e.kv
	for _, a := range e.wordAct {
		words = words || a != 0
	}
	if words {
		for c := 0; c < 256; c++ {
			if is(byte(c), fWord) {
				e.cls[c] = cWord
			}
		}
	}
	if on[kEmail] {
		e.cls['@'] = cAt
	}
	if on[kURLPassword] || on[kIP] {
		e.cls[':'] = cColon
	}
}

// Enabled reports whether the engine masks anything at all.
func (e *Engine) Enabled() bool {
	return e.detects() || len(e.columns) > 0 || e.paths != nil
}

// detects reports whether any detector (built-in or custom) is on.
func (e *Engine) detects() bool { return e.anyBuiltin || len(e.custom) > 0 }

// Detectors returns the names of the enabled detectors: built-in ones in
// the order of the package-level Detectors, then custom ones in config
// order.
func (e *Engine) Detectors() []string {
	var names []string
	for k := range numKinds {
		if e.on[k] {
			names = append(names, kindNames[k])
		}
	}
	for _, d := range e.custom {
		names = append(names, d.name)
	}
	return names
}

// Text appends src to dst with every detector hit masked and returns the
// extended buffer. src and dst must not overlap. When nothing matches, it
// copies src and allocates nothing beyond the growth of dst (custom
// detectors without a literal prefix or trigger allocate in the regexp
// package). A panic inside a detector is recovered and the whole of src is
// replaced by "[withheld]", so that nothing passes unmasked.
func (e *Engine) Text(dst, src []byte, c *Counts) (out []byte) {
	if !e.detects() {
		return append(dst, src...)
	}
	n0 := len(dst)
	defer func() {
		if r := recover(); r != nil {
			clear(dst[n0:cap(dst)])
			out = append(dst[:n0], withheldText...)
		}
	}()
	out, _ = e.scan(dst, src, c)
	return out
}

var withheldText = []byte("[withheld]")

// String returns s with every detector hit masked: s itself, with nothing
// allocated or copied, when no detector finds anything in it. Like Text, it
// withholds the whole of s if a detector panics.
func (e *Engine) String(s string) string {
	if !e.detects() {
		return s
	}
	// The detectors only read src, so it may share s's bytes.
	src := unsafe.Slice(unsafe.StringData(s), len(s))
	if e.clean(src) {
		return s
	}
	return string(e.Text(nil, src, nil))
}

// clean reports whether no detector finds anything in src; a detector that
// panics counts as a find.
func (e *Engine) clean(src []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return e.detect(src, nil) == 0
}
