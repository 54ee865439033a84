-- Statements meant to write, run code or read files while looking like reads: from public SQL-injection and
-- PostgreSQL privilege-escalation write-ups and the findings of issue 25. One entry per block, blocks separated by
-- a line `-- @@`. {canary} is replaced by a file path that must never exist. Read by differential-attack.test.ts.
-- @@
COPY (SELECT 1) TO PROGRAM 'touch {canary}'
-- @@
copy items to program 'touch {canary}'
-- @@
COPY (SELECT 1) TO PROGRAM $$touch {canary}$$
-- @@
COPY (SELECT 1) TO PROGRAM $q$touch {canary}$q$
-- @@
COPY (SELECT 1) TO PROGRAM E'touch {canary}'
-- @@
COPY (SELECT 1) TO PROGRAM U&'touch {canary}'
-- @@
/* read only */ COPY (SELECT 1) TO PROGRAM 'touch {canary}'
-- @@
COPY items(id) TO PROGRAM 'touch {canary}' WITH (FORMAT csv)
-- @@
COPY (SELECT * FROM items WHERE false) TO PROGRAM 'touch {canary}' (FORMAT binary)
-- @@
COPY items FROM PROGRAM 'touch {canary}'
-- @@
COPY items FROM PROGRAM 'echo 5,x,y' WITH (FORMAT csv)
-- @@
SELECT 1; COPY (SELECT 1) TO PROGRAM 'touch {canary}'
-- @@
COPY (SELECT 1) TO PROGRAM 'touch {canary}'; SELECT 1
-- @@
WITH x AS (SELECT 1) SELECT * FROM x; COPY (SELECT 1) TO PROGRAM 'touch {canary}'
-- @@
DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {canary}'''; END $$
-- @@
DO $$ BEGIN EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'touch {canary}'); END $$
-- @@
DO $$ BEGIN EXECUTE 'CO' || 'PY (SELECT 1) TO PROGRAM ''touch {canary}'''; END $$
-- @@
copy (select 1) to program 'sh -c "touch {canary}"'
-- @@
COPY items TO '/tmp/gatehouse-differential-copy-out'
-- @@
COPY items FROM '/etc/hostname'
-- @@
COPY (SELECT pg_read_file('/etc/passwd')) TO STDOUT
-- @@
COPY items TO STDOUT; DELETE FROM items
-- @@
CREATE TEMP TABLE cmd(o text); COPY cmd FROM PROGRAM 'id'
-- @@
COPY (SELECT 1) TO PROGRAM 'touch {canary}' WHERE true
-- @@
WITH d AS (DELETE FROM items RETURNING *) SELECT * FROM d
-- @@
WITH d AS (DELETE FROM items RETURNING id) SELECT count(*) FROM d
-- @@
WITH u AS (UPDATE items SET name = 'x' RETURNING 1) SELECT 1
-- @@
WITH i AS (INSERT INTO items VALUES (99, 'x', 'x@example.com') RETURNING 1) SELECT count(*) FROM i
-- @@
WITH a AS (SELECT 1), d AS (DELETE FROM items WHERE id = 1 RETURNING 1) SELECT * FROM a
-- @@
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3), d AS (DELETE FROM items RETURNING 1) SELECT * FROM r
-- @@
WITH d AS MATERIALIZED (DELETE FROM items RETURNING *) SELECT 1
-- @@
WITH d AS NOT MATERIALIZED (UPDATE items SET email = NULL RETURNING *) SELECT 1
-- @@
SELECT * FROM items; WITH d AS (DELETE FROM items RETURNING 1) SELECT 1
-- @@
WITH m AS (MERGE INTO items t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.id) SELECT * FROM m
-- @@
SELECT * INTO stolen FROM items
-- @@
SELECT 1 AS x INTO TEMP t_into
-- @@
SELECT * INTO UNLOGGED u_into FROM items
-- @@
SELECT id INTO TABLE t2_into FROM items
-- @@
CREATE TABLE ctas AS SELECT * FROM items
-- @@
CREATE TEMP TABLE ctas_tmp AS SELECT 1
-- @@
CREATE MATERIALIZED VIEW mv AS SELECT * FROM items
-- @@
SELECT * FROM items FOR UPDATE
-- @@
SELECT * FROM items FOR SHARE
-- @@
SELECT * FROM items FOR NO KEY UPDATE
-- @@
SELECT * FROM items FOR KEY SHARE
-- @@
SELECT * FROM items FOR UPDATE NOWAIT
-- @@
SELECT * FROM items FOR UPDATE SKIP LOCKED
-- @@
SELECT * FROM (SELECT * FROM items FOR UPDATE) s
-- @@
SELECT 1 FROM items FOR UPDATE OF items
-- @@
MERGE INTO items t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE
-- @@
MERGE INTO items t USING items s ON t.id = s.id WHEN MATCHED THEN DELETE
-- @@
MERGE INTO items t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = 'merged'
-- @@
MERGE INTO items t USING (SELECT 100 AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (100, 'm', 'm@example.com')
-- @@
MERGE INTO items t USING (SELECT 1 AS id) s ON true WHEN MATCHED THEN DO NOTHING WHEN NOT MATCHED THEN INSERT VALUES (101, 'n', 'n')
-- @@
merge into items using (values (1)) v(id) on items.id = v.id when matched then delete
-- @@
EXPLAIN ANALYZE DELETE FROM items
-- @@
EXPLAIN (ANALYZE) DELETE FROM items
-- @@
EXPLAIN (ANALYZE true) DELETE FROM items
-- @@
EXPLAIN (ANALYZE false, ANALYZE true) DELETE FROM items
-- @@
EXPLAIN (ANALYZE off, ANALYZE on) UPDATE items SET name = 'e'
-- @@
EXPLAIN (ANALYZE 0, ANALYZE 1) INSERT INTO items VALUES (102, 'e', 'e')
-- @@
EXPLAIN (ANALYZE no, ANALYZE yes) DELETE FROM items
-- @@
EXPLAIN (analyse) DELETE FROM items
-- @@
EXPLAIN (ANALYSE TRUE) DELETE FROM items
-- @@
EXPLAIN ANALYZE VERBOSE DELETE FROM items
-- @@
EXPLAIN (FORMAT JSON, ANALYZE) DELETE FROM items
-- @@
EXPLAIN (COSTS false, ANALYZE, BUFFERS) UPDATE items SET name = 'b'
-- @@
EXPLAIN ("analyze") DELETE FROM items
-- @@
EXPLAIN (ANALYZE 'on') DELETE FROM items
-- @@
EXPLAIN ANALYZE CREATE TABLE ea AS SELECT 1
-- @@
EXPLAIN ANALYZE SELECT * INTO ea2 FROM items
-- @@
EXPLAIN ANALYZE MERGE INTO items t USING items s ON t.id = s.id WHEN MATCHED THEN DELETE
-- @@
EXPLAIN ANALYZE WITH d AS (DELETE FROM items RETURNING 1) SELECT 1
-- @@
EXPLAIN ANALYZE SELECT lo_create(0)
-- @@
EXPLAIN ANALYZE SELECT * FROM items FOR UPDATE
-- @@
EXPLAIN (ANALYZE) SELECT pg_notify('gatehouse_diff', 'explain')
-- @@
EXPLAIN ANALYZE CREATE MATERIALIZED VIEW emv AS SELECT 1
-- @@
EXPLAIN (ANALYZE, GENERIC_PLAN false) DELETE FROM items
-- @@
TABLE items; DELETE FROM items
-- @@
VALUES (1); DELETE FROM items
-- @@
DELETE FROM items
-- @@
UPDATE items SET name = 'y'
-- @@
INSERT INTO items VALUES (103, 'i', 'i')
-- @@
TRUNCATE items
-- @@
TRUNCATE items CASCADE
-- @@
INSERT INTO items SELECT * FROM items ON CONFLICT DO NOTHING
-- @@
INSERT INTO items VALUES (1, 'c', 'c') ON CONFLICT (id) DO UPDATE SET name = 'upserted'
-- @@
SELECT lo_create(0)
-- @@
SELECT CASE WHEN true THEN lo_create(0) END
-- @@
SELECT * FROM items i, LATERAL (SELECT lo_create(0)) l
-- @@
SELECT * FROM lo_create(4243)
-- @@
SELECT coalesce(NULL, lo_create(4243))
-- @@
WITH c AS (SELECT lo_create(4243)) SELECT 1
-- @@
SELECT 1 WHERE lo_unlink(4242) IS NOT NULL
-- @@
VALUES (lo_unlink(4242))
-- @@
SELECT lo_unlink(4242)::text
-- @@
SELECT pg_catalog.lo_put(4242, 0, 'x')
-- @@
SELECT count(*) FROM (SELECT lo_put(4242, 0, 'x')) s
-- @@
SELECT ARRAY[lo_put(4242, 0, 'x')]
-- @@
SELECT (SELECT lo_from_bytea(0, 'x'))
-- @@
SELECT 1 FROM items ORDER BY lo_from_bytea(0, 'x') LIMIT 1
-- @@
SELECT max(x) FROM (SELECT lo_from_bytea(0, 'x') AS x) s
-- @@
SELECT CASE WHEN true THEN lo_import('/etc/hostname') END
-- @@
SELECT * FROM items i, LATERAL (SELECT lo_import('/etc/hostname')) l
-- @@
SELECT lo_import('/etc/hostname')
-- @@
SELECT coalesce(NULL, lo_export(4242, '/tmp/gatehouse-differential-lo'))
-- @@
WITH c AS (SELECT lo_export(4242, '/tmp/gatehouse-differential-lo')) SELECT 1
-- @@
SELECT * FROM lo_export(4242, '/tmp/gatehouse-differential-lo')
-- @@
VALUES (lo_truncate(lo_open(4242, 131072), 0))
-- @@
SELECT lo_truncate(lo_open(4242, 131072), 0)::text
-- @@
SELECT 1 WHERE lo_truncate(lo_open(4242, 131072), 0) IS NOT NULL
-- @@
SELECT count(*) FROM (SELECT lowrite(lo_open(4242, 131072), 'y')) s
-- @@
SELECT ARRAY[lowrite(lo_open(4242, 131072), 'y')]
-- @@
SELECT pg_catalog.lowrite(lo_open(4242, 131072), 'y')
-- @@
SELECT 1 FROM items ORDER BY pg_import_system_collations('pg_catalog') LIMIT 1
-- @@
SELECT max(x) FROM (SELECT pg_import_system_collations('pg_catalog') AS x) s
-- @@
SELECT (SELECT pg_import_system_collations('pg_catalog'))
-- @@
SELECT * FROM items i, LATERAL (SELECT pg_notify('gatehouse_diff', 'x')) l
-- @@
SELECT pg_notify('gatehouse_diff', 'x')
-- @@
SELECT CASE WHEN true THEN pg_notify('gatehouse_diff', 'x') END
-- @@
WITH c AS (SELECT pg_logical_emit_message(true, 'gh', 'x')) SELECT 1
-- @@
SELECT * FROM pg_logical_emit_message(true, 'gh', 'x')
-- @@
SELECT coalesce(NULL, pg_logical_emit_message(true, 'gh', 'x'))
-- @@
SELECT pg_advisory_lock(42)::text
-- @@
SELECT 1 WHERE pg_advisory_lock(42) IS NOT NULL
-- @@
VALUES (pg_advisory_lock(42))
-- @@
SELECT ARRAY[pg_try_advisory_lock(43)]
-- @@
SELECT pg_catalog.pg_try_advisory_lock(43)
-- @@
SELECT count(*) FROM (SELECT pg_try_advisory_lock(43)) s
-- @@
SELECT max(x) FROM (SELECT set_config('log_statement', 'none', false) AS x) s
-- @@
SELECT (SELECT set_config('log_statement', 'none', false))
-- @@
SELECT 1 FROM items ORDER BY set_config('log_statement', 'none', false) LIMIT 1
-- @@
SELECT set_config('client_encoding', 'SJIS', false)
-- @@
SELECT CASE WHEN true THEN set_config('client_encoding', 'SJIS', false) END
-- @@
SELECT * FROM items i, LATERAL (SELECT set_config('client_encoding', 'SJIS', false)) l
-- @@
SELECT * FROM set_config('default_transaction_read_only', 'off', false)
-- @@
SELECT coalesce(NULL, set_config('default_transaction_read_only', 'off', false))
-- @@
WITH c AS (SELECT set_config('default_transaction_read_only', 'off', false)) SELECT 1
-- @@
SELECT 1 WHERE set_config('role', 'postgres', false) IS NOT NULL
-- @@
VALUES (set_config('role', 'postgres', false))
-- @@
SELECT set_config('role', 'postgres', false)::text
-- @@
SELECT pg_catalog.set_config('standard_conforming_strings', 'off', false)
-- @@
SELECT count(*) FROM (SELECT set_config('standard_conforming_strings', 'off', false)) s
-- @@
SELECT ARRAY[set_config('standard_conforming_strings', 'off', false)]
-- @@
SELECT (SELECT set_config('search_path', 'evil', false))
-- @@
SELECT 1 FROM items ORDER BY set_config('search_path', 'evil', false) LIMIT 1
-- @@
SELECT max(x) FROM (SELECT set_config('search_path', 'evil', false) AS x) s
-- @@
SELECT CASE WHEN true THEN nextval('seq') END
-- @@
SELECT * FROM items i, LATERAL (SELECT nextval('seq')) l
-- @@
SELECT nextval('seq')
-- @@
SELECT coalesce(NULL, setval('seq', 1000))
-- @@
WITH c AS (SELECT setval('seq', 1000)) SELECT 1
-- @@
SELECT * FROM setval('seq', 1000)
-- @@
VALUES (pg_reload_conf())
-- @@
SELECT pg_reload_conf()::text
-- @@
SELECT 1 WHERE pg_reload_conf() IS NOT NULL
-- @@
SELECT count(*) FROM (SELECT pg_rotate_logfile()) s
-- @@
SELECT ARRAY[pg_rotate_logfile()]
-- @@
SELECT pg_catalog.pg_rotate_logfile()
-- @@
SELECT 1 FROM items ORDER BY pg_read_file('/etc/hostname') LIMIT 1
-- @@
SELECT max(x) FROM (SELECT pg_read_file('/etc/hostname') AS x) s
-- @@
SELECT (SELECT pg_read_file('/etc/hostname'))
-- @@
SELECT * FROM items i, LATERAL (SELECT pg_read_binary_file('/etc/hostname')) l
-- @@
SELECT pg_read_binary_file('/etc/hostname')
-- @@
SELECT CASE WHEN true THEN pg_read_binary_file('/etc/hostname') END
-- @@
WITH c AS (SELECT pg_ls_dir('.')) SELECT 1
-- @@
SELECT * FROM pg_ls_dir('.')
-- @@
SELECT coalesce(NULL, pg_ls_dir('.'))
-- @@
SELECT pg_stat_file('postgresql.conf')::text
-- @@
SELECT 1 WHERE pg_stat_file('postgresql.conf') IS NOT NULL
-- @@
VALUES (pg_stat_file('postgresql.conf'))
-- @@
SELECT ARRAY[pg_stat_reset()]
-- @@
SELECT pg_catalog.pg_stat_reset()
-- @@
SELECT count(*) FROM (SELECT pg_stat_reset()) s
-- @@
SELECT max(x) FROM (SELECT pg_stat_reset_shared('bgwriter') AS x) s
-- @@
SELECT (SELECT pg_stat_reset_shared('bgwriter'))
-- @@
SELECT 1 FROM items ORDER BY pg_stat_reset_shared('bgwriter') LIMIT 1
-- @@
SELECT pg_create_restore_point('gh')
-- @@
SELECT CASE WHEN true THEN pg_create_restore_point('gh') END
-- @@
SELECT * FROM items i, LATERAL (SELECT pg_create_restore_point('gh')) l
-- @@
SELECT * FROM pg_log_backend_memory_contexts(pg_backend_pid())
-- @@
SELECT coalesce(NULL, pg_log_backend_memory_contexts(pg_backend_pid()))
-- @@
WITH c AS (SELECT pg_log_backend_memory_contexts(pg_backend_pid())) SELECT 1
-- @@
SELECT 1 WHERE pg_create_logical_replication_slot('gh_slot', 'pgoutput') IS NOT NULL
-- @@
VALUES (pg_create_logical_replication_slot('gh_slot', 'pgoutput'))
-- @@
SELECT pg_create_logical_replication_slot('gh_slot', 'pgoutput')::text
-- @@
SELECT pg_catalog.pg_replication_origin_create('gh_origin')
-- @@
SELECT count(*) FROM (SELECT pg_replication_origin_create('gh_origin')) s
-- @@
SELECT ARRAY[pg_replication_origin_create('gh_origin')]
-- @@
SELECT (SELECT query_to_xml('DELETE FROM items RETURNING 1', true, true, ''))
-- @@
SELECT 1 FROM items ORDER BY query_to_xml('DELETE FROM items RETURNING 1', true, true, '') LIMIT 1
-- @@
SELECT max(x) FROM (SELECT query_to_xml('DELETE FROM items RETURNING 1', true, true, '') AS x) s
-- @@
SELECT CASE WHEN true THEN query_to_xml('SELECT lo_create(0)', true, true, '') END
-- @@
SELECT * FROM items i, LATERAL (SELECT query_to_xml('SELECT lo_create(0)', true, true, '')) l
-- @@
SELECT query_to_xml('SELECT lo_create(0)', true, true, '')
-- @@
SELECT coalesce(NULL, query_to_xmlschema('SELECT pg_read_file(''/etc/hostname'')', true, true, ''))
-- @@
WITH c AS (SELECT query_to_xmlschema('SELECT pg_read_file(''/etc/hostname'')', true, true, '')) SELECT 1
-- @@
SELECT * FROM query_to_xmlschema('SELECT pg_read_file(''/etc/hostname'')', true, true, '')
-- @@
VALUES (query_to_xml_and_xmlschema('UPDATE items SET name = ''q'' RETURNING 1', true, true, ''))
-- @@
SELECT query_to_xml_and_xmlschema('UPDATE items SET name = ''q'' RETURNING 1', true, true, '')::text
-- @@
SELECT 1 WHERE query_to_xml_and_xmlschema('UPDATE items SET name = ''q'' RETURNING 1', true, true, '') IS NOT NULL
-- @@
SELECT count(*) FROM (SELECT ts_rewrite('a & b'::tsquery, 'SELECT ''a''::tsquery, to_tsquery(pg_read_file(''/etc/hostname''))')) s
-- @@
SELECT ARRAY[ts_rewrite('a & b'::tsquery, 'SELECT ''a''::tsquery, to_tsquery(pg_read_file(''/etc/hostname''))')]
-- @@
SELECT pg_catalog.ts_rewrite('a & b'::tsquery, 'SELECT ''a''::tsquery, to_tsquery(pg_read_file(''/etc/hostname''))')
-- @@
SELECT 1 FROM items ORDER BY ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, (lo_create(0)::text)::tsquery') LIMIT 1
-- @@
SELECT max(x) FROM (SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, (lo_create(0)::text)::tsquery') AS x) s
-- @@
SELECT (SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, (lo_create(0)::text)::tsquery'))
-- @@
SELECT * FROM items i, LATERAL (SELECT ts_stat('SELECT to_tsvector(pg_read_file(''/etc/hostname''))')) l
-- @@
SELECT ts_stat('SELECT to_tsvector(pg_read_file(''/etc/hostname''))')
-- @@
SELECT CASE WHEN true THEN ts_stat('SELECT to_tsvector(pg_read_file(''/etc/hostname''))') END
-- @@
WITH c AS (SELECT ts_stat('SELECT to_tsvector(lo_create(0)::text)')) SELECT 1
-- @@
SELECT * FROM ts_stat('SELECT to_tsvector(lo_create(0)::text)')
-- @@
SELECT coalesce(NULL, ts_stat('SELECT to_tsvector(lo_create(0)::text)'))
-- @@
SELECT dblink_exec('dbname=postgres', 'DELETE FROM items')::text
-- @@
SELECT 1 WHERE dblink_exec('dbname=postgres', 'DELETE FROM items') IS NOT NULL
-- @@
VALUES (dblink_exec('dbname=postgres', 'DELETE FROM items'))
-- @@
SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)
-- @@
SELECT max(x) FROM (SELECT pg_terminate_backend(12345678) AS x) s
-- @@
SELECT (SELECT pg_terminate_backend(12345678))
-- @@
SELECT 1 FROM items ORDER BY pg_terminate_backend(12345678) LIMIT 1
-- @@
SELECT pg_cancel_backend(12345678)
-- @@
SELECT CASE WHEN true THEN pg_cancel_backend(12345678) END
-- @@
SELECT * FROM items i, LATERAL (SELECT pg_cancel_backend(12345678)) l
-- @@
SELECT * FROM txid_current()
-- @@
SELECT coalesce(NULL, txid_current())
-- @@
WITH c AS (SELECT txid_current()) SELECT 1
-- @@
SELECT 1 WHERE pg_current_xact_id() IS NOT NULL
-- @@
VALUES (pg_current_xact_id())
-- @@
SELECT pg_current_xact_id()::text
-- @@
SELECT pg_catalog.make_items_row()
-- @@
SELECT count(*) FROM (SELECT make_items_row()) s
-- @@
SELECT ARRAY[make_items_row()]
-- @@
SELECT (SELECT bump_counter())
-- @@
SELECT 1 FROM items ORDER BY bump_counter() LIMIT 1
-- @@
SELECT max(x) FROM (SELECT bump_counter() AS x) s
-- @@
SELECT "lo_create"(0)
-- @@
SELECT LO_CREATE(0)
-- @@
SELECT pg_catalog."lo_unlink"(4242)
-- @@
SELECT U&"lo_create"(0)
-- @@
SELECT U&"\006co_create"(0)
-- @@
SELECT "pg_catalog"."pg_read_file"('/etc/hostname')
-- @@
SELECT lo_unlink(oid) FROM pg_largeobject_metadata
-- @@
SELECT * FROM pg_file_settings
-- @@
SELECT * FROM pg_hba_file_rules
-- @@
SELECT * FROM pg_ident_file_mappings
-- @@
SELECT pg_catalog.pg_advisory_xact_lock(1)
-- @@
SELECT * FROM ROWS FROM (lo_create(0))
-- @@
SELECT * FROM generate_series(1, 2) g, lo_create(g + 5000)
-- @@
SELECT xmlelement(name x, query_to_xml('DELETE FROM items RETURNING 1', true, true, ''))
-- @@
SELECT cursor_to_xml('c', 1, true, true, '')
-- @@
SELECT database_to_xml(true, true, '')
-- @@
SET log_statement = 'none'
-- @@
SET log_statement TO none
-- @@
SET SESSION log_statement = 'none'
-- @@
SET LOCAL log_statement = 'none'
-- @@
SET client_encoding = 'SJIS'
-- @@
SET client_encoding TO 'BIG5'
-- @@
SET NAMES 'SJIS'
-- @@
SET NAMES 'GBK'
-- @@
RESET client_encoding
-- @@
SET client_encoding = DEFAULT
-- @@
SET standard_conforming_strings = off
-- @@
SET standard_conforming_strings TO false
-- @@
RESET ALL
-- @@
DISCARD ALL
-- @@
SET default_transaction_read_only = off
-- @@
SET default_transaction_read_only TO DEFAULT
-- @@
RESET default_transaction_read_only
-- @@
SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE
-- @@
SET transaction_read_only = off
-- @@
SET TRANSACTION READ WRITE
-- @@
BEGIN READ WRITE; INSERT INTO items VALUES (104, 'b', 'b'); COMMIT
-- @@
START TRANSACTION READ WRITE; DELETE FROM items; COMMIT
-- @@
BEGIN; SET TRANSACTION READ WRITE; DELETE FROM items; COMMIT
-- @@
SET ROLE postgres
-- @@
SET ROLE NONE
-- @@
RESET ROLE
-- @@
SET SESSION AUTHORIZATION postgres
-- @@
SET SESSION AUTHORIZATION DEFAULT
-- @@
SET search_path = evil, public
-- @@
SET search_path TO pg_temp, public
-- @@
SET allow_system_table_mods = on
-- @@
SET zero_damaged_pages = on
-- @@
SET log_min_messages = panic
-- @@
SET log_min_duration_statement = -1
-- @@
SET session_preload_libraries = 'auto_explain'
-- @@
LOAD 'auto_explain'
-- @@
SET temp_tablespaces = 'pg_global'
-- @@
ALTER SYSTEM SET log_statement = 'none'
-- @@
ALTER SYSTEM RESET ALL
-- @@
ALTER ROLE postgres SET log_statement = 'none'
-- @@
ALTER DATABASE postgres SET default_transaction_read_only = off
-- @@
ALTER USER postgres WITH PASSWORD 'owned'
-- @@
SET check_function_bodies = off
-- @@
SET row_security = off
-- @@
SET session_replication_role = replica
-- @@
SET xmloption = content; SELECT 1
-- @@
SET LOCAL client_encoding = 'SJIS'
-- @@
SET bytea_output = 'escape'; SELECT lo_create(0)
-- @@
DO $$ BEGIN DELETE FROM items; END $$
-- @@
DO $x$ BEGIN UPDATE items SET name = 'do'; END $x$
-- @@
DO LANGUAGE plpgsql $$ BEGIN EXECUTE 'DEL' || 'ETE FROM items'; END $$
-- @@
DO $$ BEGIN PERFORM lo_create(0); END $$
-- @@
DO $$ BEGIN PERFORM set_config('log_statement', 'none', false); END $$
-- @@
DO $$ DECLARE r record; BEGIN FOR r IN SELECT 1 LOOP INSERT INTO items VALUES (105, 'l', 'l'); END LOOP; END $$
-- @@
DO $$ BEGIN RAISE NOTICE '%', (SELECT count(*) FROM items); END $$
-- @@
DO $$ BEGIN EXECUTE 'SET client_encoding = ''SJIS'''; END $$
-- @@
DO E'BEGIN DELETE FROM items; END'
-- @@
DO 'BEGIN DELETE FROM items; END'
-- @@
CREATE FUNCTION f_owned() RETURNS int LANGUAGE sql AS 'DELETE FROM items RETURNING 1'
-- @@
CREATE OR REPLACE FUNCTION public.lower(text) RETURNS text LANGUAGE sql AS 'SELECT $1'
-- @@
CREATE FUNCTION f_def() RETURNS int SECURITY DEFINER LANGUAGE sql AS 'SELECT 1'
-- @@
CREATE PROCEDURE p_owned() LANGUAGE sql AS 'DELETE FROM items'
-- @@
CALL p_exists()
-- @@
CREATE TRIGGER t_owned BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()
-- @@
CREATE RULE r_owned AS ON SELECT TO items DO INSTEAD SELECT * FROM items
-- @@
CREATE VIEW v_owned AS SELECT lo_create(0)
-- @@
CREATE TABLE owned(x int)
-- @@
CREATE TEMP TABLE owned_tmp(x int)
-- @@
CREATE SCHEMA evil
-- @@
CREATE ROLE evil SUPERUSER LOGIN
-- @@
GRANT ALL ON items TO PUBLIC
-- @@
REVOKE SELECT ON items FROM PUBLIC
-- @@
ALTER TABLE items OWNER TO postgres
-- @@
ALTER TABLE items DISABLE ROW LEVEL SECURITY
-- @@
CREATE EXTENSION IF NOT EXISTS dblink
-- @@
CREATE EXTENSION pageinspect
-- @@
CREATE POLICY p ON items USING (true)
-- @@
CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION suppress_redundant_updates_trigger()
-- @@
CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw
-- @@
CREATE PUBLICATION pub FOR ALL TABLES
-- @@
COMMENT ON TABLE items IS 'owned'
-- @@
ALTER LARGE OBJECT 4242 OWNER TO postgres
-- @@
GRANT SELECT ON LARGE OBJECT 4242 TO PUBLIC
-- @@
CREATE COLLATION c_owned (locale = 'C')
-- @@
CREATE SEQUENCE s_owned
-- @@
ALTER SEQUENCE seq RESTART WITH 500
-- @@
DROP TABLE items
-- @@
DROP SEQUENCE seq
-- @@
CREATE INDEX i_owned ON items(name)
-- @@
REINDEX TABLE items
-- @@
CLUSTER items USING items_pkey
-- @@
VACUUM items
-- @@
ANALYZE items
-- @@
VACUUM FULL items
-- @@
CHECKPOINT
-- @@
LOCK TABLE items IN ACCESS EXCLUSIVE MODE
-- @@
REFRESH MATERIALIZED VIEW mv_exists
-- @@
SECURITY LABEL ON TABLE items IS 'x'
-- @@
IMPORT FOREIGN SCHEMA public FROM SERVER s INTO public
-- @@
PREPARE TRANSACTION 'gh'
-- @@
COMMIT PREPARED 'gh'
-- @@
CREATE TABLESPACE t LOCATION '/tmp'
-- @@
CREATE DATABASE owned
-- @@
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC
-- @@
NOTIFY gatehouse_diff
-- @@
NOTIFY gatehouse_diff, 'payload'
-- @@
LISTEN gatehouse_diff; NOTIFY gatehouse_diff, 'x'
-- @@
SELECT 1 /* ; DELETE FROM items */
-- @@
SELECT 1 -- comment
; DELETE FROM items
-- @@
SELECT $$;$$; DELETE FROM items
-- @@
SELECT $a$ $$ $a$; DELETE FROM items
-- @@
SELECT 1 /* /* */ ; DELETE FROM items; -- */
-- @@
SELECT 1 /* nested /* */ */; DELETE FROM items
-- @@
SELECT E'\''; DELETE FROM items; --'
-- @@
SELECT 'a'';DELETE FROM items;--'
-- @@
SELECT 'a\'; DELETE FROM items; --'
-- @@
SELECT U&'\0027'; DELETE FROM items
-- @@
SELECT 1;DELETE FROM items
-- @@
select/**/1;delete/**/from/**/items
-- @@
SeLeCt 1; DeLeTe FrOm items
-- @@
SELECT $tag$ ' $tag$; UPDATE items SET name = 'dq'
-- @@
SELECT $_$x$_$; DELETE FROM items
-- @@
SELECT 1 	;
	DELETE FROM items
-- @@
SELECT '\x27'; DELETE FROM items
-- @@
SELECT "items".* FROM "items"; DELETE FROM "items"
-- @@
SELECT 1 -- \
; DELETE FROM items
-- @@
/**/DELETE/**/FROM/**/items
-- @@
(SELECT 1); DELETE FROM items
-- @@
SELECT B'1'; DELETE FROM items
-- @@
SELECT X'27'; DELETE FROM items
-- @@
SELECT 1 AS ";DELETE FROM items;"
-- @@
SELECT 1; DELETE FROM items
-- @@
SELECT 1; COMMIT; DELETE FROM items
-- @@
BEGIN; SELECT 1; DELETE FROM items; COMMIT
-- @@
SELECT 1; SET ROLE postgres; DELETE FROM items
-- @@
SELECT 1; SELECT lo_create(0)
-- @@
COMMIT; BEGIN; DELETE FROM items; COMMIT
-- @@
ROLLBACK; DELETE FROM items
-- @@
SAVEPOINT s; DELETE FROM items; RELEASE s
-- @@
PREPARE p_del AS DELETE FROM items
-- @@
PREPARE p_sel AS SELECT 1; EXECUTE p_sel
-- @@
PREPARE p_lo(oid) AS SELECT lo_unlink($1); EXECUTE p_lo(4242)
-- @@
PREPARE p_sel2 AS SELECT 1; DEALLOCATE p_sel2; PREPARE p_sel2 AS DELETE FROM items; EXECUTE p_sel2
-- @@
EXECUTE p_del
-- @@
DEALLOCATE ALL; PREPARE p_x AS DELETE FROM items; EXECUTE p_x
-- @@
DECLARE c CURSOR FOR SELECT lo_create(0); FETCH c
-- @@
BEGIN; DECLARE c2 CURSOR FOR SELECT * FROM items FOR UPDATE; FETCH c2; COMMIT
-- @@
DECLARE c3 CURSOR WITH HOLD FOR SELECT lo_unlink(4242)
-- @@
BEGIN; DECLARE c4 CURSOR FOR SELECT pg_notify('gatehouse_diff', 'cursor'); FETCH ALL c4; COMMIT
-- @@
SELECT 1; VACUUM items
-- @@
SELECT 1; CHECKPOINT
-- @@
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fingerprint'
-- @@
SELECT pg_catalog.pg_terminate_backend(pid, 0) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
