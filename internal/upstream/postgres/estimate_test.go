package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/testkit"
	pgup "github.com/sluicehq/sluice/internal/upstream/postgres"
)

func TestMain(m *testing.M) { testkit.RunMain(m) }

func TestEstimateNeverRuns(t *testing.T) {
	pg := testkit.Shared(t)
	ctx := context.Background()
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	c, err := pg.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "create table t(id int primary key); insert into t select generate_series(1, 1000); analyze t; grant all on t to public"); err != nil {
		t.Fatal(err)
	}
	r := pg.SCRAMUser()
	ts := pgup.Targets{"app": {Host: pg.Host(), Port: uint16(pg.Port()), Database: db, User: r.Name, Password: r.Password,
		SSLMode: "disable", ConnectTimeout: 5 * time.Second}}
	p := func(s string) *string { return &s }
	cases := []struct {
		text   string
		params []*string
		min    int64
		max    int64
	}{
		{"delete from t", nil, 900, 1100},
		{"delete from t where id <= 100", nil, 50, 200},
		{"update t set id = id where id > $1", []*string{p("500")}, 300, 700},
	}
	for _, tc := range cases {
		n, err := ts.Estimate(ctx, &sluice.Request{Connection: "app", Text: tc.text, Params: tc.params})
		if err != nil || n < tc.min || n > tc.max {
			t.Errorf("Estimate(%q) = %d, %v; want %d..%d", tc.text, n, err, tc.min, tc.max)
		}
	}
	for _, bad := range []string{"delete from t; drop table t", "drop table t", "do $$ begin delete from t; end $$"} {
		if n, err := ts.Estimate(ctx, &sluice.Request{Connection: "app", Text: bad}); err == nil {
			t.Errorf("Estimate(%q) = %d, want an error", bad, n)
		}
	}
	var count int
	if err := c.QueryRow(ctx, "select count(*) from t").Scan(&count); err != nil || count != 1000 {
		t.Fatalf("estimating changed the table: %d rows, %v", count, err)
	}
}

func TestCatalogTableName(t *testing.T) {
	pg := testkit.Shared(t)
	ctx := context.Background()
	db := testkit.UniqueName(t)
	if err := pg.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	c, err := pg.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var oid uint32
	if _, err := c.Exec(ctx, "create schema crm; create table crm.people(email text)"); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, "select 'crm.people'::regclass::oid").Scan(&oid); err != nil {
		t.Fatal(err)
	}
	r := pg.SCRAMUser()
	cat := pgup.NewCatalog(pgup.Targets{"app": {Host: pg.Host(), Port: uint16(pg.Port()), Database: db, User: r.Name,
		Password: r.Password, SSLMode: "disable", ConnectTimeout: 5 * time.Second}}, time.Minute)
	defer cat.Close()
	for range 2 { // the second answer comes from the cache
		name, err := cat.TableName(ctx, "app", oid)
		if err != nil || name != "crm.people" {
			t.Fatalf("TableName = %q, %v", name, err)
		}
	}
	if name, err := cat.TableName(ctx, "app", 0); err != nil || name != "" {
		t.Fatalf("oid 0: %q %v", name, err)
	}
	if name, err := cat.TableName(ctx, "app", 4294967000); err != nil || name != "" {
		t.Fatalf("unknown oid: %q %v", name, err)
	}
}
