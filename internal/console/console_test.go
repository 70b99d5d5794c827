package console

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	for _, path := range []string{"/console/login", "/console/reviews", "/console/nope"} {
		p := b.get(path)
		h := p.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" ||
			h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	if p := b.get("/console/nope"); p.StatusCode != 404 {
		t.Errorf("unknown page: %d", p.StatusCode)
	}
	// Assets: embedded, cacheable, no inline script anywhere.
	js := b.get("/console/assets/console.js")
	if js.StatusCode != 200 || !strings.Contains(js.Header.Get("Content-Type"), "javascript") || !strings.Contains(js.Body, "EventSource") {
		t.Fatalf("js: %d %s", js.StatusCode, js.Header.Get("Content-Type"))
	}
	if p := b.get("/console/assets/../console.go"); p.StatusCode == 200 || strings.Contains(p.Body, "package console") ||
		b.get("/console/assets/nope.css").StatusCode != 404 {
		t.Fatal("asset path escapes")
	}
	b.devLogin("alice", "dba")
	p := b.get("/console/reviews")
	lacks(t, p, "<script>", "style=")
	contains(t, p, `<script src="/console/assets/console.js?v=`)
}

func TestRootRedirects(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	if p := b.get("/"); p.StatusCode != 303 || p.Header.Get("Location") != "/console/" {
		t.Fatalf("/: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
	if p := b.get("/reviews/rv_abc"); p.StatusCode != 303 || p.Header.Get("Location") != "/console/reviews/rv_abc" {
		t.Fatalf("notification link: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
	if p := b.get("/console/reviews"); p.StatusCode != 303 || p.Header.Get("Location") != "/console/login?next=%2Fconsole%2Freviews" {
		t.Fatalf("not logged in: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
}

func TestDevLoginCookieFlags(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	lp := b.get("/console/login")
	contains(t, lp, `data-testid="dev-login-form"`, "Development login")
	p := b.post("/console/login/dev", url.Values{"csrf": {b.csrf(lp)}, "subject": {"alice"}, "groups": {"dba, other"}})
	var sess *http.Cookie
	for _, c := range p.Cookies() {
		if c.Name == sessionCookie {
			sess = c
		}
	}
	if sess == nil {
		t.Fatalf("no session cookie: %v", p.Header["Set-Cookie"])
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/console/" || sess.Secure {
		t.Fatalf("cookie flags over plain HTTP: %+v", sess)
	}
	if ttl := time.Duration(sess.MaxAge) * time.Second; ttl < DefaultSessionTTL-time.Minute || ttl > DefaultSessionTTL {
		t.Fatalf("max age %v", ttl)
	}
	inbox := b.get("/console/reviews")
	contains(t, inbox, `data-testid="dev-login-banner"`, `data-subject="alice"`)
	// The cookie is encrypted: nothing in it is readable.
	if strings.Contains(sess.Value, "alice") || strings.Contains(sess.Value, "dba") {
		t.Fatal("the session cookie is readable")
	}
	// Groups that the configuration does not name are not kept.
	if v := f.console.viewer(withCookie(sess)); v == nil || strings.Join(v.ID.Groups, ",") != "dba" {
		t.Fatalf("viewer %+v", v)
	}

	// A forged or edited cookie is no session.
	forged := *sess
	forged.Value = sess.Value[:len(sess.Value)-2] + "AA"
	if f.console.viewer(withCookie(&forged)) != nil {
		t.Fatal("an edited cookie was accepted")
	}
	// Absolute timeout: after the TTL the session is gone.
	f.clock.off = DefaultSessionTTL + time.Second
	if p := b.get("/console/reviews"); p.StatusCode != 303 || !strings.HasPrefix(p.Header.Get("Location"), "/console/login") {
		t.Fatalf("expired session: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/console/reviews", nil)
	r.AddCookie(c)
	return r
}

func TestCookiesSecureOverTLS(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	f.console.Routes(mux)
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	b := f.browser()
	b.base = srv.URL
	b.client.Transport = srv.Client().Transport
	lp := b.get("/console/login")
	var login *http.Cookie
	for _, c := range lp.Cookies() {
		login = c
	}
	if login == nil || login.Name != "__Secure-"+loginCookie || !login.Secure || !login.HttpOnly || login.SameSite != http.SameSiteLaxMode {
		t.Fatalf("login cookie over TLS: %+v", login)
	}
	p := b.post("/console/login/dev", url.Values{"csrf": {b.csrf(lp)}, "subject": {"alice"}, "groups": {"dba"}})
	var sess *http.Cookie
	for _, c := range p.Cookies() {
		if strings.HasSuffix(c.Name, sessionCookie) && c.Value != "" {
			sess = c
		}
	}
	if sess == nil || sess.Name != "__Secure-"+sessionCookie || !sess.Secure || !sess.HttpOnly {
		t.Fatalf("session cookie over TLS: %+v", sess)
	}
	if p := b.get("/console/reviews"); p.StatusCode != 200 {
		t.Fatalf("inbox over TLS: %d", p.StatusCode)
	}
}

func TestDevLoginRefusedOffLoopback(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	lp := b.get("/console/login")
	token := b.csrf(lp)
	var cookies []*http.Cookie
	cookies = append(cookies, lp.Cookies()...)

	cases := []struct{ local, remote string }{
		{"10.0.0.5:8433", "127.0.0.1:5555"}, // the listener is not loopback
		{"127.0.0.1:8433", "10.0.0.9:5555"}, // the client is not
	}
	for _, c := range cases {
		form := url.Values{"csrf": {token}, "subject": {"mallory"}, "groups": {"dba,security"}}
		r := httptest.NewRequest("POST", "/console/login/dev", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = c.remote
		local, _ := net.ResolveTCPAddr("tcp", c.local)
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		mux := http.NewServeMux()
		f.console.Routes(mux)
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || strings.Contains(w.Header().Get("Set-Cookie"), sessionCookie+"=") {
			t.Fatalf("%+v: %d %v", c, w.Code, w.Header())
		}
		// The login page does not offer the form there either.
		r = httptest.NewRequest("GET", "/console/login", nil)
		r.RemoteAddr = c.remote
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
		w = httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if strings.Contains(w.Body.String(), `data-testid="dev-login-form"`) || !strings.Contains(w.Body.String(), `data-testid="dev-login-refused"`) {
			t.Fatalf("%+v: login page offers the development login:\n%s", c, w.Body)
		}
	}

	// Not configured: refused everywhere.
	f2 := newFixture(t, func(s *Server) { s.DevLogin = false })
	b2 := f2.browser()
	lp2 := b2.get("/console/login")
	lacks(t, lp2, "dev-login-form")
	contains(t, lp2, `data-testid="login-unconfigured"`)
	if p := b2.post("/console/login/dev", url.Values{"subject": {"x"}}); p.StatusCode != 404 {
		t.Fatalf("dev login when disabled: %d", p.StatusCode)
	}
}

func TestDevLoginNeedsFormToken(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.get("/console/login")
	if p := b.post("/console/login/dev", url.Values{"csrf": {"forged"}, "subject": {"alice"}}); p.StatusCode != 403 {
		t.Fatalf("dev login with a forged token: %d", p.StatusCode)
	}
	lp := b.get("/console/login")
	if p := b.post("/console/login/dev", url.Values{"csrf": {b.csrf(lp)}, "subject": {"alice"}}, "Sec-Fetch-Site", "cross-site"); p.StatusCode != 403 {
		t.Fatalf("cross-site dev login: %d", p.StatusCode)
	}
}

func TestBearerTokensGiveNoAccess(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/console/reviews", "/console/sessions", "/console/fragments/inbox", "/console/events"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer sluice_st_anything")
		w := httptest.NewRecorder()
		mux := http.NewServeMux()
		f.console.Routes(mux)
		mux.ServeHTTP(w, req)
		if w.Code != http.StatusSeeOther && w.Code != http.StatusUnauthorized {
			t.Fatalf("%s with a bearer token: %d", path, w.Code)
		}
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	rv := f.openReview("bot", "update orders set status = 'x'", "group:dba")
	other := f.openReview("bot", "update invoices set paid = true", "subject:carol")

	approver := f.browser()
	approver.devLogin("alice", "dba")
	p := approver.get("/console/reviews")
	contains(t, p, `data-review-id="`+rv.ID+`"`, `data-testid="approve-button"`, `data-testid="deny-button"`, `data-testid="reason-input"`)
	lacks(t, p, other.ID) // not hers to decide, and she is no auditor
	lacks(t, p, `data-testid="nav-sessions"`)
	for _, path := range []string{"/console/sessions", "/console/search", "/console/integrity", "/console/sessions/" + f.session, "/console/journal/1"} {
		if p := approver.get(path); p.StatusCode != 403 {
			t.Fatalf("approver GET %s: %d", path, p.StatusCode)
		}
	}
	if p := approver.get("/console/reviews/" + other.ID); p.StatusCode != 404 {
		t.Fatalf("approver sees another's review: %d", p.StatusCode)
	}
	// Deciding a review she may not decide is refused, and says nothing.
	if p := approver.post("/console/reviews/"+other.ID+"/decide", url.Values{"csrf": {approver.csrf(p)}, "decision": {"approve"}}); p.StatusCode != 404 {
		t.Fatalf("approver decides another's review: %d", p.StatusCode)
	}

	auditor := f.browser()
	auditor.devLogin("sam", "security")
	p = auditor.get("/console/reviews")
	contains(t, p, `data-review-id="`+rv.ID+`"`, `data-review-id="`+other.ID+`"`, `data-testid="nav-sessions"`, "You are not one of this review")
	lacks(t, p, `data-testid="approve-button"`, `data-testid="deny-button"`)
	dp := auditor.post("/console/reviews/"+rv.ID+"/decide", url.Values{"csrf": {auditor.csrf(p)}, "decision": {"approve"}, "reason": {"lgtm"}})
	if dp.StatusCode != http.StatusForbidden {
		t.Fatalf("auditor approves: %d", dp.StatusCode)
	}
	if got, _ := f.reviews.Get(context.Background(), rv.ID); got.Status != sluice.ReviewPending || len(got.Decisions) != 0 {
		t.Fatalf("auditor's POST changed the review: %+v", got)
	}
	for _, path := range []string{"/console/sessions", "/console/search", "/console/integrity"} {
		if p := auditor.get(path); p.StatusCode != 200 {
			t.Fatalf("auditor GET %s: %d", path, p.StatusCode)
		}
	}

	// The requester sees their review but cannot approve it.
	requester := f.browser()
	requester.devLogin("bot", "dba")
	p = requester.get("/console/reviews/" + rv.ID)
	contains(t, p, "someone else must decide")
	lacks(t, p, `data-testid="approve-button"`)

	nobody := f.browser()
	nobody.devLogin("eve", "interns")
	for _, path := range []string{"/console/reviews", "/console/reviews/history", "/console/sessions"} {
		p := nobody.get(path)
		if p.StatusCode != 403 {
			t.Fatalf("no-access %s: %d", path, p.StatusCode)
		}
		contains(t, p, `data-testid="no-access"`, "audit.auditors")
	}
	if p := nobody.get("/console/fragments/inbox"); p.StatusCode != 403 {
		t.Fatalf("no-access fragment: %d", p.StatusCode)
	}
}

func TestDecideFromInbox(t *testing.T) {
	f := newFixture(t)
	rv := f.openReview("bot", "update orders set status = 'shipped' where id = 7", "group:dba")
	deny := f.openReview("bot", "update orders set total = 0", "group:dba")
	b := f.browser()
	b.devLogin("alice", "dba")
	inbox := b.get("/console/reviews")
	contains(t, inbox, `data-testid="pending-count">2<`, "UPDATE without WHERE", "bot", "shop")
	token := b.csrf(inbox)

	p := b.post("/console/reviews/"+rv.ID+"/decide", url.Values{"csrf": {token}, "decision": {"approve"}, "reason": {"checked the row count"}})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", p.StatusCode, p.Body)
	}
	got, err := f.reviews.Get(context.Background(), rv.ID)
	must(t, err)
	if got.Status != sluice.ReviewApproved || len(got.Decisions) != 1 || got.Decisions[0].By != "alice" ||
		got.Decisions[0].Via != "console" || got.Decisions[0].Reason != "checked the row count" {
		t.Fatalf("after approval: %+v", got)
	}
	back := b.get(p.Header.Get("Location"))
	contains(t, back, `data-testid="flash"`, "You approved "+rv.ID+"; it is now approved")
	lacks(t, back, `data-review-id="`+rv.ID+`"`)

	p = b.post("/console/reviews/"+deny.ID+"/decide", url.Values{"csrf": {token}, "decision": {"deny"}, "reason": {"no"}, "return": {"review"}})
	if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/console/reviews/"+deny.ID) {
		t.Fatalf("deny: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
	contains(t, b.get(p.Header.Get("Location")), `data-testid="review-status">denied<`)
	// Deciding again is a conflict, and changes nothing.
	if p := b.post("/console/reviews/"+deny.ID+"/decide", url.Values{"csrf": {token}, "decision": {"approve"}}); p.StatusCode != http.StatusConflict {
		t.Fatalf("second vote: %d", p.StatusCode)
	}
	hist := b.get("/console/reviews/history")
	contains(t, hist, `data-testid="history-row" data-review-id="`+rv.ID+`" data-status="approved"`,
		`data-review-id="`+deny.ID+`" data-status="denied"`, "checked the row count")
	contains(t, b.get("/console/reviews"), `data-testid="inbox-empty"`)
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	rv := f.openReview("bot", "update orders set status = 'x'", "group:dba")
	b := f.browser()
	b.devLogin("alice", "dba")
	token := b.csrf(b.get("/console/reviews"))
	other := f.browser()
	other.devLogin("carol", "dba")
	otherToken := other.csrf(other.get("/console/reviews"))

	path := "/console/reviews/" + rv.ID + "/decide"
	cases := []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"no token", url.Values{"decision": {"approve"}}, nil},
		{"wrong token", url.Values{"decision": {"approve"}, "csrf": {"x" + token}}, nil},
		{"another session's token", url.Values{"decision": {"approve"}, "csrf": {otherToken}}, nil},
		{"cross-site", url.Values{"decision": {"approve"}, "csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign origin", url.Values{"decision": {"approve"}, "csrf": {token}}, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
	}
	for _, c := range cases {
		if p := b.post(path, c.form, c.hdr...); p.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %d", c.name, p.StatusCode)
		}
	}
	if got, _ := f.reviews.Get(context.Background(), rv.ID); got.Status != sluice.ReviewPending {
		t.Fatalf("a refused POST decided: %+v", got)
	}
	if p := b.post("/console/logout", url.Values{}); p.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without token: %d", p.StatusCode)
	}
	if p := b.post("/console/integrity/verify", url.Values{}); p.StatusCode != http.StatusForbidden {
		t.Fatalf("verify without token: %d", p.StatusCode)
	}
	// Without a session, a POST is refused too.
	anon := f.browser()
	if p := anon.post(path, url.Values{"decision": {"approve"}, "csrf": {token}}); p.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous POST: %d", p.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.devLogin("alice", "dba")
	p := b.get("/console/reviews")
	var sess *http.Cookie
	for _, c := range b.client.Jar.Cookies(mustURL(t, f.srv.URL+"/console/")) {
		if c.Name == sessionCookie {
			sess = c
		}
	}
	out := b.post("/console/logout", url.Values{"csrf": {b.csrf(p)}})
	if out.StatusCode != 303 || out.Header.Get("Location") != "/console/login?msg=logged_out" {
		t.Fatalf("logout: %d %s", out.StatusCode, out.Header.Get("Location"))
	}
	contains(t, b.get("/console/login?msg=logged_out"), "You are logged out")
	// The old cookie, replayed, is dead, also after a restart.
	if f.console.viewer(withCookie(sess)) != nil {
		t.Fatal("a logged-out cookie still works")
	}
	other := f.browser()
	other.devLogin("carol", "dba")
	var kept *http.Cookie
	for _, c := range other.client.Jar.Cookies(mustURL(t, f.srv.URL+"/console/")) {
		if c.Name == sessionCookie {
			kept = c
		}
	}
	restarted := &Server{DataDir: f.console.DataDir, Store: f.store, Reviews: f.reviews, DevLogin: true}
	must(t, restarted.Open(context.Background()))
	if restarted.viewer(withCookie(sess)) != nil {
		t.Fatal("a logged-out cookie works after a restart")
	}
	if v := restarted.viewer(withCookie(kept)); v == nil || v.ID.Subject != "carol" {
		t.Fatal("a restart logged out a session that did not log out")
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	must(t, err)
	return u
}

func TestHostileStatementIsEscaped(t *testing.T) {
	f := newFixture(t)
	hostile := `update t set x = '</code></pre><script>alert(1)</script>' -- <img src=x onerror=alert(2)>` + "\n" + `where "a<b" = $1`
	rv := f.openReview("<b>bot</b>", hostile, "group:dba")
	b := f.browser()
	b.devLogin("alice", "dba")
	for _, path := range []string{"/console/reviews", "/console/reviews/" + rv.ID, "/console/fragments/inbox"} {
		p := b.get(path)
		lacks(t, p, "<script>alert", "<img src=x", "<b>bot</b>")
		contains(t, p, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;bot&lt;/b&gt;",
			`<span class="sql-kw">update</span>`, `<span class="sql-str">&#39;&lt;/code&gt;`, `<span class="sql-com">-- &lt;img`,
			`<span class="sql-id">&#34;a&lt;b&#34;</span>`, `<span class="sql-param">$1</span>`)
	}
}

func TestSessionReplay(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.devLogin("sam", "security")
	list := b.get("/console/sessions?subject=bot&has_denied=true")
	contains(t, list, `data-testid="session-row" data-session-id="`+f.session+`"`)
	if p := b.get("/console/sessions?subject=nobody"); !strings.Contains(p.Body, `data-testid="sessions-empty"`) {
		t.Fatal("filter by subject does not filter")
	}
	if p := b.get("/console/sessions?since=yesterday"); p.StatusCode != 400 {
		t.Fatalf("bad time: %d", p.StatusCode)
	}
	p := b.get("/console/sessions/" + f.session)
	if p.StatusCode != 200 {
		t.Fatalf("session page: %d\n%s", p.StatusCode, p.Body)
	}
	contains(t, p, `data-testid="timeline"`, `data-testid="timeline-step" data-step="1" data-decision="allow"`,
		`data-step="2" data-decision="deny"`, `data-testid="captured-rows"`, "Ketchup &lt;b&gt;Ltd&lt;/b&gt;", "k***@example.com",
		`<span class="null">NULL</span>`, "email 1", "no deletes", `id="seq-2"`, `href="#seq-4"`, `data-testid="step-next"`,
		`href="/console/journal/3"`, "SELECT 1", "3ms", "session ended: client_closed")
	rec := b.get("/console/journal/3")
	contains(t, rec, `data-testid="record-seq">3<`, `data-testid="record-type">result<`, "sluice audit prove 3", "Ketchup",
		`href="/console/journal/2" data-testid="record-request">record 2</a> (`+f.session+`/1)`)
	if p := b.get("/console/journal/999"); p.StatusCode != 404 {
		t.Fatalf("missing record: %d", p.StatusCode)
	}
	if p := b.get("/console/sessions/nope"); p.StatusCode != 404 {
		t.Fatalf("missing session: %d", p.StatusCode)
	}
}

func TestAuditSearch(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.devLogin("sam", "security")
	p := b.get("/console/search")
	contains(t, p, `data-testid="search-form"`, `id="s-subject"`, `data-testid="search-class-destructive"`)
	lacks(t, p, `data-testid="search-count"`)
	p = b.get("/console/search?decision=deny&subject=bot")
	contains(t, p, `data-testid="search-count">1 statement<`, `data-decision="deny"`, "delete from customers", `href="/console/sessions/`+f.session+`#seq-4"`)
	p = b.get("/console/search?class=read&text=CUSTOMERS")
	contains(t, p, `data-testid="search-count">1 statement<`, "select name, email")
	if p := b.get("/console/search?class=bogus"); p.StatusCode != 400 {
		t.Fatalf("bad class: %d", p.StatusCode)
	}

	// A call sluice answered itself belongs to no session: it is listed
	// without a link to one.
	ctx := context.Background()
	call := &sluice.Request{ID: "call-1", Seq: 1, Kind: sluice.KindTool, Text: "list_connections {}", Time: time.Now().UTC(),
		Subject: "bot", Class: sluice.ClassRead}
	must(t, f.trail.Record(ctx, &sluice.Event{Time: call.Time, Type: sluice.EventRequest, Request: call,
		Decision: &sluice.Decision{Action: sluice.ActionAllow, Rule: "builtin"}}))
	must(t, f.trail.Record(ctx, &sluice.Event{Time: call.Time, Type: sluice.EventResult, Request: call,
		Result: &sluice.Result{Rows: 1, Status: sluice.StatusOK}}))
	must(t, f.index.Flush(ctx))
	p = b.get("/console/search?text=list_connections")
	contains(t, p, `data-testid="search-count">1 statement<`, `data-session-id=""`, "list_connections {}")
	lacks(t, p, `data-testid="search-session-link"`)
}

func TestIntegrity(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.devLogin("sam", "security")
	time.Sleep(50 * time.Millisecond) // a checkpoint is signed
	p := b.get("/console/integrity")
	contains(t, p, `data-testid="verify-result" data-status="never"`, `data-testid="checkpoint"`, `data-testid="sink-row" data-sink="siem"`,
		`data-testid="sink-lag">7<`, "siem lags")
	v := b.post("/console/integrity/verify", url.Values{"csrf": {b.csrf(p)}})
	if v.StatusCode != 303 || v.Header.Get("Location") != "/console/integrity" {
		t.Fatalf("verify: %d", v.StatusCode)
	}
	res := waitVerify(t, f.console)
	if !res.OK {
		t.Fatalf("verify result %+v", res)
	}
	p = b.get("/console/integrity")
	contains(t, p, `data-status="ok"`, "Journal OK", "by sam")

	// Approvers may not run it.
	a := f.browser()
	a.devLogin("alice", "dba")
	tok := a.csrf(a.get("/console/reviews"))
	if p := a.post("/console/integrity/verify", url.Values{"csrf": {tok}}); p.StatusCode != 403 {
		t.Fatalf("approver verifies: %d", p.StatusCode)
	}
}

// waitVerify waits until the console's verify run is done.
func waitVerify(t *testing.T, s *Server) *verifyResult {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if v := s.verify.get(); v != nil && !v.Running {
			return v
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("verify did not finish")
	return nil
}

func TestIntegrityFailure(t *testing.T) {
	f := newFixture(t)
	segs, _ := filepath.Glob(filepath.Join(f.jdir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	b, err := os.ReadFile(segs[0])
	must(t, err)
	i := bytes.Index(b, []byte("delete from customers"))
	if i < 0 {
		t.Fatal("statement not found in the segment")
	}
	b[i] ^= 0x20
	must(t, os.WriteFile(segs[0], b, 0o600))

	br := f.browser()
	br.devLogin("sam", "security")
	br.post("/console/integrity/verify", url.Values{"csrf": {br.csrf(br.get("/console/integrity"))}})
	res := waitVerify(t, f.console)
	if res.OK || res.BadSeq != 4 {
		t.Fatalf("verify of a tampered journal: %+v", res)
	}
	p := br.get("/console/integrity")
	contains(t, p, `data-status="failed"`, "FAILED", `data-testid="verify-bad-seq">4<`, "CRC")
}

func TestSessionsEndWithTheirLoginMethod(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.devLogin("alice", "dba")
	if p := b.get("/console/reviews"); p.StatusCode != 200 {
		t.Fatalf("logged in: %d", p.StatusCode)
	}
	f.console.DevLogin = false // as after a restart without console.dev_login
	if p := b.get("/console/reviews"); p.StatusCode != 303 {
		t.Fatalf("a development session outlived the development login: %d", p.StatusCode)
	}
}

// sessionCookieSet reports whether p renewed the session cookie.
func sessionCookieSet(p *page) bool {
	for _, c := range p.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return true
		}
	}
	return false
}

// TestIdleTimeout checks that a login ends after IdleTimeout without use,
// that opening pages renews it, and that the inbox's automatic refreshes
// do not.
func TestIdleTimeout(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.devLogin("alice", "dba")
	loggedOut := func(p *page) bool {
		return p.StatusCode == 303 && strings.HasPrefix(p.Header.Get("Location"), "/console/login")
	}

	// Pages within the idle timeout keep the login, renewing its cookie.
	for _, at := range []time.Duration{20 * time.Minute, 45 * time.Minute, 70 * time.Minute} {
		f.clock.off = at
		p := b.get("/console/reviews")
		if p.StatusCode != 200 || !sessionCookieSet(p) {
			t.Fatalf("page at %s: %d, cookie renewed %v", at, p.StatusCode, sessionCookieSet(p))
		}
	}
	// Within a minute of the last renewal, a page leaves the cookie alone.
	f.clock.off = 70*time.Minute + 30*time.Second
	if p := b.get("/console/reviews"); p.StatusCode != 200 || sessionCookieSet(p) {
		t.Fatalf("page 30s after a renewal: %d, cookie renewed %v", p.StatusCode, sessionCookieSet(p))
	}
	// Automatic refreshes are not use: they neither renew nor keep the login.
	f.clock.off = 90 * time.Minute
	if p := b.get("/console/fragments/inbox"); p.StatusCode != 200 || sessionCookieSet(p) {
		t.Fatalf("fragment: %d, cookie renewed %v", p.StatusCode, sessionCookieSet(p))
	}
	f.clock.off = 70*time.Minute + DefaultIdleTimeout + time.Second
	if p := b.get("/console/fragments/inbox"); p.StatusCode != 401 {
		t.Fatalf("fragment after the idle timeout: %d", p.StatusCode)
	}
	if p := b.get("/console/reviews"); !loggedOut(p) {
		t.Fatalf("page after the idle timeout: %d %s", p.StatusCode, p.Header.Get("Location"))
	}

	// Use does not stretch the absolute expiry.
	f.clock.off = 0
	b3 := f.browser()
	b3.devLogin("carol", "dba")
	for at := 25 * time.Minute; at < DefaultSessionTTL; at += 25 * time.Minute {
		f.clock.off = at
		if p := b3.get("/console/reviews"); p.StatusCode != 200 {
			t.Fatalf("page at %s, used every 25 minutes: %d", at, p.StatusCode)
		}
	}
	f.clock.off = DefaultSessionTTL + time.Second
	if p := b3.get("/console/reviews"); !loggedOut(p) {
		t.Fatalf("page after the TTL of a login in use: %d %s", p.StatusCode, p.Header.Get("Location"))
	}

	// A login never used again ends at the idle timeout, not the TTL.
	f.clock.off = 0
	b2 := f.browser()
	b2.devLogin("bob", "dba")
	f.clock.off = DefaultIdleTimeout - time.Minute
	if p := b2.get("/console/fragments/inbox"); p.StatusCode != 200 {
		t.Fatalf("fragment before the idle timeout: %d", p.StatusCode)
	}
	f.clock.off = DefaultIdleTimeout + time.Second
	if p := b2.get("/console/reviews"); !loggedOut(p) {
		t.Fatalf("unused login after the idle timeout: %d %s", p.StatusCode, p.Header.Get("Location"))
	}
}
