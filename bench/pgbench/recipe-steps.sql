-- pgmcp's per-call recipe around the point query, one statement per round trip (6 round trips).
\set aid random(1, 100000 * :scale)
BEGIN READ ONLY;
SET LOCAL statement_timeout = '30s';
SET LOCAL lock_timeout = '5s';
SET LOCAL idle_in_transaction_session_timeout = '60s';
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
ROLLBACK;
