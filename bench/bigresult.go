package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// bigRows is the size of the large result.
const bigRows = 100000

// makeBigTable creates a table of realistic rows: names, emails, addresses,
// free text, with a little PII and a few secrets.
func makeBigTable(ctx context.Context, t target) error {
	c, err := pgx.Connect(ctx, t.dsn())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, `drop table if exists bench_people;
		create table bench_people(id int primary key, name text, email text, address text, note text);
		insert into bench_people
		select g, 'Person ' || g, 'person' || g || '@example.com', g || ' Main Street, Springfield',
			case when g % 100 = 0 then 'called about card 4111 1111 1111 1111'
			     when g % 1000 = 7 then 'token ghp_' || repeat('a', 36)
			     else 'ordered item ' || (g % 97) || ' and asked about delivery times' end
		from generate_series(1, `+fmt.Sprint(bigRows)+`) g;
		analyze bench_people`)
	return err
}

// bigResults fetches the whole table from each target in turn, rounds
// times, and returns each target's median time. Taking turns spreads the
// machine's own variation over every target alike.
func bigResults(ctx context.Context, targets []target, rounds int) ([]time.Duration, error) {
	conns := make([]*pgx.Conn, len(targets))
	for i, t := range targets {
		c, err := pgx.Connect(ctx, t.dsn())
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", t.name, err)
		}
		defer c.Close(ctx)
		conns[i] = c
	}
	times := make([][]time.Duration, len(targets))
	for range rounds {
		for i, t := range targets {
			d, err := t.fetchAll(ctx, conns[i])
			if err != nil {
				return nil, err
			}
			times[i] = append(times[i], d)
		}
	}
	out := make([]time.Duration, len(targets))
	for i, ds := range times {
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
		out[i] = ds[len(ds)/2]
	}
	return out, nil
}

// fetchAll reads the whole table once.
func (t target) fetchAll(ctx context.Context, c *pgx.Conn) (time.Duration, error) {
	start := time.Now()
	rows, err := c.Query(ctx, "select id, name, email, address, note from bench_people", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n != bigRows {
		return 0, fmt.Errorf("%s: %d rows", t.name, n)
	}
	return time.Since(start), nil
}

func (t target) dsn() string {
	host, port, _ := strings.Cut(t.addr, ":")
	return fmt.Sprintf("host=%s port=%s user=%s password='%s' dbname=bench sslmode=disable", host, port, t.user, t.password)
}
