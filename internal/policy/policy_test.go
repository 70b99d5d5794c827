package policy

import (
	"net/netip"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/config"
)

func TestGrant(t *testing.T) {
	e, err := New([]config.Policy{
		{Name: "agents", Subjects: []string{"group:ai-agents"}, Connections: []string{"orders"}, Sources: []string{"10.0.0.0/8", "192.168.1.7"}},
		{Name: "alice", Subjects: []string{"subject:alice"}, Connections: []string{"*"}},
		{Name: "anyone-demo", Subjects: []string{"*"}, Connections: []string{"demo"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	agent := &sluice.Identity{Subject: "bot-1", Groups: []string{"ai-agents"}}
	alice := &sluice.Identity{Subject: "alice"}
	mallory := &sluice.Identity{Subject: "mallory", Groups: []string{"ai-agentsX"}}
	ip := netip.MustParseAddr
	cases := []struct {
		id   *sluice.Identity
		conn string
		addr netip.Addr
		want string // policy name, "" for none
	}{
		{agent, "orders", ip("10.1.2.3"), "agents"},
		{agent, "orders", ip("::ffff:10.1.2.3"), "agents"}, // v4-mapped v6
		{agent, "orders", ip("192.168.1.7"), "agents"},
		{agent, "orders", ip("192.168.1.8"), ""},
		{agent, "orders", ip("127.0.0.1"), ""},
		{agent, "billing", ip("10.1.2.3"), ""},
		{agent, "demo", ip("127.0.0.1"), "anyone-demo"},
		{alice, "billing", ip("8.8.8.8"), "alice"},
		{alice, "orders", ip("8.8.8.8"), "alice"},
		{mallory, "orders", ip("10.1.2.3"), ""},
		{mallory, "demo", ip("10.1.2.3"), "anyone-demo"},
	}
	for _, c := range cases {
		got := ""
		if p := e.Grant(c.id, c.conn, c.addr); p != nil {
			got = p.Name
		}
		if got != c.want {
			t.Errorf("Grant(%s, %s, %s) = %q, want %q", c.id.Subject, c.conn, c.addr, got, c.want)
		}
	}
}

func TestNoPoliciesDeniesEverything(t *testing.T) {
	e, _ := New(nil)
	if p := e.Grant(&sluice.Identity{Subject: "root", Groups: []string{"admin"}}, "orders", netip.MustParseAddr("127.0.0.1")); p != nil {
		t.Fatalf("granted by %s with no policies", p.Name)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	if _, err := New([]config.Policy{{Name: "x", Subjects: []string{"team:x"}, Connections: []string{"a"}}}); err == nil {
		t.Error("bad subject accepted")
	}
	if _, err := New([]config.Policy{{Name: "x", Subjects: []string{"*"}, Connections: []string{"a"}, Sources: []string{"nope"}}}); err == nil {
		t.Error("bad source accepted")
	}
}
