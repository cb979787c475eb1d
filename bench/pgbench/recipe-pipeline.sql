-- pgmcp's per-call recipe around the point query, sent as one pipeline (one round trip).
-- Needs -M extended or -M prepared (pipelines are not available in simple mode).
\set aid random(1, 100000 * :scale)
\startpipeline
BEGIN READ ONLY;
SET LOCAL statement_timeout = '30s';
SET LOCAL lock_timeout = '5s';
SET LOCAL idle_in_transaction_session_timeout = '60s';
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
ROLLBACK;
\endpipeline
