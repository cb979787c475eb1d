-- # sequence.sql: reading a sequence is fine, advancing or setting it is not.
-- expect: refuse
SELECT nextval('sales.orders_id_seq')

SELECT nextval('sales.orders_id_seq'::regclass), currval('sales.orders_id_seq')

SELECT setval('sales.orders_id_seq', 1)

SELECT setval('sales.orders_id_seq', 1, false)

SELECT setval('inventory.product_id_seq'::regclass, (SELECT max(id) FROM inventory.products))

SELECT nextval(pg_get_serial_sequence('sales.orders', 'id'))

SELECT id, nextval('inventory.product_id_seq') FROM inventory.products LIMIT 1

SELECT * FROM nextval('sales.orders_id_seq')

SELECT nextval(s.oid::regclass) FROM pg_class s WHERE s.relkind = 'S'

SELECT ('sales.orders_id_seq'::regclass).nextval

SELECT NEXTVAL('sales.orders_id_seq')

SELECT "nextval"('sales.orders_id_seq')

SELECT pg_catalog.nextval('sales.orders_id_seq')

ALTER SEQUENCE sales.orders_id_seq RESTART WITH 1000

ALTER SEQUENCE inventory.product_id_seq INCREMENT BY 10

CREATE SEQUENCE {tag}_s

DROP SEQUENCE inventory.product_id_seq

DISCARD SEQUENCES

-- expect: allow
SELECT last_value, log_cnt, is_called FROM sales.orders_id_seq

SELECT * FROM pg_sequences WHERE schemaname = 'inventory'

SELECT pg_get_serial_sequence('sales.orders', 'id')

SELECT seqincrement, seqmax FROM pg_sequence WHERE seqrelid = 'inventory.product_id_seq'::regclass

SELECT pg_sequence_last_value('inventory.product_id_seq')

-- expect: any
SELECT currval('sales.orders_id_seq')

SELECT lastval()
