-- # Reads in the shapes of select.sql, join.sql, subselect.sql, aggregates.sql, union.sql.
-- expect: allow
SELECT * FROM sales.orders ORDER BY id LIMIT 5

SELECT id, note FROM sales.orders WHERE note IS NOT NULL ORDER BY id DESC NULLS LAST LIMIT 3

SELECT DISTINCT status FROM sales.orders ORDER BY 1

SELECT DISTINCT ON (customer_id) customer_id, id FROM sales.orders ORDER BY customer_id, id DESC

SELECT o.id, c.full_name FROM sales.orders o INNER JOIN sales.customers c ON c.id = o.customer_id WHERE o.id < 5

SELECT * FROM sales.orders o LEFT JOIN sales.order_items i ON i.order_id = o.id WHERE i.order_id IS NULL

SELECT * FROM sales.orders o RIGHT OUTER JOIN sales.customers c ON c.id = o.customer_id LIMIT 3

SELECT * FROM sales.orders o FULL JOIN sales.customers c USING (id) LIMIT 3

SELECT * FROM hr.employees e1 CROSS JOIN hr.employees e2 WHERE e1.id = 1 AND e2.id = 2

SELECT * FROM hr.employees NATURAL JOIN hr.on_call LIMIT 1

SELECT e.name, m.name AS manager FROM hr.employees e LEFT JOIN hr.employees m ON m.id = e.manager_id

SELECT * FROM (sales.orders o JOIN sales.customers c ON c.id = o.customer_id) AS j (a, b) LIMIT 1

SELECT count(*), sum(total), avg(total), min(ordered_at), max(ordered_at) FROM sales.orders

SELECT status, count(*) FROM sales.orders GROUP BY status HAVING count(*) > 1 ORDER BY 2 DESC

SELECT country, loyalty_tier, count(*) FROM sales.customers GROUP BY GROUPING SETS ((country), (loyalty_tier), ())

SELECT country, count(*) FROM sales.customers GROUP BY CUBE (country, loyalty_tier) LIMIT 10

SELECT string_agg(name, ', ' ORDER BY name) FROM hr.employees

SELECT array_agg(DISTINCT status ORDER BY status) FROM sales.orders

SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM sales.orders

SELECT mode() WITHIN GROUP (ORDER BY status) FROM sales.orders

SELECT count(*) FILTER (WHERE status = 'paid') AS paid, count(*) AS all_ FROM sales.orders

SELECT bool_and(total >= 0), bool_or(note IS NULL), every(id > 0) FROM sales.orders

SELECT json_agg(e ORDER BY e.id) FROM (SELECT id, name FROM hr.employees LIMIT 2) e

SELECT jsonb_object_agg(id, name) FROM hr.employees

SELECT id, rank() OVER w, dense_rank() OVER w, row_number() OVER w FROM sales.orders WINDOW w AS (PARTITION BY customer_id ORDER BY ordered_at) LIMIT 5

SELECT id, lag(total) OVER (ORDER BY id), lead(total, 2, 0) OVER (ORDER BY id) FROM sales.orders LIMIT 5

