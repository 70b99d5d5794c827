package browser

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Page is one tab in a browser context of its own (its own cookies and
// storage). Its methods fail the test given to NewPage when the action
// cannot be done within the page's timeout; they must be called from that
// test's goroutine (a failure calls tb.Fatal), one at a time.
//
// Selectors are Playwright's: CSS ("#login", "tr.pending button"), or
// "text=Approve", "role=button[name=Approve]" and the like. Fill, Click,
// Text and Press want exactly one matching element; WaitFor and WaitText
// accept several.
type Page struct {
	b       *Browser
	tb      testing.TB
	id      string
	timeout time.Duration
}

// NewPage opens a page in a fresh browser context. It is closed when tb
// ends, and its console log is logged if tb failed.
func (b *Browser) NewPage(tb testing.TB) *Page {
	tb.Helper()
	start := time.Now()
	res, err := b.call("", "newPage", nil, DefaultTimeout)
	b.step("-", "newPage", time.Since(start), err)
	if err != nil {
		tb.Fatalf("browser: new page: %v", err)
	}
	var r struct {
		Page string `json:"page"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		tb.Fatalf("browser: new page: %v", err)
	}
	p := &Page{b: b, tb: tb, id: r.Page, timeout: DefaultTimeout}
	tb.Cleanup(func() {
		if tb.Failed() {
			if log, err := p.log(); err == nil && len(log) > 0 {
				tb.Logf("browser: page %s log:\n%s", p.id, tail(strings.Join(log, "\n"), 40))
			}
		}
		_, _ = b.call(p.id, "closePage", nil, DefaultTimeout)
	})
	return p
}

// SetTimeout sets how long each later action may take.
func (p *Page) SetTimeout(d time.Duration) { p.timeout = d }

// do runs op and fails the test if it fails.
func (p *Page) do(op, what string, args map[string]any) json.RawMessage {
	p.tb.Helper()
	start := time.Now()
	res, err := p.b.call(p.id, op, args, p.timeout)
	p.b.step(p.id, what, time.Since(start), err)
	if err != nil {
		p.tb.Fatal(p.describe(op, what, err))
	}
	return res
}

// describe explains a failed action: what was asked, Playwright's error,
// the page's URL, a screenshot and the page's recent log.
func (p *Page) describe(op, what string, err error) string {
	var s strings.Builder
	fmt.Fprintf(&s, "browser: %s: %s", what, indentTail(tail(strings.TrimSpace(err.Error()), 15)))
	var ae *actionError
	if !errors.As(err, &ae) {
		// The driver is gone or hung: nothing more to ask it.
		fmt.Fprintf(&s, "\n  driver log:\n%s", indent(p.b.driverLog(30)))
		return s.String()
	}
	if ae.url != "" {
		fmt.Fprintf(&s, "\n  page: %s", ae.url)
	}
	if shot, err := p.screenshot("failed-"+op, 5*time.Second); err == nil {
		fmt.Fprintf(&s, "\n  screenshot: %s", shot)
	} else {
		fmt.Fprintf(&s, "\n  screenshot failed: %s", firstLine(err.Error()))
	}
	if log, err := p.log(); err == nil && len(log) > 0 {
		fmt.Fprintf(&s, "\n  page log:\n%s", indent(tail(strings.Join(log, "\n"), 10)))
	}
	return s.String()
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// indentTail indents all lines of a multi-line message but the first.
func indentTail(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

func (p *Page) log() ([]string, error) {
	res, err := p.b.call(p.id, "log", nil, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var log []string
	return log, json.Unmarshal(res, &log)
}

func (p *Page) screenshot(name string, timeout time.Duration) (string, error) {
	n := p.b.shots.Add(1)
	path := filepath.Join(p.b.artifacts, fmt.Sprintf("%03d-%s.png", n, safeName(name)))
	_, err := p.b.call(p.id, "screenshot", map[string]any{"path": path}, timeout)
	return path, err
}

// Goto loads url and waits for its load event; it returns the HTTP status
// of the response (0 when there was none, e.g. for about:blank). A page
// that answers with an error status is no failure: check the status.
func (p *Page) Goto(url string) int {
	p.tb.Helper()
	var r struct {
		Status int `json:"status"`
	}
	_ = json.Unmarshal(p.do("goto", "goto "+url, map[string]any{"url": url}), &r)
	return r.Status
}

// URL returns the page's current URL.
func (p *Page) URL() string {
	p.tb.Helper()
	var u string
	_ = json.Unmarshal(p.do("url", "url", nil), &u)
	return u
}

// Fill waits for the input matching selector and sets its value.
func (p *Page) Fill(selector, value string) {
	p.tb.Helper()
	p.do("fill", "fill "+strconv.Quote(selector), map[string]any{"selector": selector, "value": value})
}

// Select chooses the option with value (or label) value in the select
// element matching selector.
func (p *Page) Select(selector, value string) {
	p.tb.Helper()
	p.do("selectOption", "select "+strconv.Quote(selector), map[string]any{"selector": selector, "value": value})
}

// Press presses key (e.g. "Enter", "Control+a") in the element matching
// selector.
func (p *Page) Press(selector, key string) {
	p.tb.Helper()
	p.do("press", "press "+key+" in "+strconv.Quote(selector), map[string]any{"selector": selector, "key": key})
}

// Click waits for the element matching selector to be visible, enabled and
// still, and clicks it. A navigation it starts is not waited for; follow
// with WaitURL or WaitFor.
func (p *Page) Click(selector string) {
	p.tb.Helper()
	p.do("click", "click "+strconv.Quote(selector), map[string]any{"selector": selector})
}

// WaitFor waits until an element matching selector is visible.
func (p *Page) WaitFor(selector string) {
	p.tb.Helper()
	p.do("waitFor", "wait for "+strconv.Quote(selector), map[string]any{"selector": selector})
}

// WaitGone waits until no element matching selector is visible.
func (p *Page) WaitGone(selector string) {
	p.tb.Helper()
	p.do("waitFor", "wait for "+strconv.Quote(selector)+" to go", map[string]any{"selector": selector, "state": "hidden"})
}

// WaitText waits until an element matching selector shows text (a
// case-sensitive substring of its innerText).
func (p *Page) WaitText(selector, text string) {
	p.tb.Helper()
	p.do("waitText", "wait for "+strconv.Quote(selector)+" to show "+strconv.Quote(text),
		map[string]any{"selector": selector, "text": text})
}

// WaitURL waits until the page's URL starts with prefix and the page has
// loaded.
func (p *Page) WaitURL(prefix string) {
	p.tb.Helper()
	p.do("waitURL", "wait for URL "+prefix, map[string]any{"prefix": prefix})
}

// Text returns the innerText of the element matching selector (what a user
// sees of it), waiting for it to exist.
func (p *Page) Text(selector string) string {
	p.tb.Helper()
	var s string
	_ = json.Unmarshal(p.do("text", "text of "+strconv.Quote(selector), map[string]any{"selector": selector}), &s)
	return s
}

// Count returns how many elements match selector now, without waiting.
func (p *Page) Count(selector string) int {
	p.tb.Helper()
	var n int
	_ = json.Unmarshal(p.do("count", "count "+strconv.Quote(selector), map[string]any{"selector": selector}), &n)
	return n
}

// HTML returns the page's current document as HTML.
func (p *Page) HTML() string {
	p.tb.Helper()
	var s string
	_ = json.Unmarshal(p.do("html", "html", nil), &s)
	return s
}

// Eval evaluates a JavaScript expression in the page (a function
// expression is called; a promise is awaited) and returns its value
// decoded from JSON: nil, bool, float64, string, []any or map[string]any.
func (p *Page) Eval(js string) any {
	p.tb.Helper()
	var v any
	_ = json.Unmarshal(p.do("eval", "eval "+strconv.Quote(firstLine(js)), map[string]any{"js": js}), &v)
	return v
}

// Screenshot saves a PNG of the whole page in the artifacts directory and
// returns its path; names are numbered in the order taken.
func (p *Page) Screenshot(name string) string {
	p.tb.Helper()
	start := time.Now()
	path, err := p.screenshot(name, p.timeout)
	p.b.step(p.id, "screenshot "+filepath.Base(path), time.Since(start), err)
	if err != nil {
		p.tb.Fatal(p.describe("screenshot", "screenshot "+name, err))
	}
	return path
}

// Log returns what the page reported, oldest first: console messages,
// uncaught errors, failed requests, responses with an error status,
// dialogs (all accepted) and navigations, each line starting with the
// time. The last 200 are kept.
func (p *Page) Log() []string {
	p.tb.Helper()
	log, err := p.log()
	if err != nil {
		p.tb.Fatalf("browser: page log: %v", err)
	}
	return log
}
