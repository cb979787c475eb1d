-- # guc.sql: settings change the session; SET, RESET and set_config are refused, reading is fine.
-- expect: refuse
SET work_mem = '7MB'

SET work_mem TO '7MB'

SET LOCAL work_mem = '7MB'

SET SESSION work_mem = 7000

SET search_path = sales, public

SET search_path TO DEFAULT

SET datestyle = 'ISO, YMD'

SET TIME ZONE 'America/New_York'

SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE

SET SCHEMA 'sales'

SET NAMES 'UTF8'

SET SEED TO 0.5

SET default_transaction_read_only TO off

SET default_transaction_read_only = false

SET transaction_read_only = off

SET statement_timeout = 0

SET lock_timeout = 0

SET idle_in_transaction_session_timeout = 0

SET session_replication_role TO replica

SET row_security = off

SET ROLE pgmcp_reader

SET LOCAL ROLE pgmcp_reader

SET SESSION AUTHORIZATION pgmcp_reader

SET my.custom = 'x'

SET "my"."custom" = 'x'

RESET ALL

RESET work_mem

RESET ROLE

RESET SESSION AUTHORIZATION

RESET TIME ZONE

SELECT set_config('work_mem', '7MB', false)

SELECT set_config('work_mem', '7MB', true)

SELECT set_config('default_transaction_read_only', 'off', false)

SELECT set_config('search_path', 'sales', false)

SELECT set_config(name, setting, false) FROM pg_settings WHERE name = 'work_mem'

SELECT * FROM set_config('a.b', 'c', false)

SELECT ('a.b'::text).set_config

SELECT pg_catalog.set_config('a.b', 'c', false)

SELECT "set_config"('a.b', 'c', false)

SELECT SET_CONFIG('a.b', 'c', false)

UPDATE pg_settings SET setting = '7MB' WHERE name = 'work_mem'

ALTER SYSTEM SET work_mem = '7MB'

ALTER DATABASE {db} SET work_mem = '7MB'

ALTER ROLE ALL SET work_mem = '7MB'

SELECT pg_reload_conf()

-- expect: allow
SHOW work_mem

SHOW ALL

SHOW search_path

SHOW TIME ZONE

SHOW TRANSACTION ISOLATION LEVEL

SHOW SESSION AUTHORIZATION

SELECT current_setting('work_mem')

SELECT current_setting('my.custom', true)

SELECT name, setting, source FROM pg_settings WHERE name LIKE '%timeout%'

SELECT * FROM pg_file_settings

SELECT * FROM pg_db_role_setting
