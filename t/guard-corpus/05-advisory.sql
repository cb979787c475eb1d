-- # advisory_lock.sql: session and transaction advisory locks in every form.
-- expect: refuse
SELECT pg_advisory_lock({K})

SELECT pg_advisory_lock(1, 2)

SELECT pg_advisory_lock_shared({K})

SELECT pg_advisory_xact_lock({K})

SELECT pg_advisory_xact_lock_shared(1, 2)

SELECT pg_try_advisory_lock({K})

SELECT pg_try_advisory_lock_shared(1, 2)

SELECT pg_try_advisory_xact_lock({K})

SELECT pg_try_advisory_xact_lock_shared({K})

SELECT pg_advisory_unlock({K})

SELECT pg_advisory_unlock_shared({K})

SELECT pg_advisory_unlock_all()

SELECT pg_advisory_lock(id) FROM sales.orders WHERE id < 3

SELECT count(pg_try_advisory_lock(id)) FROM sales.orders

SELECT oid, pg_advisory_lock(oid::bigint) FROM pg_class LIMIT 1

SELECT 1 FROM sales.orders WHERE pg_try_advisory_lock(id) LIMIT 1

SELECT * FROM sales.orders ORDER BY pg_try_advisory_lock(id) LIMIT 1

SELECT ({K}::bigint).pg_advisory_lock

SELECT x.pg_advisory_lock FROM (SELECT {K}::bigint) AS x(k)

SELECT g.pg_try_advisory_lock FROM generate_series({K}::bigint, {K}) AS g

SELECT pg_advisory_lock(key => {K})

SELECT pg_catalog.pg_advisory_lock({K})

SELECT "pg_advisory_lock"({K})

SELECT U&"\0070g_advisory_lock"({K})

SELECT U&"pg\005Fadvisory\005Flock"({K})

SELECT U&"!0070g_advisory_lock" UESCAPE '!'({K})

SELECT pg_advisory_lock/* hide */({K})

SELECT pg_advisory_lock
({K})

-- expect: allow
SELECT * FROM pg_locks WHERE locktype = 'advisory'

SELECT 'pg_advisory_lock(1)' AS looks_like_a_call

SELECT 1 AS pg_advisory_lock
