package main

import (
	"fmt"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/httpclass"
	"github.com/sluicehq/sluice/internal/listener/httpproxy"
	"github.com/sluicehq/sluice/internal/policy"
	httpup "github.com/sluicehq/sluice/internal/upstream/http"
)

// httpConns are the HTTP connections, ready to proxy: their upstreams and
// how their requests are classified.
type httpConns struct {
	conns       map[string]*httpproxy.Conn
	classifiers map[string]*httpclass.Classifier
}

// close closes the upstreams' idle connections.
func (h *httpConns) close() {
	for _, c := range h.conns {
		c.Upstream.Close()
	}
}

// compileHTTP builds every HTTP connection. Errors are config problems
// naming the connection's key, reported like loadConfig's.
func compileHTTP(path string, cfg *config.Config) (*httpConns, error) {
	h := &httpConns{conns: map[string]*httpproxy.Conn{}, classifiers: map[string]*httpclass.Classifier{}}
	var ps config.Problems
	for i, c := range cfg.Connections {
		if c.Type != string(sluice.ConnHTTP) {
			continue
		}
		key := fmt.Sprintf("connections[%d]", i)
		up, err := httpup.New(upstreamConfig(c))
		if err != nil {
			ps = append(ps, config.Problem{Key: key, Message: err.Error()})
			continue
		}
		cl, err := classifier(c.HTTPConnection)
		if err != nil {
			ps = append(ps, config.Problem{Key: key + ".classify", Message: err.Error()})
			up.Close()
			continue
		}
		cn := &httpproxy.Conn{Name: c.Name, Upstream: up, Anthropic: c.Preset == config.PresetAnthropic}
		for _, b := range c.Budgets {
			var subs []policy.Subject
			for _, s := range b.Subjects {
				sub, err := policy.ParseSubject(s)
				if err != nil {
					return nil, err // config validation rejected it already
				}
				subs = append(subs, sub)
			}
			cn.Budgets = append(cn.Budgets, httpproxy.Budget{Subjects: subs, DailyTokens: b.DailyTokens})
		}
		h.conns[c.Name] = cn
		h.classifiers[c.Name] = cl
	}
	if len(ps) > 0 {
		h.close()
		_, perr := reportProblems(path, func(string) (*config.Config, error) { return nil, ps })
		return nil, perr
	}
	return h, nil
}

// upstreamConfig translates a connection's settings for httpup.
func upstreamConfig(c config.Connection) httpup.Config {
	cred := httpup.Credential{Header: c.Credential.Header, Value: c.Credential.Value.Value(),
		Bearer: c.Credential.Bearer.Value()}
	if b := c.Credential.Basic; b != nil {
		cred.BasicUser, cred.BasicPassword = b.User, b.Password.Value()
	}
	if o := c.Credential.OAuth2; o != nil {
		cred.OAuth2 = &httpup.OAuth2{TokenURL: o.TokenURL, Tenant: o.Tenant, ClientID: o.ClientID,
			ClientSecret: o.ClientSecret.Value(), Scopes: o.Scopes, Resource: o.Resource, CAFile: o.CAFile}
	}
	return httpup.Config{Name: c.Name, BaseURL: c.URL, CAFile: c.CAFile, Timeout: c.Timeout.D(), Credential: cred}
}

// classifier compiles a connection's custom patterns and built-in sets.
func classifier(h config.HTTPConnection) (*httpclass.Classifier, error) {
	var ps []httpclass.Pattern
	for i, p := range h.Classify {
		var class sluice.Class
		for _, n := range p.Class {
			c, ok := sluice.ParseClass(n)
			if !ok {
				return nil, fmt.Errorf("classify[%d]: unknown class %q", i, n)
			}
			class |= c
		}
		ps = append(ps, httpclass.Pattern{Name: p.Name, Methods: p.Methods, Path: p.Path, Query: p.Query, Host: p.Host, Class: class})
	}
	for _, set := range h.Patterns {
		b, ok := httpclass.Builtin(set)
		if !ok {
			return nil, fmt.Errorf("unknown pattern set %q", set)
		}
		ps = append(ps, b...)
	}
	return httpclass.New(ps)
}
