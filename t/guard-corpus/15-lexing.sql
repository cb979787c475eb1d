-- # Quoting, comments, escapes and case: the guard reads the statement as PostgreSQL does.
-- expect: allow
SELECT 1 /* ; DROP TABLE sales.orders */

SELECT 1 -- ; DROP TABLE sales.orders

SELECT 1 /* nested /* comment */ DELETE FROM sales.orders */

SELECT $$ ; DELETE FROM sales.orders; $$

SELECT $tag$ $$ ; COMMIT; $$ $tag$

SELECT E'\'; DROP TABLE sales.orders; --'

SELECT 'it''s; DROP TABLE sales.orders'

SELECT U&'\0064elete from sales.orders'

SELECT U&'!0064' UESCAPE '!'

SELECT B'1010', X'FF', N'national', e'\x41'

SELECT 'pg_terminate_backend(1)'::text

SELECT "pg_terminate_backend" FROM (SELECT 1 AS "pg_terminate_backend") s

SELECT 1 AS "DeleteStmt", 2 AS "FuncCall", 3 AS "lockingClause", 4 AS "intoClause"

SELECT '{"SelectStmt": {"lockingClause": 1}}'::jsonb

SELECT ';'

SELECT 1 ;

  SELECT 1  ;  

SELECT 1;;

SELECT/**/1

SELECT"id"FROM"sales"."orders"LIMIT 1

-- expect: refuse
SELECT 1; DELETE FROM sales.order_items

SELECT 1 /* */; /* */ DELETE FROM sales.order_items

SELECT $$x$$; DELETE FROM sales.order_items

SELECT 1 --
; DROP TABLE sales.orders

SELECT E'\\'; DELETE FROM sales.order_items; --'

SELECT 'a' 'b'; DELETE FROM sales.order_items

U&"\0064elete" FROM sales.order_items

DELETE FROM sales.U&"\006Frder_items"

DeLeTe FrOm sales.order_items

/* leading */ DELETE FROM sales.order_items

-- leading
DELETE FROM sales.order_items

(DELETE FROM sales.order_items)

SELECT 1 UNION ALL (DELETE FROM sales.order_items RETURNING 1)

SELECT * FROM (DELETE FROM sales.order_items RETURNING *) d

SELECT * FROM LATERAL (DELETE FROM sales.order_items RETURNING *) d

SELECT 1 WHERE 1 IN (DELETE FROM sales.order_items RETURNING 1)

VALUES ((DELETE FROM sales.order_items RETURNING 1))
