-- # Data-modifying WITH, in the shapes of with.sql: every one is refused, wherever it hides.
-- expect: refuse
WITH t AS (DELETE FROM sales.order_items WHERE order_id = 1 RETURNING *) SELECT * FROM t

WITH t AS (UPDATE sales.orders SET note = 'x' WHERE id = 1 RETURNING *) SELECT count(*) FROM t

WITH t AS (INSERT INTO sales.orders (customer_id, ordered_at) VALUES (1, now()) RETURNING id) SELECT id FROM t

WITH t AS (INSERT INTO hr.on_call SELECT * FROM hr.on_call RETURNING 1) SELECT 1

WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3), d AS (DELETE FROM sales.order_items WHERE order_id IN (SELECT n FROM t) RETURNING 1) SELECT * FROM t

WITH d AS (DELETE FROM sales.order_items RETURNING order_id) SELECT * FROM sales.orders WHERE id IN (SELECT order_id FROM d)

WITH d AS (DELETE FROM sales.order_items) SELECT 1

WITH u AS (UPDATE inventory.products SET price = 0 RETURNING id), v AS (SELECT count(*) FROM u) SELECT * FROM v

SELECT * FROM (WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT * FROM d) s

SELECT (WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT count(*) FROM d)

SELECT 1 WHERE EXISTS (WITH d AS (UPDATE sales.orders SET total = 0 RETURNING 1) SELECT 1 FROM d)

WITH a AS (WITH b AS (DELETE FROM sales.order_items RETURNING 1) SELECT * FROM b) SELECT * FROM a

WITH d AS NOT MATERIALIZED (DELETE FROM sales.order_items RETURNING 1) SELECT 1

WITH t AS (SELECT 1), d AS (INSERT INTO sales.orders (customer_id, ordered_at) SELECT 1, now() FROM t RETURNING 1) SELECT * FROM t

WITH d AS (DELETE FROM sales.order_items RETURNING *) INSERT INTO sales.order_items SELECT * FROM d

WITH d AS (DELETE FROM sales.order_items RETURNING *) TABLE d

WITH d AS (DELETE FROM sales.order_items RETURNING 1) VALUES (1)

EXPLAIN ANALYZE WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT * FROM d

EXPLAIN (ANALYZE, FORMAT JSON) WITH u AS (UPDATE sales.orders SET note = 'x' RETURNING 1) SELECT 1

WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT 1 UNION ALL SELECT 2

SELECT * FROM generate_series(1, 2) g, LATERAL (WITH d AS (DELETE FROM sales.order_items WHERE order_id = g RETURNING 1) SELECT count(*) FROM d) x

WITH t AS (SELECT * FROM sales.orders FOR UPDATE) SELECT count(*) FROM t

WITH d AS (SELECT pg_advisory_lock({K})) SELECT 1

WITH d AS (SELECT set_config('work_mem', '7MB', false)) SELECT * FROM d

WITH d AS (SELECT nextval('sales.orders_id_seq')) SELECT * FROM d

WITH x AS (SELECT 1 AS v) UPDATE sales.orders SET note = 'x' FROM x WHERE id = x.v

WITH x AS (SELECT 1 AS v) DELETE FROM sales.order_items USING x WHERE order_id = x.v

WITH x AS (SELECT 1 AS id) MERGE INTO sales.orders o USING x ON o.id = x.id WHEN MATCHED THEN UPDATE SET note = 'm'

-- expect: allow
WITH t AS (SELECT id FROM sales.orders) SELECT count(*) FROM t

WITH RECURSIVE tree(id, depth) AS (SELECT id, 0 FROM hr.employees WHERE manager_id IS NULL UNION ALL SELECT e.id, t.depth + 1 FROM hr.employees e JOIN tree t ON e.manager_id = t.id) SEARCH DEPTH FIRST BY id SET ord SELECT * FROM tree ORDER BY ord

WITH RECURSIVE g(n) AS (SELECT 1 UNION SELECT n % 3 + 1 FROM g) CYCLE n SET is_cycle USING path SELECT * FROM g

WITH a AS MATERIALIZED (SELECT 1 AS x), b AS NOT MATERIALIZED (SELECT x + 1 AS y FROM a) SELECT * FROM a, b

WITH "DeleteStmt" AS (SELECT 1 AS "lockingClause") SELECT * FROM "DeleteStmt"
