-- # largeobject.sql: every large-object function is refused.
-- expect: refuse
SELECT lo_create(0)

SELECT lo_creat(-1)

SELECT lo_from_bytea(0, 'hello')

SELECT lo_import('/etc/hostname')

SELECT lo_import('/etc/hostname', 424242)

SELECT lo_export(1, '{pwn}_lo')

SELECT lo_unlink(1)

SELECT lo_open(1, x'40000'::int)

SELECT lo_close(0)

SELECT loread(lo_open(1, 262144), 100)

SELECT lowrite(lo_open(1, 131072), 'x')

SELECT lo_lseek(0, 0, 0)

SELECT lo_tell(0)

SELECT lo_truncate(0, 0)

SELECT lo_get(1)

SELECT lo_get(1, 0, 10)

SELECT lo_put(1, 0, 'x')

SELECT lo_lseek64(0, 0, 0)

SELECT * FROM lo_import('/etc/hostname')

SELECT (1::oid).lo_unlink

SELECT pg_catalog.lo_from_bytea(0, '\x00')

SELECT "lo_create"(0)

-- expect: allow
SELECT * FROM pg_largeobject_metadata

SELECT count(*) FROM pg_largeobject
