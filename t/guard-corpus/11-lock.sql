-- # lock.sql: explicit table locks and row locks are refused.
-- expect: refuse
LOCK sales.orders

LOCK TABLE sales.orders IN ACCESS SHARE MODE

LOCK TABLE sales.orders IN ROW SHARE MODE NOWAIT

LOCK TABLE ONLY sales.orders IN SHARE MODE

LOCK TABLE sales.orders, sales.customers IN ACCESS EXCLUSIVE MODE

LOCK TABLE public.audit_events * IN EXCLUSIVE MODE

LOCK sales.order_summary

SELECT * FROM sales.orders FOR UPDATE

SELECT * FROM sales.orders FOR NO KEY UPDATE NOWAIT

SELECT * FROM sales.orders FOR SHARE SKIP LOCKED

SELECT * FROM sales.orders FOR KEY SHARE

SELECT * FROM sales.orders o, sales.customers c WHERE c.id = o.customer_id FOR UPDATE OF o

SELECT * FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id FOR SHARE OF c NOWAIT FOR UPDATE OF o

SELECT id FROM (SELECT * FROM sales.orders FOR UPDATE) s

SELECT (SELECT id FROM sales.orders LIMIT 1 FOR UPDATE)

SELECT * FROM sales.order_summary FOR UPDATE

SELECT 1 FROM sales.orders WHERE id IN (SELECT id FROM sales.orders FOR KEY SHARE)

WITH l AS (SELECT id FROM sales.orders FOR UPDATE SKIP LOCKED) SELECT count(*) FROM l

SELECT * FROM sales.orders LIMIT 1 FOR UPDATE

-- expect: allow
SELECT * FROM pg_locks WHERE relation = 'sales.orders'::regclass
