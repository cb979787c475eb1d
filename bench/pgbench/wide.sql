-- The wide result: 1,000 consecutive rows of pgbench_accounts (all four columns).
\set lo random(1, 100000 * :scale - 999)
SELECT aid, bid, abalance, filler FROM pgbench_accounts WHERE aid >= :lo ORDER BY aid LIMIT 1000;
