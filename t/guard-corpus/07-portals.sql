-- # portals.sql: cursors, in every form, are refused (they outlive the call).
-- expect: refuse
DECLARE foo1 CURSOR FOR SELECT * FROM sales.orders

DECLARE foo2 SCROLL CURSOR FOR SELECT * FROM sales.orders

DECLARE foo3 NO SCROLL CURSOR FOR SELECT 1

DECLARE foo4 CURSOR WITH HOLD FOR SELECT * FROM sales.orders ORDER BY id

DECLARE foo5 BINARY CURSOR FOR SELECT 1

DECLARE foo6 INSENSITIVE CURSOR FOR SELECT 1

DECLARE foo7 ASENSITIVE CURSOR WITHOUT HOLD FOR SELECT 1

DECLARE foo8 CURSOR FOR SELECT * FROM sales.orders FOR UPDATE

FETCH 1 IN foo1

FETCH BACKWARD 2 FROM foo2

FETCH FORWARD ALL FROM foo2

FETCH PRIOR foo2

FETCH RELATIVE -1 FROM foo2

FETCH LAST FROM foo2

MOVE ABSOLUTE 3 IN foo2

MOVE BACKWARD ALL FROM foo2

CLOSE foo1

CLOSE ALL

SELECT cursor_to_xml('foo1', 1, false, false, '')

SELECT cursor_to_xmlschema('foo1', false, false, '')

-- expect: allow
SELECT * FROM pg_cursors
