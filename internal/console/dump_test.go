package console

import (
	"os"
	"testing"
)

func TestDump(t *testing.T) {
	if os.Getenv("DUMP") == "" {
		t.Skip()
	}
	f := newFixture(t)
	f.openReview("bot", "update orders set status = 'shipped', n = 1.5e3 -- why\nwhere id = $1", "group:dba")
	b := f.browser()
	b.devLogin("sam", "security,dba")
	os.WriteFile("/tmp/inbox.html", []byte(b.get("/console/reviews").Body), 0o644)
	os.WriteFile("/tmp/session.html", []byte(b.get("/console/sessions/"+f.session).Body), 0o644)
	os.WriteFile("/tmp/login.html", []byte(f.browser().get("/console/login").Body), 0o644)
}
