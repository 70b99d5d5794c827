package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Source supplies what Parse needs from outside the file: environment
// variables and secret files. Load uses the process environment and the file
// system; tests supply their own.
type Source struct {
	Getenv   func(name string) (string, bool)
	ReadFile func(path string) ([]byte, error)
}

// Load reads, parses, resolves and validates the configuration at path. On
// any problem it returns a Problems error listing all of them.
func Load(path string) (*Config, error) { return load(path, false) }

// LoadOffline is Load for the commands that work on local state without
// reaching any target (tokens, audit): the connections' credentials may be
// unresolvable there (their environment variables unset, their files
// unreadable) and are left empty instead of being problems.
func LoadOffline(path string) (*Config, error) { return load(path, true) }

func load(path string, offline bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, ps := Parse(data, filepath.Dir(abs), Source{Getenv: os.LookupEnv, ReadFile: os.ReadFile})
	if offline && cfg != nil {
		ps = ps.without(cfg.targetCredentials())
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return cfg, nil
}

// targetCredentials lists the keys of the credentials sluice uses to reach
// its targets, sinks, notifiers and the console's issuer.
func (c *Config) targetCredentials() map[string]bool {
	keys := map[string]bool{"console.oidc.client_secret": true}
	m := map[string]*Secret{}
	for i := range c.Connections {
		keys[fmt.Sprintf("connections[%d].password", i)] = true
		c.Connections[i].HTTPConnection.secrets(m, fmt.Sprintf("connections[%d]", i))
	}
	c.sinkSecrets(m)
	for k := range m {
		keys[k] = true
	}
	for i := range c.Reviews.Notify {
		keys[fmt.Sprintf("reviews.notify[%d].token", i)] = true
		keys[fmt.Sprintf("reviews.notify[%d].secret", i)] = true
	}
	return keys
}

// Parse turns YAML into a resolved, defaulted and validated Config. Relative
// paths are resolved against baseDir. It returns every problem found; the
// Config is nil when the YAML itself could not be decoded.
func Parse(data []byte, baseDir string, src Source) (*Config, Problems) {
	var ps Problems
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		ps.add("", "not valid YAML: %v", err)
		return nil, ps
	}
	cfg := &Config{}
	if root.Kind == 0 { // empty document
		cfg.ApplyDefaults()
		return cfg, append(ps, cfg.Validate()...)
	}
	doc := root.Content[0]
	expandEnv(doc, "", src.Getenv, &ps)
	checkKeys(doc, reflect.TypeOf(Config{}), "", &ps)
	if err := doc.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				ps.add("", "%s", strings.TrimPrefix(e, "yaml: "))
			}
		} else {
			ps.add("", "%v", err)
		}
	}
	cfg.resolveSecrets(baseDir, src.ReadFile, &ps)
	cfg.resolvePaths(baseDir)
	cfg.ApplyDefaults()
	return cfg, append(ps, cfg.Validate()...)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} in every scalar value with the environment
// variable's value. It works on the parsed tree, so a value can never change
// the document's structure. An unset variable is a problem.
func expandEnv(n *yaml.Node, path string, getenv func(string) (string, bool), ps *Problems) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := getenv(name)
			if !ok {
				ps.add(path, "environment variable %s is not set", name)
			}
			return v
		})
		n.Tag = "!!str" // an expanded value is always a string
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandEnv(n.Content[i+1], join(path, n.Content[i].Value), getenv, ps)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandEnv(c, fmt.Sprintf("%s[%d]", path, i), getenv, ps)
		}
	}
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKeys reports mapping keys that are not fields of t, with the closest
// known key as a suggestion, so that a typo never silently drops a setting.
// yamlFields adds the YAML keys of struct t, and of the structs it
// inlines, to fields.
func yamlFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case opts == "inline" && f.Type.Kind() == reflect.Struct:
			yamlFields(f.Type, fields)
		case name != "" && name != "-":
			fields[name] = f.Type
		}
	}
}

func checkKeys(n *yaml.Node, t reflect.Type, path string, ps *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		yamlFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				msg := "unknown key"
				if s := closest(key, fields); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				ps.add(join(path, key), "%s", msg)
				continue
			}
			checkKeys(n.Content[i+1], ft, join(path, key), ps)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps)
		}
	}
}

// closest returns the known key nearest to key by edit distance, if near.
func closest(key string, known map[string]reflect.Type) string {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, k := range names {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// secrets lists every Secret field with its key.
func (c *Config) secrets() map[string]*Secret {
	m := map[string]*Secret{"state.dsn": &c.State.DSN, "masking.key": &c.Masking.Key}
	m["console.oidc.client_secret"] = &c.Console.OIDC.ClientSecret
	for i := range c.Connections {
		m[fmt.Sprintf("connections[%d].password", i)] = &c.Connections[i].Password
		c.Connections[i].HTTPConnection.secrets(m, fmt.Sprintf("connections[%d]", i))
	}
	c.sinkSecrets(m)
	for i := range c.Reviews.Notify {
		m[fmt.Sprintf("reviews.notify[%d].token", i)] = &c.Reviews.Notify[i].Token
		m[fmt.Sprintf("reviews.notify[%d].secret", i)] = &c.Reviews.Notify[i].Secret
	}
	return m
}

// resolveSecrets replaces file: references by the files' content.
func (c *Config) resolveSecrets(baseDir string, readFile func(string) ([]byte, error), ps *Problems) {
	keys := make([]string, 0)
	secrets := c.secrets()
	for k := range secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := secrets[k]
		p, ok := strings.CutPrefix(s.raw, "file:")
		if !ok {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		b, err := readFile(p)
		if err != nil {
			// The path is not secret; the error never holds file content.
			if u := errors.Unwrap(err); u != nil {
				err = u
			}
			ps.add(k, "cannot read secret file %s: %v", p, err)
			continue
		}
		s.value = strings.TrimRight(string(b), "\r\n")
	}
}

// resolvePaths makes relative paths relative to the config file.
func (c *Config) resolvePaths(baseDir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(baseDir, *p)
		}
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	abs(&c.DataDir)
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	abs(&c.Audit.SigningKeyFile)
	for i := range c.Audit.Sinks {
		abs(&c.Audit.Sinks[i].CAFile)
	}
	for i := range c.Connections {
		cn := &c.Connections[i]
		abs(&cn.SSLRootCert)
		abs(&cn.CAFile)
		if cn.Credential.OAuth2 != nil {
			abs(&cn.Credential.OAuth2.CAFile)
		}
	}
}
