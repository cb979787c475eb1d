-- # explain.sql: plans are fine; ANALYZE runs the statement, so only reads may be analysed.
-- expect: allow
EXPLAIN SELECT * FROM sales.orders

EXPLAIN (COSTS OFF) SELECT * FROM sales.orders WHERE id = 1

EXPLAIN (VERBOSE, COSTS OFF, FORMAT YAML) SELECT * FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id

EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM sales.orders

EXPLAIN (ANALYZE, FORMAT XML) SELECT 1

EXPLAIN (SETTINGS) SELECT 1

-- # Through the query tool even a plain EXPLAIN of a write is refused (the explain tool plans
-- # writes without running them).
-- expect: refuse
EXPLAIN DELETE FROM sales.order_items

EXPLAIN UPDATE sales.orders SET note = 'x'

EXPLAIN INSERT INTO sales.orders (customer_id, ordered_at) VALUES (1, now())

EXPLAIN MERGE INTO sales.orders o USING (SELECT 1 AS id) s ON o.id = s.id WHEN MATCHED THEN DELETE

EXPLAIN (VERBOSE) WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT * FROM d

EXPLAIN SELECT * FROM sales.orders FOR UPDATE

-- expect: refuse
EXPLAIN ANALYZE DELETE FROM sales.order_items

EXPLAIN ANALYZE UPDATE sales.orders SET note = 'x'

EXPLAIN (ANALYZE) INSERT INTO sales.orders (customer_id, ordered_at) VALUES (1, now())

EXPLAIN (ANALYZE TRUE, COSTS FALSE) MERGE INTO sales.orders o USING (SELECT 1 AS id) s ON o.id = s.id WHEN MATCHED THEN DELETE

EXPLAIN (ANALYZE, WAL) DELETE FROM sales.order_items WHERE false

EXPLAIN ANALYZE CREATE TABLE {tag}_e AS SELECT 1

EXPLAIN ANALYZE CREATE MATERIALIZED VIEW {tag}_mv AS SELECT 1

EXPLAIN ANALYZE SELECT 1 INTO {tag}_into

EXPLAIN ANALYZE EXECUTE {tag}_plan

EXPLAIN ANALYZE DECLARE c CURSOR FOR SELECT 1

EXPLAIN ANALYZE SELECT * FROM sales.orders FOR UPDATE

EXPLAIN ANALYZE SELECT pg_advisory_lock({K})

EXPLAIN (ANALYZE) SELECT nextval('sales.orders_id_seq')

EXPLAIN ANALYZE WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT * FROM d

EXPLAIN ANALYZE VERBOSE UPDATE sales.orders SET note = 'y' WHERE id = 1

EXPLAIN (ANALYZE, ANALYZE FALSE, ANALYZE) DELETE FROM sales.order_items
