-- The point query: one primary-key lookup on pgbench_accounts (the floor, run with -M simple).
\set aid random(1, 100000 * :scale)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
