// Package e2e holds sluice's end-to-end tests. They build the real binary
// once, start `sluice serve` on port 0 against a real PostgreSQL server and
// drive it the way users do: the sluice CLI, psql, pgbench and pgx. The
// package has no non-test code; this file only documents it.
package e2e
