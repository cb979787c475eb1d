-- # prepare.sql: prepared statements outlive the call and are refused.
-- expect: refuse
PREPARE q1 AS SELECT 1

PREPARE q2 (int) AS SELECT * FROM sales.orders WHERE id = $1

PREPARE q3 (text, int) AS UPDATE sales.orders SET note = $1 WHERE id = $2

PREPARE q4 AS DELETE FROM sales.order_items

EXECUTE q1

EXECUTE q2 (1)

EXECUTE q3 ('x', 1)

DEALLOCATE q1

DEALLOCATE PREPARE ALL

DEALLOCATE ALL

CREATE TABLE {tag}_x AS EXECUTE q1

PREPARE q5 AS SELECT pg_advisory_lock({K})

-- expect: allow
SELECT * FROM pg_prepared_statements
