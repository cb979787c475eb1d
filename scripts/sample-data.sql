-- Sample data for pgmcp's tests and `make demo`: a small online shop
-- (schemas sales, inventory, hr, public) plus a type zoo (types_demo).
--
-- Load into a FRESH database:  psql -v ON_ERROR_STOP=1 -q -f sample-data.sql
-- (creating the schemas fails if they exist; the roles pgmcp_reader and
-- pgmcp_writer are cluster-wide and are only created if missing, so loading
-- into a second database of the same cluster works). Everything is
-- deterministic (no random(), no now()); timestamps are UTC.
--
-- Exact row counts:
--   inventory.products        40   (35 in_stock; 4 with NULL description)
--   sales.customers           50   (customers 46..50 have no orders)
--   sales.orders             200   (pending 40, paid 20, shipped 40, delivered 80, cancelled 20;
--                                   note NULL in 150)
--   sales.order_items        500   (orders have 1..4 items, 50 orders each; sum(quantity) 1500)
--   hr.employees              12   (1 without manager)
--   hr.on_call                 6
--   public.audit_events      100   (audit_events_2024: 40, audit_events_2025: 60)
--   types_demo.all_types      12   1 ordinary values, 2 maximum values, 3 minimum values,
--                                  4 beyond 2^53 / 0.1, 5 NaN, 6 Infinity, 7 -Infinity,
--                                  8 text needing escapes, 9 arrays with NULL elements,
--                                  10 zero and empty values, 11 JSON scalars / BC dates /
--                                  negative interval, 12 NULL in every nullable column
--                                  (money prints per lc_monetary: '$1,234.56' under C.UTF-8)
--   sales.order_summary (view) 200 rows; sales.monthly_revenue (matview) 17 rows
--   sum(sales.orders.total) = 218985.00; sum(sales.monthly_revenue.revenue) = 209853.20
--   sales.customers.loyalty_tier: bronze 12, silver 13, gold 13, platinum 12

\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET TimeZone = 'UTC';

BEGIN;

-- Roles -----------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgmcp_reader') THEN
        CREATE ROLE pgmcp_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgmcp_writer') THEN
        CREATE ROLE pgmcp_writer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;
COMMENT ON ROLE pgmcp_reader IS 'pgmcp tests: read-only access to the sample schemas';
COMMENT ON ROLE pgmcp_writer IS 'pgmcp tests: read/write access to the sample schemas';

-- Schemas ---------------------------------------------------------------
CREATE SCHEMA inventory;
CREATE SCHEMA sales;
CREATE SCHEMA hr;
CREATE SCHEMA types_demo;
COMMENT ON SCHEMA inventory IS 'Products and stock';
COMMENT ON SCHEMA sales IS 'Customers, orders and order lines';
COMMENT ON SCHEMA hr IS 'Employees';
COMMENT ON SCHEMA types_demo IS 'One column per data type, for testing result encoding';

