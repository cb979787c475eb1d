-- # Functions that run SQL text or open connections: the guard never sees that SQL.
-- expect: refuse
SELECT query_to_xml('DELETE FROM sales.order_items RETURNING 1', true, true, '')

SELECT query_to_xml('SELECT pg_advisory_lock({K})', false, false, '')

SELECT query_to_xmlschema('SELECT 1', true, true, '')

SELECT query_to_xml_and_xmlschema('SELECT 1', true, true, '')

SELECT database_to_xml(true, true, '')

SELECT database_to_xmlschema(true, true, '')

SELECT * FROM ts_stat('DELETE FROM sales.order_items RETURNING to_tsvector(''x'')')

SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', ''x'') FROM pg_advisory_lock({K})', 'ab')

SELECT ts_rewrite('a'::tsquery, 'DELETE FROM sales.order_items RETURNING ''a''::tsquery, ''b''::tsquery')

SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery FROM pg_advisory_lock({K})')

SELECT dblink('dbname={db}', 'DELETE FROM sales.order_items')

SELECT * FROM dblink('dbname={db}', 'SELECT 1') AS t(x int)

SELECT dblink_exec('dbname={db}', 'DROP TABLE sales.order_items')

SELECT dblink_connect('{tag}', 'dbname={db}')

SELECT dblink_connect_u('dbname={db}')

SELECT dblink_send_query('{tag}', 'DELETE FROM sales.order_items')

SELECT dblink_disconnect()

-- expect: allow
SELECT table_to_xml('sales.orders', true, false, '')

SELECT table_to_xmlschema('sales.orders', true, false, '')

SELECT schema_to_xmlschema('hr', true, false, '')

SELECT to_tsvector('simple', 'DELETE FROM sales.order_items')

SELECT 'DELETE FROM sales.order_items'::tsquery
