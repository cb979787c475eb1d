-- # plpgsql.sql / DO: anonymous code blocks are refused, whatever the body.
-- expect: refuse
DO $$ BEGIN NULL; END $$

DO $$ BEGIN RAISE NOTICE 'hello'; END $$

DO 'BEGIN PERFORM 1; END'

DO LANGUAGE plpgsql $body$ BEGIN DELETE FROM sales.order_items; END $body$

DO $$ BEGIN EXECUTE 'DROP TABLE sales.order_items'; END $$

DO $$ BEGIN EXECUTE format('SET %I = %L', 'work_mem', '7MB'); END $$

DO $$ DECLARE r record; BEGIN FOR r IN SELECT id FROM sales.orders LOOP PERFORM pg_advisory_lock(r.id); END LOOP; END $$

DO $$ BEGIN COMMIT; END $$

DO $$ BEGIN PERFORM pg_terminate_backend({S}); END $$

DO $$ BEGIN PERFORM dblink_exec('dbname={db}', 'DELETE FROM sales.order_items'); EXCEPTION WHEN OTHERS THEN NULL; END $$

DO $$ BEGIN CREATE TEMP TABLE {tag}_t(x int); END $$

DO $$ BEGIN LISTEN {ch}; END $$

DO LANGUAGE sql $$ SELECT 1 $$

do $$begin perform 1; end$$

CALL pg_catalog.pg_sleep(0)

CALL {tag}_proc()

CALL sales.nonexistent(1, 2)

CREATE PROCEDURE {tag}_p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$

CREATE FUNCTION {tag}_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$

CREATE OR REPLACE FUNCTION pg_temp.{tag}_tf() RETURNS int LANGUAGE sql AS 'SELECT 1'