SELECT id, sum(total) OVER (ORDER BY id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM sales.orders LIMIT 3

SELECT id, first_value(id) OVER (PARTITION BY status ORDER BY id GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW) FROM sales.orders LIMIT 3

SELECT ntile(4) OVER (ORDER BY total), cume_dist() OVER (ORDER BY total) FROM sales.orders LIMIT 3

SELECT 1 AS a UNION SELECT 2 UNION ALL SELECT 2 ORDER BY 1

SELECT id FROM sales.orders INTERSECT SELECT order_id FROM sales.order_items ORDER BY 1 LIMIT 3

SELECT id FROM sales.orders EXCEPT ALL SELECT order_id FROM sales.order_items ORDER BY 1 LIMIT 3

(SELECT id FROM sales.orders ORDER BY id LIMIT 2) UNION ALL (SELECT id FROM sales.orders ORDER BY id DESC LIMIT 2)

SELECT * FROM sales.orders WHERE customer_id IN (SELECT id FROM sales.customers WHERE country = 'DE')

SELECT * FROM sales.orders o WHERE EXISTS (SELECT 1 FROM sales.order_items i WHERE i.order_id = o.id) LIMIT 3

SELECT * FROM sales.orders WHERE total > ALL (SELECT total FROM sales.orders WHERE id < 3) LIMIT 3

SELECT * FROM sales.orders WHERE (customer_id, status) = ANY (SELECT id, 'paid'::sales.order_status FROM sales.customers) LIMIT 3

SELECT (SELECT max(total) FROM sales.orders) - (SELECT min(total) FROM sales.orders)

SELECT c.id, x.n FROM sales.customers c, LATERAL (SELECT count(*) AS n FROM sales.orders o WHERE o.customer_id = c.id) x LIMIT 3

SELECT * FROM sales.customers c LEFT JOIN LATERAL (SELECT * FROM sales.orders o WHERE o.customer_id = c.id ORDER BY ordered_at DESC LIMIT 1) last ON true LIMIT 3

SELECT CASE WHEN total > 100 THEN 'big' WHEN total > 10 THEN 'medium' ELSE 'small' END, count(*) FROM sales.orders GROUP BY 1

SELECT coalesce(note, '(none)'), nullif(status, 'paid'), greatest(1, 2), least(3, 4) FROM sales.orders LIMIT 2

SELECT id FROM sales.orders ORDER BY id OFFSET 5 ROWS FETCH FIRST 3 ROWS ONLY

SELECT total FROM sales.orders ORDER BY total FETCH FIRST 1 ROWS WITH TIES

SELECT * FROM sales.orders TABLESAMPLE SYSTEM (50) REPEATABLE (7) LIMIT 3

TABLE hr.employees ORDER BY id LIMIT 2

VALUES (1, 'one'), (2, 'two') ORDER BY 1 DESC

SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v (n, s) WHERE n > 1

SELECT * FROM ONLY public.audit_events

SELECT tableoid::regclass, count(*) FROM public.audit_events GROUP BY 1

SELECT ctid, xmin, xmax, cmin, cmax, tableoid FROM sales.orders LIMIT 1

SELECT * FROM generate_series(1, 10, 3) AS g(n)

SELECT * FROM unnest(ARRAY[1, 2], ARRAY['a', 'b', 'c']) AS u(n, s)

SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY['x', 'y', 'z'])) WITH ORDINALITY AS r(a, b, o)

SELECT * FROM generate_subscripts(ARRAY[[1, 2], [3, 4]], 2)

SELECT tags[1], tags[2:3], array_length(tags, 1), cardinality(tags) FROM inventory.products LIMIT 3

SELECT * FROM inventory.products WHERE tags @> ARRAY['outdoor'] OR tags && ARRAY['x']

SELECT attributes -> 'color', attributes ->> 'size', attributes #> '{a,b}', attributes ? 'color' FROM inventory.products LIMIT 3

SELECT jsonb_path_query_array(attributes, '$.*') FROM inventory.products LIMIT 2

SELECT * FROM jsonb_each('{"a": 1, "b": [1, 2]}'::jsonb)

SELECT * FROM json_to_recordset('[{"a": 1, "b": "x"}]') AS r(a int, b text)

SELECT jsonb_set('{"a": 1}', '{b}', '2'), jsonb_strip_nulls('{"a": null}'), to_jsonb(ROW(1, 'x'))

SELECT row_to_json(o) FROM sales.orders o LIMIT 1

SELECT xmlelement(name order, xmlattributes(id AS id), note) FROM sales.orders LIMIT 1

SELECT xpath('/a/text()', '<a>x</a>'::xml), xmlserialize(content '<b/>'::xml AS text)

SELECT 'fat & rat'::tsquery, to_tsvector('english', 'The fat rats'), ts_rank(to_tsvector('x'), 'x'::tsquery)

SELECT during, lower(during), upper(during), during @> now() FROM hr.on_call LIMIT 2

SELECT int4range(1, 10) * int4range(5, 15), '[1,5)'::int4range -|- '[5,7)'::int4range

SELECT ip, host(ip), masklen(ip), ip << '10.0.0.0/8'::inet FROM hr.employees LIMIT 3

SELECT regexp_replace(name, '(\w+) (\w+)', '\2, \1'), substring(name FROM 1 FOR 3), position('a' IN name) FROM hr.employees LIMIT 2

SELECT format('%I.%I', 'sales', 'orders'), quote_literal('it''s'), quote_ident('Weird Name')

SELECT date_trunc('month', ordered_at), extract(dow FROM ordered_at), ordered_at AT TIME ZONE 'UTC' FROM sales.orders LIMIT 2

SELECT '2020-01-01'::date + interval '1 month', age(timestamp '2020-01-01', timestamp '2019-01-01'), make_interval(days => 3)

SELECT 7 / 2, 7 % 2, 7.0 / 2, 2 ^ 10, |/ 16, @ -5, 5 & 3, 5 | 3, 1 << 4

