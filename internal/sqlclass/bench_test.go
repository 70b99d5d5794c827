package sqlclass

import (
	"fmt"
	"testing"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// pgbench -S sends this with a different aid each time.
const benchSimple = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"

const benchComplex = `WITH recent AS (
    SELECT o.id, o.customer_id, o.total, o.created_at
    FROM orders o
    WHERE o.created_at > now() - interval '7 days' AND o.status = ANY ('{paid,shipped}')
), top_customers AS (
    SELECT r.customer_id, sum(r.total) AS spent, count(*) AS n
    FROM recent r
    GROUP BY r.customer_id
    HAVING sum(r.total) > 100
), enriched AS (
    SELECT c.id, lower(c.email) AS email, tc.spent, tc.n, coalesce(a.city, 'unknown') AS city
    FROM customers c
    JOIN top_customers tc ON tc.customer_id = c.id
    LEFT JOIN addresses a ON a.customer_id = c.id AND a.is_primary
)
SELECT e.*, rank() OVER (ORDER BY e.spent DESC) AS rnk,
       date_trunc('day', now()) AS day
FROM enriched e
WHERE e.email NOT LIKE '%@example.com'
ORDER BY e.spent DESC
LIMIT 50`

func BenchmarkClassify(b *testing.B) {
	b.Run("simple", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Classify(benchSimple)
		}
	})
	b.Run("complex", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Classify(benchComplex)
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := NewCache(0)
		c.Classify(benchSimple)
		b.ReportAllocs()
		for b.Loop() {
			c.Classify(benchSimple)
		}
	})
	b.Run("cached-complex", func(b *testing.B) {
		c := NewCache(0)
		c.Classify(benchComplex)
		b.ReportAllocs()
		for b.Loop() {
			c.Classify(benchComplex)
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		c := NewCache(0)
		c.Classify(benchSimple)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Classify(benchSimple)
			}
		})
	})
	// Simple protocol, a new constant every time (pgbench -S): the exact
	// text misses, the shape key hits.
	b.Run("cached-shape", func(b *testing.B) {
		benchVarying(b, "SELECT abalance FROM pgbench_accounts WHERE aid = %d;")
	})
	// The same with a comment, which the shape key gives up on: the
	// normalized form hits.
	b.Run("cached-normalized", func(b *testing.B) {
		benchVarying(b, "/* app */ SELECT abalance FROM pgbench_accounts WHERE aid = %d;")
	})
	// The classifier's own walk over an already parsed tree.
	for _, w := range []struct{ name, text string }{{"walk-simple", benchSimple}, {"walk-complex", benchComplex}} {
		b.Run(w.name, func(b *testing.B) {
			tree, err := pg.Parse(w.text)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var c classifier
				var st Statement
				c.statement(&st, tree.Stmts[0].Stmt)
			}
		})
	}
	// The shape key's scanner by itself.
	b.Run("shape-key", func(b *testing.B) {
		var buf [256]byte
		b.ReportAllocs()
		for b.Loop() {
			appendShapeKey(buf[:0], benchSimple)
		}
	})
	// What pg_query costs by itself.
	b.Run("pg_query-parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = pg.Parse(benchSimple)
		}
	})
	b.Run("pg_query-fingerprint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = pg.FingerprintToUInt64(benchSimple)
		}
	})
	b.Run("pg_query-normalize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = pg.Normalize(benchSimple)
		}
	})
}

// benchVarying classifies, through one cache, format filled in with a
// different number each time.
func benchVarying(b *testing.B, format string) {
	texts := make([]string, 4096)
	for i := range texts {
		texts[i] = fmt.Sprintf(format, 100000+i*7919)
	}
	c := NewCache(0)
	c.Classify(texts[0])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Classify(texts[i%len(texts)])
		i++
	}
}
