-- # create_table_as.sql, select_into.sql, vacuum.sql, cluster.sql and friends.
-- expect: refuse
SELECT * INTO {tag}_a FROM sales.orders

SELECT * INTO TEMP {tag}_b FROM sales.orders

SELECT * INTO TEMPORARY TABLE {tag}_c FROM sales.orders

SELECT * INTO UNLOGGED TABLE {tag}_d FROM sales.orders

SELECT id INTO {tag}_e FROM sales.orders UNION SELECT 1

CREATE TABLE {tag}_f AS SELECT 1 AS x

CREATE TEMP TABLE {tag}_g AS SELECT 1 AS x WITH NO DATA

CREATE TABLE {tag}_h AS TABLE sales.orders

CREATE TABLE {tag}_i AS VALUES (1)

CREATE MATERIALIZED VIEW {tag}_j AS SELECT 1 WITH NO DATA

CREATE TEMP TABLE {tag}_k (x int) ON COMMIT DROP

CREATE TEMP VIEW {tag}_l AS SELECT 1

CREATE TEMP SEQUENCE {tag}_m

CREATE TYPE {tag}_n AS ENUM ('a')

CREATE INDEX ON sales.orders (note)

DROP TABLE sales.order_items

DROP TABLE IF EXISTS {tag}_nope

TRUNCATE sales.order_items

TRUNCATE TABLE sales.orders RESTART IDENTITY CASCADE

ALTER TABLE sales.orders ADD COLUMN {tag} int

ALTER TABLE IF EXISTS sales.orders SET (fillfactor = 50)

ALTER TABLE sales.orders SET LOGGED

ALTER TABLE sales.orders CLUSTER ON orders_pkey

ALTER TABLE sales.orders ALTER COLUMN note SET STATISTICS 10

ALTER INDEX sales.orders_pkey SET (fillfactor = 50)

ALTER VIEW sales.order_summary RENAME TO {tag}_v

ALTER MATERIALIZED VIEW sales.monthly_revenue RENAME TO {tag}_mv

COMMENT ON TABLE sales.orders IS NULL

GRANT SELECT ON sales.orders TO PUBLIC

REVOKE ALL ON SCHEMA sales FROM PUBLIC

CREATE ROLE {tag}

ALTER USER pgmcp_reader WITH SUPERUSER

VACUUM sales.orders

VACUUM (FREEZE, VERBOSE) sales.orders

VACUUM ANALYZE

ANALYZE VERBOSE sales.orders

CLUSTER VERBOSE sales.orders USING orders_pkey

REINDEX (VERBOSE) TABLE sales.orders

REINDEX DATABASE {db}

REINDEX SYSTEM {db}

CHECKPOINT

REFRESH MATERIALIZED VIEW sales.monthly_revenue WITH NO DATA

LOAD 'auto_explain'

DISCARD ALL

DISCARD TEMP

DISCARD PLANS

CREATE EXTENSION lo

CREATE EXTENSION IF NOT EXISTS pageinspect

CREATE DATABASE {tag}

CREATE PUBLICATION {tag} FOR TABLE sales.orders

CREATE SUBSCRIPTION {tag} CONNECTION 'dbname={db}' PUBLICATION {tag} WITH (connect = false)

ALTER SUBSCRIPTION {tag} DISABLE

CREATE SERVER {tag} FOREIGN DATA WRAPPER postgres_fdw

CREATE USER MAPPING FOR CURRENT_USER SERVER {tag}

SECURITY LABEL FOR selinux ON TABLE sales.orders IS 'x'

CREATE EVENT TRIGGER {tag} ON ddl_command_start EXECUTE FUNCTION pg_catalog.now()

ALTER EVENT TRIGGER {tag} DISABLE

CREATE TABLESPACE {tag} LOCATION '/tmp'

IMPORT FOREIGN SCHEMA public FROM SERVER {tag} INTO public

INSERT INTO sales.orders DEFAULT VALUES

INSERT INTO sales.orders (customer_id, ordered_at) VALUES (1, now()) RETURNING *

UPDATE sales.orders SET note = note

DELETE FROM sales.order_items WHERE false

MERGE INTO sales.orders t USING sales.orders s ON t.id = s.id WHEN MATCHED THEN DO NOTHING

INSERT INTO sales.orders SELECT * FROM sales.orders WHERE false ON CONFLICT DO NOTHING