SELECT 'abc' ~ 'b', 'abc' ~* 'B', 'abc' LIKE 'a%', 'abc' SIMILAR TO '(a|x)%', 'abc' ILIKE 'A%'

SELECT row(1, 2) < row(1, 3), row(1, NULL) IS NULL, (1, 2) IS DISTINCT FROM (1, 3)

SELECT ARRAY(SELECT id FROM sales.orders ORDER BY id LIMIT 3), (ARRAY[[1, 2], [3, 4]])[2][1]

SELECT c_composite, (c_composite).name, (c_composite).qty FROM types_demo.all_types WHERE c_composite IS NOT NULL

SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid WHERE c.relname = 'orders' AND a.attnum > 0

SELECT * FROM information_schema.columns WHERE table_schema = 'sales' ORDER BY table_name, ordinal_position LIMIT 5

SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname LIKE 'pg_advisory%'

SELECT * FROM pg_stat_user_tables WHERE schemaname = 'sales'

SELECT * FROM pg_indexes WHERE schemaname = 'inventory'

SELECT * FROM pg_roles WHERE rolname LIKE 'pgmcp%'

SELECT * FROM pg_available_extensions WHERE name IN ('dblink', 'lo')

SELECT * FROM pg_timezone_names LIMIT 3

SELECT * FROM pg_stat_database WHERE datname = current_database()

SELECT * FROM pg_sequences

SELECT * FROM pg_views WHERE schemaname = 'sales'

SELECT * FROM pg_matviews

SELECT * FROM pg_policies

SELECT * FROM pg_statio_user_tables LIMIT 2

SELECT pg_get_functiondef('pg_catalog.now'::regproc)

SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'hr.employees'::regclass

SELECT pg_get_indexdef('sales.orders_pkey'::regclass), pg_get_triggerdef(oid) FROM pg_trigger LIMIT 1

SELECT pg_total_relation_size('sales.orders'), pg_indexes_size('sales.orders'), pg_database_size(current_database())

SELECT current_user, session_user, current_schema, current_schemas(true), current_database(), inet_server_port()

SELECT pg_has_role('pgmcp_reader', 'MEMBER'), has_schema_privilege('sales', 'USAGE'), has_column_privilege('sales.orders', 'note', 'SELECT')

SELECT txid_current_if_assigned(), pg_current_xact_id_if_assigned(), txid_visible_in_snapshot(1, txid_current_snapshot())

SELECT pg_snapshot_xmin(pg_current_snapshot()), pg_snapshot_xmax(pg_current_snapshot())

SELECT gen_random_uuid() IS NOT NULL, random() < 2, md5('x'), sha256('x'::bytea), encode('x'::bytea, 'base64')

SELECT pg_sleep(0.001), clock_timestamp() >= statement_timestamp()

SELECT pg_backend_pid() > 0, pg_postmaster_start_time() < now(), pg_conf_load_time() < now()

SELECT pg_is_in_recovery(), pg_current_wal_lsn() IS NOT NULL, pg_last_wal_receive_lsn()

SELECT * FROM pg_control_system()

SELECT * FROM pg_get_keywords() LIMIT 3

SELECT * FROM pg_show_all_settings() WHERE name = 'work_mem'

SELECT * FROM pg_options_to_table(ARRAY['fillfactor=70'])

SELECT pg_size_pretty(sum(pg_relation_size(oid))::bigint) FROM pg_class WHERE relnamespace = 'sales'::regnamespace

SELECT * FROM pg_partition_tree('public.audit_events')

SELECT pg_relation_filenode('sales.orders') IS NOT NULL, pg_relation_filepath('sales.orders') IS NOT NULL

SELECT pg_column_size(row(o.*)) FROM sales.orders o LIMIT 1

SELECT pg_typeof(c_numeric), pg_typeof(c_jsonb) FROM types_demo.all_types LIMIT 1

SELECT pg_get_viewdef('sales.order_summary', true)

SELECT table_to_xml('hr.on_call', true, false, '')

SELECT pg_notification_queue_usage(), pg_listening_channels()

SELECT * FROM pg_stat_get_activity(NULL) LIMIT 1

SELECT * FROM pg_lock_status() LIMIT 3

SELECT * FROM pg_prepared_statement() 

SELECT * FROM pg_cursor()

SELECT pg_sequence_last_value('sales.orders_id_seq'::regclass)

SELECT * FROM pg_sequence_parameters('inventory.product_id_seq'::regclass)

SELECT currval('sales.orders_id_seq')

SELECT lastval()

SELECT id FROM sales.orders FOR READ ONLY