-- Types -----------------------------------------------------------------
CREATE TYPE sales.order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled');
CREATE TYPE sales.loyalty_tier AS ENUM ('bronze', 'silver', 'gold', 'platinum');
CREATE DOMAIN sales.email_address AS text
    CONSTRAINT email_address_check CHECK (VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+\.[a-z]+$');
COMMENT ON TYPE sales.order_status IS 'Lifecycle of an order';
COMMENT ON DOMAIN sales.email_address IS 'Text that looks like an e-mail address';

CREATE TYPE types_demo.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE types_demo.item_qty AS (name text, qty integer);
CREATE DOMAIN types_demo.positive_int AS integer CHECK (VALUE > 0);

-- hr ---------------------------------------------------------------------
CREATE TABLE hr.employees (
    id          integer PRIMARY KEY,
    name        text NOT NULL,
    title       text NOT NULL,
    manager_id  integer REFERENCES hr.employees (id),
    hired_on    date NOT NULL,
    salary      numeric(12,2) NOT NULL CHECK (salary > 0),
    photo       bytea,
    work_hours  int4range,
    ip          inet,
    CONSTRAINT employees_not_own_manager CHECK (manager_id <> id)
);
CREATE INDEX employees_manager_id_idx ON hr.employees (manager_id);
COMMENT ON TABLE hr.employees IS 'Staff; manager_id points at another employee';
COMMENT ON COLUMN hr.employees.photo IS 'Badge photo (just a PNG header here)';
COMMENT ON COLUMN hr.employees.work_hours IS 'Hours of the day normally worked, e.g. [9,17)';

INSERT INTO hr.employees (id, name, title, manager_id, hired_on, salary, photo, work_hours, ip) VALUES
    ( 1, 'Ada Park',        'CEO',                NULL, '2015-03-01', 250000.00, '\x89504e470d0a1a0a', '[8,18)',  '10.0.0.1'),
    ( 2, 'Bruno Silva',     'Head of Sales',         1, '2016-06-15', 160000.00, NULL,                 '[9,17)',  '10.0.0.2'),
    ( 3, 'Chen Wei',        'Head of Operations',    1, '2016-09-01', 155000.00, '\x89504e470d0a1a0a', '[9,17)',  '10.0.0.3'),
    ( 4, 'Dana Whitfield',  'Head of Engineering',   1, '2017-01-09', 170000.00, NULL,                 '[10,18)', '10.0.1.4'),
    ( 5, 'Élodie Martin',   'Account Manager',       2, '2018-04-03',  82000.00, NULL,                 '[9,17)',  '10.0.2.5'),
    ( 6, 'Farid Haddad',    'Account Manager',       2, '2019-02-18',  79500.50, NULL,                 '[9,17)',  '10.0.2.6'),
    ( 7, 'Gita Rao',        'Account Manager',       2, '2020-11-30',  76000.00, NULL,                 '[8,16)',  '10.0.2.7'),
    ( 8, 'Henrik Larsen',   'Warehouse Lead',        3, '2018-08-20',  68000.00, NULL,                 '[6,14)',  '10.0.3.8'),
    ( 9, 'Inès Moreau',     'Logistics Planner',     3, '2021-05-10',  64000.00, NULL,                 '[7,15)',  '2001:db8::9'),
    (10, 'Jamal Okafor',    'Software Engineer',     4, '2019-07-01', 120000.00, NULL,                 '[10,18)', '2001:db8::a'),
    (11, 'Kaito Sato',      'Software Engineer',     4, '2022-01-17', 112000.00, NULL,                 NULL,      NULL),
    (12, 'Lena Novak',      'Support Specialist',    2, '2023-10-02',  58000.00, NULL,                 '[12,20)', '10.0.2.12');

CREATE TABLE hr.on_call (
    employee_id integer NOT NULL REFERENCES hr.employees (id),
    during      tstzrange NOT NULL,
    CONSTRAINT on_call_no_overlap EXCLUDE USING gist (during WITH &&)
);
COMMENT ON TABLE hr.on_call IS 'On-call rota; at most one person on call at any time';
INSERT INTO hr.on_call (employee_id, during)
SELECT 8 + g % 4,
       tstzrange('2025-01-06 09:00+00'::timestamptz + (g * interval '7 days'),
                 '2025-01-06 09:00+00'::timestamptz + ((g + 1) * interval '7 days'))
FROM generate_series(0, 5) AS g;

-- inventory --------------------------------------------------------------
CREATE SEQUENCE inventory.product_id_seq;
CREATE TABLE inventory.products (
    id          integer PRIMARY KEY DEFAULT nextval('inventory.product_id_seq'),
    sku         text NOT NULL,
    name        text NOT NULL,
    description text,
    price       numeric(10,2) NOT NULL CHECK (price >= 0),
    weight_kg   real,
    tags        text[] NOT NULL DEFAULT '{}',
    attributes  jsonb NOT NULL DEFAULT '{}',
    in_stock    boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    CONSTRAINT products_sku_key UNIQUE (sku)
);
ALTER SEQUENCE inventory.product_id_seq OWNED BY inventory.products.id;
CREATE INDEX products_tags_idx ON inventory.products USING gin (tags);
CREATE INDEX products_attributes_idx ON inventory.products USING gin (attributes jsonb_path_ops);
CREATE INDEX products_lower_name_idx ON inventory.products (lower(name));
COMMENT ON TABLE inventory.products IS 'Everything the shop sells';
COMMENT ON COLUMN inventory.products.sku IS 'Stock keeping unit, unique';
COMMENT ON COLUMN inventory.products.price IS 'Current unit price in EUR';
COMMENT ON COLUMN inventory.products.attributes IS 'Free-form attributes (color, warranty, dimensions)';

INSERT INTO inventory.products (id, sku, name, description, price, weight_kg, tags, attributes, in_stock, created_at)
SELECT g,
       'SKU-' || lpad(g::text, 4, '0'),
       n.name,
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'The ' || n.name || ', a dependable ' || lower(n.kind) || '.' END,
       (g * 7.25 + 0.99)::numeric(10,2),
       (g * 0.25)::real,
       ARRAY[(ARRAY['hardware', 'tools', 'garden', 'kitchen'])[1 + g % 4], lower(n.size)],
       jsonb_build_object(
           'color', (ARRAY['red', 'green', 'blue', 'black', 'white'])[1 + g % 5],
           'warranty_years', 1 + g % 3,
           'dimensions_cm', jsonb_build_array(10 + g, 5 + g % 7, 2 + g % 3)),
       g % 7 <> 0,
       '2024-01-01 00:00:00+00'::timestamptz + g * interval '3 days 2 hours'
FROM generate_series(1, 40) AS g,
     LATERAL (SELECT (ARRAY['Widget', 'Gadget', 'Gizmo', 'Doohickey', 'Sprocket', 'Flange', 'Bracket', 'Valve'])[1 + (g - 1) % 8] AS kind,
                     (ARRAY['Mini', 'Standard', 'Pro', 'Max', 'Ultra'])[1 + (g - 1) / 8] AS size) AS k,
     LATERAL (SELECT k.kind || ' ' || k.size AS name, k.kind, k.size) AS n;
SELECT setval('inventory.product_id_seq', 40);

-- sales ------------------------------------------------------------------
CREATE TABLE sales.customers (
    id                  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email               sales.email_address NOT NULL,
    full_name           text NOT NULL,
    country             char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    signup_date         date NOT NULL,
    loyalty_tier        sales.loyalty_tier NOT NULL DEFAULT 'bronze',
    account_manager_id  integer REFERENCES hr.employees (id),
    metadata            json
);
CREATE UNIQUE INDEX customers_email_key ON sales.customers (lower(email));
CREATE INDEX customers_country_signup_idx ON sales.customers (country, signup_date);
COMMENT ON TABLE sales.customers IS 'People who buy things';
COMMENT ON COLUMN sales.customers.email IS 'Login e-mail, unique regardless of case';
COMMENT ON COLUMN sales.customers.country IS 'ISO 3166-1 alpha-2 country code';
COMMENT ON COLUMN sales.customers.account_manager_id IS 'Employee looking after this customer';

INSERT INTO sales.customers (id, email, full_name, country, signup_date, loyalty_tier, account_manager_id, metadata)
OVERRIDING SYSTEM VALUE
SELECT g,
       lower(translate(f.first || '.' || l.last, 'éçüí''', 'ecui')) || '@example.' || (ARRAY['com', 'org', 'net'])[1 + g % 3],
       f.first || ' ' || l.last,
       (ARRAY['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CA', 'AU', 'NL'])[1 + g % 10],
       date '2023-01-01' + g * 7,
       ((ARRAY['bronze', 'silver', 'gold', 'platinum'])[1 + g % 4])::sales.loyalty_tier,
       5 + g % 3,
       CASE WHEN g % 5 = 0 THEN NULL
            ELSE json_build_object('newsletter', g % 2 = 0, 'referrer', (ARRAY['search', 'friend', 'ads', 'social'])[1 + g % 4]) END
FROM generate_series(1, 50) AS g,
     LATERAL (SELECT (ARRAY['Alice', 'Bob', 'Chloé', 'David', 'Emma', 'François', 'Grace', 'Hiro', 'Isabel', 'Jürgen'])[1 + (g - 1) % 10] AS first) AS f,
     LATERAL (SELECT (ARRAY['Smith', 'García', 'Müller', 'Tanaka', 'O''Brien'])[1 + (g - 1) / 10] AS last) AS l;
ALTER TABLE sales.customers ALTER COLUMN id RESTART WITH 51;

CREATE TABLE sales.orders (
    id           bigserial PRIMARY KEY,
    customer_id  integer NOT NULL REFERENCES sales.customers (id),
    status       sales.order_status NOT NULL DEFAULT 'pending',
    ordered_at   timestamptz NOT NULL,
    total        numeric(12,2) NOT NULL DEFAULT 0,
    note         text
);
CREATE INDEX orders_customer_ordered_idx ON sales.orders (customer_id, ordered_at);
CREATE INDEX orders_pending_idx ON sales.orders (ordered_at) WHERE status = 'pending';
COMMENT ON TABLE sales.orders IS 'One row per checkout';
COMMENT ON COLUMN sales.orders.total IS 'Sum of the order''s line totals';
COMMENT ON COLUMN sales.orders.note IS 'Delivery note from the customer, usually NULL';

INSERT INTO sales.orders (id, customer_id, status, ordered_at, note)
SELECT g,
       1 + (g * 7) % 45,
       (ARRAY['cancelled', 'pending', 'pending', 'paid', 'shipped', 'shipped',
              'delivered', 'delivered', 'delivered', 'delivered'])[1 + g % 10]::sales.order_status,
       '2024-01-01 00:00:00+00'::timestamptz + g * interval '2 days 11 hours 23 minutes',
       CASE g % 4 WHEN 0 THEN (ARRAY['Leave at the door', 'Ring twice, please', 'Gift wrap: "Happy birthday!"', 'Call before delivery'])[1 + (g / 4) % 4] END
FROM generate_series(1, 200) AS g;
SELECT setval('sales.orders_id_seq', 200);

CREATE TABLE sales.order_items (
    order_id    bigint NOT NULL REFERENCES sales.orders (id) ON DELETE CASCADE,
    product_id  integer NOT NULL REFERENCES inventory.products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_price  numeric(10,2) NOT NULL CHECK (unit_price >= 0),
    line_total  numeric(12,2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX order_items_product_id_idx ON sales.order_items (product_id);
COMMENT ON TABLE sales.order_items IS 'Order lines; line_total is generated';
COMMENT ON COLUMN sales.order_items.unit_price IS 'Product price at the time of the order';

INSERT INTO sales.order_items (order_id, product_id, quantity, unit_price)
SELECT o, p.id, 1 + (o + k) % 5, p.price
FROM generate_series(1, 200) AS o
     CROSS JOIN LATERAL generate_series(0, o % 4) AS k
     JOIN inventory.products AS p ON p.id = 1 + (o * 3 + k * 11) % 40;

UPDATE sales.orders AS o SET total = s.total
FROM (SELECT order_id, sum(line_total) AS total FROM sales.order_items GROUP BY order_id) AS s
WHERE s.order_id = o.id;

CREATE VIEW sales.order_summary AS
SELECT o.id AS order_id, o.ordered_at, o.status,
       c.id AS customer_id, c.full_name AS customer_name, c.country,
       count(i.product_id) AS item_count, coalesce(sum(i.quantity), 0) AS units, o.total
FROM sales.orders AS o
     JOIN sales.customers AS c ON c.id = o.customer_id
     LEFT JOIN sales.order_items AS i ON i.order_id = o.id
GROUP BY o.id, c.id;
COMMENT ON VIEW sales.order_summary IS 'Orders with customer and item counts';

CREATE MATERIALIZED VIEW sales.monthly_revenue AS
SELECT date_trunc('month', ordered_at AT TIME ZONE 'UTC')::date AS month,
       count(*) AS orders, sum(total) AS revenue
FROM sales.orders
WHERE status <> 'cancelled'
GROUP BY 1;
CREATE UNIQUE INDEX monthly_revenue_month_idx ON sales.monthly_revenue (month);
COMMENT ON MATERIALIZED VIEW sales.monthly_revenue IS 'Revenue per calendar month (UTC), excluding cancelled orders';

-- public: partitioned audit log -------------------------------------------
CREATE TABLE public.audit_events (
    id          bigserial,
    created_at  timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    details     jsonb,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE public.audit_events_2024 PARTITION OF public.audit_events
    FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE TABLE public.audit_events_2025 PARTITION OF public.audit_events
    FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');
CREATE INDEX audit_events_actor_idx ON public.audit_events (actor, created_at);
COMMENT ON TABLE public.audit_events IS 'Audit trail, partitioned by year';
COMMENT ON COLUMN public.audit_events.actor IS 'Who did it, e.g. employee:3 or customer:17';

INSERT INTO public.audit_events (id, created_at, actor, action, details)
SELECT g + 1,
       '2024-01-01 00:00:00+00'::timestamptz + g * interval '8 days 1 hour',
       'employee:' || (1 + g % 12),
       (ARRAY['login', 'logout', 'product.update', 'order.update', 'customer.update'])[1 + g % 5],
       jsonb_build_object('ip', '10.0.0.' || (1 + g % 12), 'success', g % 9 <> 0)
FROM generate_series(0, 39) AS g
UNION ALL
SELECT 41 + g,
       '2025-01-01 00:00:00+00'::timestamptz + g * interval '5 days 30 minutes',
       'customer:' || (1 + g % 50),
       (ARRAY['login', 'logout', 'order.create', 'password.reset'])[1 + g % 4],
       CASE WHEN g % 6 = 0 THEN NULL ELSE jsonb_build_object('order_id', 1 + g * 3) END
FROM generate_series(0, 59) AS g;
SELECT setval('public.audit_events_id_seq', 100);

-- types_demo: one row per encoding case -------------------------------------
CREATE TABLE types_demo.all_types (
    id              integer PRIMARY KEY,
    label           text NOT NULL,
    c_smallint      smallint,
    c_integer       integer,
    c_bigint        bigint,
    c_real          real,
    c_double        double precision,
    c_numeric       numeric,
    c_numeric_10_2  numeric(10,2),
    c_boolean       boolean,
    c_text          text,
    c_varchar       varchar(20),
    c_char          char(5),
    c_json          json,
    c_jsonb         jsonb,
    c_int_array     integer[],
    c_bigint_array  bigint[],
    c_text_array    text[],
    c_int_2d        integer[][],
    c_bytea         bytea,
    c_date          date,
    c_time          time,
    c_timetz        timetz,
    c_timestamp     timestamp,
    c_timestamptz   timestamptz,
    c_interval      interval,
    c_uuid          uuid,
    c_inet          inet,
    c_cidr          cidr,
    c_macaddr       macaddr,
    c_money         money,
    c_enum          types_demo.mood,
    c_composite     types_demo.item_qty,
    c_int4range     int4range,
    c_tstzrange     tstzrange,
    c_point         point,
    c_xml           xml,
    c_domain        types_demo.positive_int,
    c_oid           oid
);
COMMENT ON TABLE types_demo.all_types IS 'One row per encoding case; label says which';
COMMENT ON COLUMN types_demo.all_types.label IS 'What this row tests';

INSERT INTO types_demo.all_types
    (id, label, c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_numeric_10_2,
     c_boolean, c_text, c_varchar, c_char, c_json, c_jsonb, c_int_array, c_text_array, c_int_2d,
     c_bytea, c_date, c_time, c_timetz, c_timestamp, c_timestamptz, c_interval, c_uuid, c_inet,
     c_cidr, c_macaddr, c_money, c_enum, c_composite, c_int4range, c_tstzrange, c_point, c_xml,
     c_domain, c_oid)
VALUES
    (1, 'ordinary values', 42, 123456, 1234567890123, 1.5, 1.5, 123.45, 19.99,
     true, 'hello', 'varchar', 'abc', '{"name": "pgmcp", "tags": ["a", "b"], "nested": {"n": [1, 2.5, null, true]}}',
     '{"name": "pgmcp", "tags": ["a", "b"], "nested": {"n": [1, 2.5, null, true]}}', '{1,2,3}', '{alpha,beta}', '{{1,2},{3,4}}',
     '\xdeadbeef', '2024-02-29', '13:45:30.123456', '13:45:30+05:30', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+00',
     '1 year 2 months 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.1.10/24',
     '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, 'happy', ROW('widget', 3), '[1,10)',
     '[2024-01-01 00:00+00,2024-12-31 23:59:59+00)', '(1.5,-2)', '<note><to>you</to></note>', 7, 1259);

INSERT INTO types_demo.all_types (id, label, c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_numeric_10_2,
                                  c_date, c_timestamp, c_timestamptz, c_money, c_int4range, c_inet, c_cidr, c_domain, c_oid)
VALUES
    (2, 'maximum values', 32767, 2147483647, 9223372036854775807, 3.4028235e38, 1.7976931348623157e308,
     12345678901234567890.123456789, 99999999.99, 'infinity', 'infinity', 'infinity', 92233720368547758.07,
     '(,5]', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::/32', 2147483647, 4294967295),
    (3, 'minimum values', -32768, -2147483648, -9223372036854775808, -1.5, '-0',
     -0.000000001, -99999999.99, '-infinity', '-infinity', '-infinity', -92233720368547758.08,
     '[0,)', '0.0.0.0', '0.0.0.0/0', 1, 0);

INSERT INTO types_demo.all_types (id, label, c_bigint, c_real, c_double, c_numeric, c_numeric_10_2, c_bigint_array)
VALUES
    (4, 'beyond 2^53 and inexact binary fractions', 9007199254740993, 0.1, 0.1, 0.1, 0.10, '{9007199254740993,-9223372036854775808}'),
    (5, 'NaN', NULL, 'NaN', 'NaN', 'NaN', NULL, NULL),
    (6, 'Infinity', NULL, 'Infinity', 'Infinity', 'Infinity', NULL, NULL),
    (7, '-Infinity', NULL, '-Infinity', '-Infinity', '-Infinity', NULL, NULL);

INSERT INTO types_demo.all_types (id, label, c_text, c_varchar, c_char, c_json, c_jsonb, c_text_array, c_composite, c_xml)
VALUES
    (8, 'text needing escapes',
     E'quote " apostrophe '' backslash \\ newline \n tab \t cr \r bell \x07 unit-sep \x1f del \x7f héllo ✓ 日本 😀',
     E'tab\there "q"', E'a\\b"c',
     E'{"s": "line1\\nline2 \\"quoted\\" \\\\ \\u00e9 😀", "a": [1, [2, [3]]]}',
     E'{"s": "line1\\nline2 \\"quoted\\" \\\\ \\u00e9 😀", "a": [1, [2, [3]]]}',
     ARRAY['plain', 'needs "quotes"', 'comma,here', 'back\slash', 'brace{}', ' spaces ', 'NULL', E'new\nline', 'héllo ✓ 日本 😀'],
     ROW('widget, "large"', 3), '<p>a &amp; b &lt; c</p>');

INSERT INTO types_demo.all_types (id, label, c_int_array, c_text_array, c_int_2d)
VALUES
    (9, 'arrays with NULL elements', '{1,NULL,3}', ARRAY['a', NULL, 'c', ''], '{{1,NULL},{NULL,4}}');

INSERT INTO types_demo.all_types (id, label, c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_boolean,
                                  c_text, c_varchar, c_char, c_json, c_jsonb, c_int_array, c_text_array, c_bytea,
                                  c_interval, c_money, c_composite, c_int4range, c_tstzrange)
VALUES
    (10, 'zero and empty values', 0, 0, 0, 0, 0, 0, false, '', '', '', '{}', '[]', '{}', '{}', '\x',
     '0 seconds', 0, ROW(NULL, NULL), 'empty', 'empty');

INSERT INTO types_demo.all_types (id, label, c_json, c_jsonb, c_date, c_timestamp, c_timestamptz, c_time, c_timetz, c_interval)
VALUES
    (11, 'JSON scalars, BC dates and negative intervals', '"just a string"', 'null',
     '0044-03-15 BC', '0044-03-15 12:00:00 BC', '0001-01-01 00:00:00+00', '24:00:00', '00:00:00-12',
     '-1 days -02:03:04.5');

INSERT INTO types_demo.all_types (id, label) VALUES (12, 'all NULL');

-- Privileges -----------------------------------------------------------------
GRANT USAGE ON SCHEMA public, sales, inventory, hr, types_demo TO pgmcp_reader, pgmcp_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA public, sales, inventory, hr, types_demo TO pgmcp_reader, pgmcp_writer;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, sales, inventory, hr, types_demo TO pgmcp_reader;
GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, sales, inventory, hr, types_demo TO pgmcp_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, sales, inventory, hr, types_demo TO pgmcp_writer;
GRANT CREATE ON SCHEMA public TO pgmcp_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, sales, inventory, hr, types_demo
    GRANT SELECT ON TABLES TO pgmcp_reader, pgmcp_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, sales, inventory, hr, types_demo
    GRANT INSERT, UPDATE, DELETE ON TABLES TO pgmcp_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, sales, inventory, hr, types_demo
    GRANT SELECT ON SEQUENCES TO pgmcp_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, sales, inventory, hr, types_demo
    GRANT USAGE, SELECT ON SEQUENCES TO pgmcp_writer;
-- Tables the writer creates in public are readable by the reader.
ALTER DEFAULT PRIVILEGES FOR ROLE pgmcp_writer IN SCHEMA public
    GRANT SELECT ON TABLES TO pgmcp_reader;

ANALYZE;

COMMIT;
